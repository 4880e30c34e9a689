"""Real-component tests need real tools: skip politely on a laptop, fail loudly in CI.

Under CI=true a missing tool is a failure (CI installs everything; a skip there would
hide a broken install step). Elsewhere the test is skipped with how to get the tool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must install it", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_tool(name: str, package: str) -> str:
    """The path of executable `name`, from Debian package `package`."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not found on PATH (Debian package {package!r})")
    return path


def wait_for(
    pred: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll `pred` until it returns something truthy (and return that), or fail at `timeout`.

    End-to-end tests wait on real servers with deadlines, never with fixed sleeps.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(interval)


REPO = Path(__file__).resolve().parents[1]


def repo_file(*parts: str) -> str:
    """A file shipped in the repository (test data, example scenarios), by repo-relative parts.

    Tests never read outside the checkout: big benchmark inputs (full traces) are the
    bench scripts' business, passed to them as a path.
    """
    path = REPO.joinpath(*parts)
    assert path.is_file(), f"{path.relative_to(REPO)} is missing from the checkout"
    return str(path)


# The checkout's own commands, run with this interpreter: a `clues` found on PATH may belong
# to another install (a system-wide one, another worktree) and test other code.
COMMANDS = {"clues": "clues_py.cli", "cluesd": "clues_py.daemon.service"}


def command(name: str) -> list[str]:
    """argv of the checkout's `clues` or `cluesd` (tests/conftest.py puts it on PYTHONPATH)."""
    return [sys.executable, "-m", COMMANDS[name]]


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM a server the test started, then SIGKILL if it does not go in time."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
