"""kubectl against the sandbox API server: get, apply, label, cordon, delete, drain.

Runs with every kubectl the suite knows (the machine's v1.32 and the packaged current one),
each against its own API server. Every command must succeed without warnings on stderr, as it
would against a real cluster. The longer operator battery is tests/e2e/kubectl_battery.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from clues_py.sandbox.objects import ApiError
from tests.e2e.sandbox.conftest import Sandbox, node, run_pod, start_sandbox
from tests.tools import kubectl_binaries, kubectl_for

pytestmark = [pytest.mark.e2e]


@pytest.fixture(
    scope="module", params=kubectl_binaries(), ids=[label for label, _ in kubectl_binaries()]
)
def kubectl_exe(request: pytest.FixtureRequest) -> str:
    return kubectl_for(request.param)


@pytest.fixture(scope="module")
def sandbox(kubectl_exe: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One API server per kubectl binary (overrides conftest's), so each starts clean."""
    sb = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    yield sb
    sb.api.close()
    sb.server.stop()


JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: crunch
  labels: {team: hpc}
spec:
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        resources: {requests: {cpu: 500m, memory: 64Mi}}
"""

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: LABEL}
spec:
  containers:
  - name: c
    image: nginx
"""


@pytest.fixture(scope="module")
def kubectl(sandbox: Sandbox, kubectl_exe: str, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    cache = tmp_path_factory.mktemp("kubectl-cache")

    def run(*args: str, ok: bool = True, timeout: float = 60) -> tuple[str, str]:
        cmd = [
            kubectl_exe,
            "--kubeconfig",
            str(sandbox.kubeconfig),
            "--cache-dir",
            str(cache),
            *args,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if ok:
            assert proc.returncode == 0, f"{args}: rc={proc.returncode} stderr={proc.stderr}"
        return proc.stdout, proc.stderr

    return run


@pytest.fixture(scope="module", autouse=True)
def nodes(sandbox: Sandbox) -> None:
    for i in range(3):
        sandbox.store.create("nodes", node(f"k{i}", {"node-role.kubernetes.io/worker": ""}))
    run_pod(sandbox.store, "busy", "k1", {"app": "busy"})


def test_get_json_wide_and_multiple_kinds(kubectl) -> None:  # type: ignore[no-untyped-def]
    out, err = kubectl("get", "nodes", "-o", "json")
    assert err == ""
    doc = json.loads(out)
    assert doc["kind"] == "List" and [n["metadata"]["name"] for n in doc["items"]] == [
        "k0",
        "k1",
        "k2",
    ]

    out, err = kubectl("get", "nodes", "-o", "wide")
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    assert lines[1].split()[:3] == ["k0", "Ready", "worker"] and "10.0.0.1" in lines[1]

    out, err = kubectl("get", "pods", "-A", "-o", "wide")
    assert err == ""
    assert out.splitlines()[0].split()[:6] == [
        "NAMESPACE",
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
    ]
    assert out.splitlines()[1].split()[:4] == ["default", "busy", "0/1", "Running"]

    out, err = kubectl("get", "nodes,pods", "-A")
    assert err == ""
    assert "node/k2" in out and "pod/busy" in out

    out, err = kubectl(
        "get", "pods", "-l", "app=busy", "--field-selector", "spec.nodeName=k1", "-o", "name"
    )
    assert (out, err) == ("pod/busy\n", "")


def test_apply_job_and_pod_manifests(kubectl, sandbox: Sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    assert kubectl("apply", "-f", str(job)) == ("job.batch/crunch created\n", "")
    assert kubectl("apply", "-f", str(job)) == ("job.batch/crunch unchanged\n", "")
    stored = sandbox.store.get("jobs", "crunch", "default")
    assert stored["spec"]["completions"] == 2 and stored["metadata"]["labels"] == {"team": "hpc"}
    out, err = kubectl("get", "jobs")
    assert err == "" and out.splitlines()[1].split()[:3] == ["crunch", "Running", "0/2"]

    pod = tmp_path / "pod.yaml"
    pod.write_text(POD.replace("LABEL", "one"))
    assert kubectl("apply", "-f", str(pod), "--dry-run=server") == (
        "pod/web created (server dry run)\n",
        "",
    )
    assert kubectl("apply", "-f", str(pod)) == ("pod/web created\n", "")
    pod.write_text(POD.replace("LABEL", "two"))
    assert kubectl("apply", "-f", str(pod)) == ("pod/web configured\n", "")
    assert sandbox.store.get("pods", "web", "default")["metadata"]["labels"] == {"app": "two"}

    assert kubectl("label", "pod", "web", "extra=yes") == ("pod/web labeled\n", "")
    out, _ = kubectl("get", "pods", "-l", "extra=yes", "-o", "name")
    assert out == "pod/web\n"
    # kubectl >= 1.33 adds "from default namespace" to these lines.
    out, err = kubectl("delete", "-f", str(pod))
    assert out.startswith('pod "web" deleted') and err == ""
    out, err = kubectl("delete", "job", "crunch")
    assert out.startswith('job.batch "crunch" deleted') and err == ""
    with pytest.raises(ApiError):
        sandbox.store.get("pods", "web", "default")


def test_cordon_uncordon_shows_scheduling_disabled(kubectl, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    assert kubectl("cordon", "k2") == ("node/k2 cordoned\n", "")
    out, _ = kubectl("get", "node", "k2")
    assert out.splitlines()[1].split()[1] == "Ready,SchedulingDisabled"
    assert sandbox.store.get("nodes", "k2")["spec"]["unschedulable"] is True
    assert kubectl("uncordon", "k2") == ("node/k2 uncordoned\n", "")
    assert not sandbox.store.get("nodes", "k2")["spec"].get("unschedulable")


def test_get_missing_object_is_a_clean_not_found(kubectl) -> None:  # type: ignore[no-untyped-def]
    out, err = kubectl("get", "pod", "ghost", ok=False)
    assert err.strip() == 'Error from server (NotFound): pods "ghost" not found'


def test_drain_evicts_respecting_budget_and_skips_daemonsets(
    kubectl, sandbox: Sandbox, finalizer: None
) -> None:  # type: ignore[no-untyped-def]
    store = sandbox.store
    ds = store.create(
        "daemonsets",
        {
            "metadata": {"name": "agent", "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": {"a": "agent"}},
                "template": {
                    "metadata": {"labels": {"a": "agent"}},
                    "spec": {"containers": [{"name": "c", "image": "x"}]},
                },
            },
        },
    )
    ds_ref = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": "agent",
        "uid": ds["metadata"]["uid"],
        "controller": True,
    }
    run_pod(store, "agent-k0", "k0", {"a": "agent"}, "kube-system", ownerReferences=[ds_ref])
    job_ref = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": "j",
        "uid": "job-uid",
        "controller": True,
    }
    for i in range(2):
        body_pod = run_pod(store, f"w{i}", "k0", {"app": "w"}, ownerReferences=[job_ref])
        assert body_pod["spec"]["nodeName"] == "k0"
    store.create(
        "poddisruptionbudgets",
        {
            "metadata": {"name": "w"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "w"}}},
        },
        "default",
    )

    # The finalizer removes evicted pods shortly after, so the second eviction may have to wait.
    out, err = kubectl(
        "drain", "k0", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=30s", timeout=60
    )
    assert "node/k0 drained" in out
    assert "evicting pod default/w0" in out and "evicting pod default/w1" in out
    # kubectl's own notes: the DaemonSet pod is skipped, and the budget delayed the second eviction.
    assert "Cannot evict pod as it would violate the pod's disruption budget." in err
    for line in err.splitlines():
        assert line.startswith(
            (
                "Warning: ignoring DaemonSet-managed Pods: kube-system/agent-k0",
                "error when evicting pods/",
            )
        ), line
        if line.startswith("error when evicting"):
            assert "violate the pod's disruption budget" in line
    pods = {p["metadata"]["name"] for p in store.list("pods", field_selector="spec.nodeName=k0")[0]}
    assert pods == {"agent-k0"}
    assert store.get("nodes", "k0")["spec"]["unschedulable"] is True


def test_server_side_apply_and_raw_discovery(kubectl, sandbox: Sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cm = tmp_path / "cm.yaml"
    cm.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: '1'}\n")
    assert kubectl("apply", "--server-side", "-f", str(cm)) == (
        "configmap/ssa serverside-applied\n",
        "",
    )
    cm.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: '2', b: '3'}\n"
    )
    assert kubectl("apply", "--server-side", "-f", str(cm)) == (
        "configmap/ssa serverside-applied\n",
        "",
    )
    assert sandbox.store.get("configmaps", "ssa", "default")["data"] == {"a": "2", "b": "3"}

    out, err = kubectl("get", "--raw", "/apis/batch")
    assert err == "" and json.loads(out)["preferredVersion"]["groupVersion"] == "batch/v1"
    out, _ = kubectl("api-resources", "--api-group=policy", "-o", "name")
    assert out.split() == ["poddisruptionbudgets.policy"]
    assert kubectl("get", "--raw", "/readyz") == ("ok", "")
