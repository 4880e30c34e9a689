"""kubectl against the sandbox's workload controllers: scale, rollout status/history/undo, columns.

kubectl v1.32 runs as a subprocess against a real-mode sandbox; every command must
succeed with an empty stderr, as against a real cluster.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.sandbox_controllers.conftest import Cluster
from tests.tools import require_tool

pytestmark = [pytest.mark.e2e]

Kubectl = Callable[..., str]

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: nginx:1
"""


@pytest.fixture
def kubectl(cluster: Cluster, tmp_path: Path) -> Kubectl:
    exe = require_tool("kubectl", "kubectl (preinstalled on the development image)")
    kubeconfig = cluster.sb.write_kubeconfig(tmp_path / "kc")
    cluster.sb.add_node("n1", cpu="8", memory="16Gi")

    def run(*args: str, ok: bool = True) -> str:
        cmd = [exe, "--kubeconfig", kubeconfig, "--cache-dir", str(tmp_path / "cache"), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
        if ok:
            assert proc.returncode == 0 and proc.stderr == "", f"{args}: {proc.stderr}"
            return proc.stdout
        return proc.stdout + proc.stderr

    return run


def test_rollout_status_history_undo_and_scale(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT)
    assert kubectl("apply", "-f", str(manifest)) == "deployment.apps/web created\n"
    out = kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert out.endswith('deployment "web" successfully rolled out\n')
    assert kubectl("scale", "deployment/web", "--replicas=4") == "deployment.apps/web scaled\n"
    kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    header, row = kubectl("get", "deployment", "web").splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row.split()[:4] == ["web", "4/4", "4", "4"]

    kubectl("set", "image", "deployment/web", "c=nginx:2")
    kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    history = kubectl("rollout", "history", "deployment/web")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    assert kubectl("rollout", "undo", "deployment/web") == "deployment.apps/web rolled back\n"
    kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    image = kubectl(
        "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    )
    assert image == "nginx:1"
    revision = kubectl(
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
    )
    assert revision == "3"
    # The rollback reused revision 1's ReplicaSet: two ReplicaSets, the new one with all pods.
    rs = kubectl("get", "rs", "-l", "app=web", "--no-headers").splitlines()
    assert sorted(line.split()[1] for line in rs) == ["0", "4"]

    kubectl("rollout", "pause", "deployment/web")
    kubectl("set", "image", "deployment/web", "c=nginx:3")
    assert len(kubectl("get", "rs", "-l", "app=web", "--no-headers").splitlines()) == 2
    kubectl("rollout", "resume", "deployment/web")
    kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert len(kubectl("get", "rs", "-l", "app=web", "--no-headers").splitlines()) == 3
    restarted = kubectl("rollout", "restart", "deployment/web")
    assert restarted == "deployment.apps/web restarted\n"
    kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    # Foreground: kubectl returns once the ReplicaSets and their pods are gone too.
    out = kubectl("delete", "deployment", "web", "--cascade=foreground")
    assert out == 'deployment.apps "web" deleted\n'
    assert kubectl("get", "rs,pods", "-l", "app=web", "-o", "name") == ""
