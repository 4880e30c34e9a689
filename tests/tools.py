"""Real-component tests need real tools: skip politely on a laptop, fail loudly in CI.

Under CI=true a missing tool is a failure (CI installs everything; a skip there would
hide a broken install step). Elsewhere the test is skipped with how to get the tool.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must install it", pytrace=False)
    pytest.skip(message)


def require_tool(name: str, package: str) -> str:
    """The path of executable `name`, from Debian package `package`."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not found on PATH (Debian package {package!r})")
    return path
