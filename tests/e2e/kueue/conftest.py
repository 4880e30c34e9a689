"""Fixtures for Kueue and ProvisioningRequest tests over HTTP.

Nothing is faked: a real-mode sandbox (API server on 127.0.0.1, scheduler, kubelets, the
mini-Kueue) with an `oscar-svc` namespace, kubectl v1.32 as a subprocess and the official
`kubernetes` client. The manifests in `manifests/` are ours, written after OSCAR's
`pkg/handlers/job.go` and `pkg/utils/kueue.go` and Kueue's provisioning example.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clues_py.sandbox import Sandbox
from tests.kueue_objects import OSCAR_NS
from tests.tools import require_tool

MANIFESTS = Path(__file__).parent / "manifests"
Kubectl = Callable[..., str]


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The sandbox; `indirect` parametrisation with False runs it without Kueue installed."""
    kueue = getattr(request, "param", True)
    sb = Sandbox(port=0, pod_start_seconds=0.05, kill_seconds=0.05, kueue=kueue).start()
    sb.ensure_namespace(OSCAR_NS)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def kubectl(sandbox: Sandbox, tmp_path: Path) -> Kubectl:
    exe = require_tool("kubectl", "kubectl (preinstalled on the development image)")
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kubeconfig")

    def run(*args: str, stdin: str | None = None) -> str:
        cmd = [exe, "--kubeconfig", kubeconfig, "--cache-dir", str(tmp_path / "cache"), *args]
        proc = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=90, check=False
        )
        assert proc.returncode == 0 and proc.stderr == "", f"kubectl {args}: {proc.stderr}"
        return proc.stdout

    return run


def manifest(name: str, **values: str) -> str:
    """A manifest of `manifests/` with its upper-case placeholders filled in."""
    text = (MANIFESTS / name).read_text()
    for key, value in values.items():
        text = text.replace(key, value)
    return text
