"""The kubectl battery's cluster: one real-mode sandbox per kubectl binary, nothing faked.

`clues sandbox --nodes 3x4x8Gi`'s layout (a tainted control-plane node and node-1..3) with
every controller running on the wall clock; kubectl runs as a subprocess through a kubeconfig.
The binaries are the machine's kubectl and the packaged current one (`tests.tools`).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clues_py.sandbox import Sandbox
from clues_py.sandbox.standalone import build
from tests.tools import kubectl_binaries, kubectl_for


@dataclass
class Kubectl:
    label: str  # the test id of this kubectl, e.g. kubectl-v1.32
    exe: str
    kubeconfig: str
    cache: Path

    def run(self, argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [self.exe, "--kubeconfig", self.kubeconfig, "--cache-dir", str(self.cache), *argv]
        return subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=150, check=False
        )


@pytest.fixture(
    scope="module", params=kubectl_binaries(), ids=[label for label, _ in kubectl_binaries()]
)
def kubectl(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kubectl]:
    exe = kubectl_for(request.param)
    tmp = tmp_path_factory.mktemp("battery")
    sb = Sandbox(pod_start_seconds=0.2, kill_seconds=0.2).start()
    try:
        build(sb, ["3x4x8Gi"])
        kubeconfig = sb.write_kubeconfig(tmp / "kubeconfig")
        yield Kubectl(request.param[0], exe, kubeconfig, tmp / "cache")
    finally:
        sb.stop()
