"""The scheduler's constraints seen as a user sees them: kubectl and the official client.

A real-mode sandbox with three workers; every FailedScheduling message is checked
word for word against kube-scheduler's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.sandbox_controllers.conftest import Cluster, Kubectl
from tests.tools import wait_for

pytestmark = [pytest.mark.e2e]

ZONE = "topology.kubernetes.io/zone"

ANTI_AFFINITY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels: {app: web}
      containers:
      - name: c
        image: nginx
        command: [sleep, infinity]
"""


@pytest.fixture(autouse=True)
def zoned_nodes(cluster: Cluster) -> None:
    for name, zone in (("n1", "a"), ("n2", "b"), ("n3", "b")):
        cluster.sb.add_node(name, cpu="4", memory="8Gi", labels={ZONE: zone})


def pending(cluster: Cluster, selector: str) -> list[Any]:
    pods = cluster.core.list_namespaced_pod("default", label_selector=selector).items
    return [p for p in pods if p.status.phase == "Pending" and not p.spec.node_name]


def scheduled_condition(pod: Any) -> Any:
    """The PodScheduled condition (None before the scheduler looked at the pod)."""
    return next((c for c in pod.status.conditions or () if c.type == "PodScheduled"), None)


def unschedulable_message(cluster: Cluster, name: str) -> str | None:
    cond = scheduled_condition(cluster.core.read_namespaced_pod(name, "default"))
    return cond.message if cond is not None and cond.reason == "Unschedulable" else None


def test_anti_affinity_four_replicas_on_three_nodes(
    cluster: Cluster, kubectl: Kubectl, tmp_path: Path
) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(ANTI_AFFINITY)
    kubectl("apply", "-f", str(manifest))
    wait_for(
        lambda: (
            len(left := pending(cluster, "app=web")) == 1
            and unschedulable_message(cluster, left[0].metadata.name)
        ),
        what="one replica left Pending",
    )
    (left,) = pending(cluster, "app=web")
    expected = (
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )
    assert scheduled_condition(left).message == expected
    nodes = {p.spec.node_name for p in cluster.core.list_namespaced_pod("default").items}
    assert nodes == {"n1", "n2", "n3", None}
    described = kubectl("describe", "pod", left.metadata.name)
    assert "FailedScheduling" in described and "didn't match pod anti-affinity rules" in described
    events = kubectl(
        "get",
        "events",
        "--field-selector",
        "reason=FailedScheduling",
        "-o",
        "jsonpath={.items[*].message}",
    )
    assert expected in events
    out = kubectl("rollout", "status", "deployment/web", "--timeout=1s", "--watch=false")
    assert "3 of 4 updated replicas are available" in out


def spread_pod(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"app": "spread"}},
        "spec": {
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": ZONE,
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": "spread"}},
                }
            ],
            "containers": [
                {
                    "name": "c",
                    "image": "x",
                    "command": ["sleep", "infinity"],
                    "resources": {"requests": {"cpu": "1"}},
                }
            ],
            **extra,
        },
    }


def test_spread_skew_and_host_ports_with_the_client(cluster: Cluster, kubectl: Kubectl) -> None:
    # Zone a has one node, zone b two: with maxSkew 1 the pods keep the zones level.
    for i in range(3):
        cluster.core.create_namespaced_pod("default", spread_pod(f"s{i}"))
        wait_for(lambda: not pending(cluster, "app=spread"), what="spread pod placed")
    zones = {"n1": "a", "n2": "b", "n3": "b"}
    placed = [zones[p.spec.node_name] for p in cluster.core.list_namespaced_pod("default").items]
    assert sorted(placed) == ["a", "b", "b"]
    # Zone a cordoned: one more pod in zone b would make the skew 2, so it waits.
    kubectl("cordon", "n1")
    cluster.core.create_namespaced_pod("default", spread_pod("s3"))
    msg = wait_for(lambda: unschedulable_message(cluster, "s3"), what="FailedScheduling condition")
    assert msg == (
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match pod "
        "topology spread constraints. preemption: 0/3 nodes are available: 1 Preemption is not "
        "helpful for scheduling, 2 No preemption victims found for incoming pod."
    )
    kubectl("uncordon", "n1")
    wait_for(lambda: not pending(cluster, "app=spread"), what="the pod placed in zone a")
    assert cluster.core.read_namespaced_pod("s3", "default").spec.node_name == "n1"

    port = [{"containerPort": 80, "hostPort": 8080}]

    def web(name: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name, "labels": {"app": "ports"}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": port}]},
        }

    for i in range(4):
        cluster.core.create_namespaced_pod("default", web(f"p{i}"))
    wait_for(lambda: len(pending(cluster, "app=ports")) == 1, what="one pod without a free port")
    (left,) = pending(cluster, "app=ports")
    assert wait_for(lambda: unschedulable_message(cluster, left.metadata.name)) == (
        "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod "
        "ports. preemption: 0/3 nodes are available: 3 No preemption victims found for "
        "incoming pod."
    )


PRIORITIES = """\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: batch
value: 100
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: urgent
value: 10000
description: preempts batch work
"""


def test_preemption_with_kubectl(cluster: Cluster, kubectl: Kubectl, tmp_path: Path) -> None:
    classes = tmp_path / "pc.yaml"
    classes.write_text(PRIORITIES)
    kubectl("apply", "-f", str(classes))
    header, *rows = kubectl("get", "priorityclasses").splitlines()
    assert header.split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert {r.split()[0] for r in rows} == {
        "batch",
        "urgent",
        "system-cluster-critical",
        "system-node-critical",
    }

    def pod(name: str, cls: str, cpu: str) -> dict[str, Any]:
        res = {"requests": {"cpu": cpu, "memory": "1Gi"}}
        return {
            "metadata": {"name": name},
            "spec": {
                "priorityClassName": cls,
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {"name": "c", "image": "x", "resources": res, "command": ["sleep", "infinity"]}
                ],
            },
        }

    for i in range(3):
        cluster.core.create_namespaced_pod("default", pod(f"batch-{i}", "batch", "3"))
    wait_for(
        lambda: all(
            p.status.phase == "Running" for p in cluster.core.list_namespaced_pod("default").items
        ),
        what="batch pods running",
    )
    cluster.core.create_namespaced_pod("default", pod("urgent", "urgent", "2"))
    urgent = wait_for(
        lambda: (
            (u := cluster.core.read_namespaced_pod("urgent", "default")).status.phase == "Running"
            and u
        ),
        what="urgent pod running after preemption",
    )
    assert urgent.spec.priority == 10000
    preempted = kubectl(
        "get",
        "events",
        "--field-selector",
        "reason=Preempted",
        "-o",
        "jsonpath={.items[*].message}",
    )
    assert preempted == f"Preempted by pod {urgent.metadata.uid} on node {urgent.spec.node_name}"
    remaining = [p.metadata.name for p in cluster.core.list_namespaced_pod("default").items]
    assert len(remaining) == 3 and "urgent" in remaining
