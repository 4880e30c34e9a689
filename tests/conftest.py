"""Fixtures for every test. Nothing is faked here.

Subprocesses (`python -m clues_py...`) import this checkout's code first: its root is put at
the head of PYTHONPATH for the session, whatever else is installed. Each test gets its own per-user runtime folder (XDG_RUNTIME_DIR), so a `clues demo` the
developer has running never answers a test's `clues` command, and a demo a test runs
never leaks its address into the developer's shell.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    rest = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), *([rest] if rest else [])])


@pytest.fixture(autouse=True)
def private_runtime_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    folder = tmp_path_factory.mktemp("xdg-runtime")
    folder.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder
