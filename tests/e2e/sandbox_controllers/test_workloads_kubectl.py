"""kubectl against the sandbox's workload controllers: scale, rollout status/history/undo, columns.

Every kubectl the suite knows (the machine's v1.32, the packaged current one) runs as a
subprocess against a real-mode sandbox; every command must succeed with an empty stderr, as
against a real cluster (except kubectl's own client-side warnings, named where expected).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.sandbox_controllers.conftest import Cluster, Kubectl

pytestmark = [pytest.mark.e2e]

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


@pytest.fixture(autouse=True)
def worker(cluster: Cluster) -> None:
    cluster.sb.add_node("n1", cpu="8", memory="16Gi")


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
    # kubectl >= 1.35 warns on stderr that an applied object's undo skips last-applied.
    undone = kubectl("rollout", "undo", "deployment/web", warning="previously managed with")
    assert undone == "deployment.apps/web rolled back\n"
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
    assert out.startswith('deployment.apps "web" deleted')  # >= 1.33: "from default namespace"
    assert kubectl("get", "rs,pods", "-l", "app=web", "-o", "name") == ""


STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  replicas: 3
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: c
        image: db:1
        command: [sleep, infinity]
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: c
            image: busybox
            command: [sh, -c, "date; sleep 2"]
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: legacy
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: legacy}
    spec:
      containers:
      - name: c
        image: nginx
"""


def test_statefulset_cronjob_rc_and_node_lease(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "more.yaml"
    manifest.write_text(STATEFULSET)
    out = kubectl("apply", "-f", str(manifest))
    assert out.splitlines() == [
        "statefulset.apps/db created",
        "cronjob.batch/tick created",
        "replicationcontroller/legacy created",
    ]
    out = kubectl("rollout", "status", "statefulset/db", "--timeout=60s")
    assert "partitioned roll out complete" in out or "rolling update complete" in out
    pods = kubectl("get", "pods", "-l", "app=db", "-o", "name").split()
    assert pods == ["pod/db-0", "pod/db-1", "pod/db-2"]
    assert kubectl("scale", "statefulset/db", "--replicas=1") == "statefulset.apps/db scaled\n"
    kubectl("wait", "--for=delete", "pod/db-2", "pod/db-1", "--timeout=60s")
    header, row = kubectl("get", "statefulset", "db").splitlines()
    assert header.split() == ["NAME", "READY", "AGE"] and row.split()[:2] == ["db", "1/1"]
    history = kubectl("rollout", "history", "statefulset/db")
    assert history.splitlines()[2].split()[0] == "1"

    header, row = kubectl("get", "cronjob", "tick").splitlines()
    assert header.split()[:6] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST"]
    assert row.split()[:5] == ["tick", "*/5", "*", "*", "*"]

    kubectl("scale", "rc/legacy", "--replicas=3")
    kubectl("wait", "--for=jsonpath={.status.readyReplicas}=3", "rc/legacy", "--timeout=60s")
    header, row = kubectl("get", "rc", "legacy").splitlines()
    assert header.split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert row.split()[:4] == ["legacy", "3", "3", "3"]

    described = kubectl("describe", "node", "n1")
    assert "HolderIdentity:  n1" in described and "Failed to get lease" not in described
