"""Fixtures for every test. Nothing is faked here.

Each test gets its own per-user runtime folder (XDG_RUNTIME_DIR), so a `clues demo` the
developer has running never answers a test's `clues` command, and a demo a test runs
never leaks its address into the developer's shell.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_runtime_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    folder = tmp_path_factory.mktemp("xdg-runtime")
    folder.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder
