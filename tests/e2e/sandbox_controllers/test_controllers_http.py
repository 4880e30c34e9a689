"""Scheduler, kubelet, Job and DaemonSet controllers and machine hooks seen through the API."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.tools import wait_for

from .conftest import Cluster, http

pytestmark = pytest.mark.e2e

DUR = "sandbox.clues-py.io/duration"
CODE = "sandbox.clues-py.io/exit-code"
MASTER_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def pod(name: str, cpu: str = "500m", **ann: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": ann},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}
            ],
        },
    }


def job(
    name: str, *, suspend: bool = False, backoff: int = 6, completions: int = 2, **ann: str
) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "parallelism": 2,
            "completions": completions,
            "backoffLimit": backoff,
            "suspend": suspend,
            "template": {
                "metadata": {"annotations": ann},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "1"}}}
                    ],
                },
            },
        },
    }


def condition(obj, ctype: str):
    for c in (obj.status.conditions or []) if obj.status else []:
        if c.type == ctype:
            return c
    return None


def job_pods(c: Cluster, name: str) -> list:
    return c.core.list_namespaced_pod("default", label_selector=f"job-name={name}").items


def test_pod_is_scheduled_runs_and_succeeds(cluster: Cluster) -> None:
    cluster.sb.add_node("n1")
    cluster.core.create_namespaced_pod("default", pod("p", **{DUR: "0.2s"}))
    p = wait_for(
        lambda: (
            (x := cluster.core.read_namespaced_pod("p", "default")).status.phase == "Succeeded"
            and x
        ),
        what="pod p Succeeded",
    )
    assert p.spec.node_name == "n1"
    assert condition(p, "PodScheduled").status == "True"
    assert p.status.container_statuses[0].state.terminated.exit_code == 0
    events = cluster.core.list_namespaced_event("default").items
    assert any(e.reason == "Scheduled" and e.involved_object.name == "p" for e in events)


def test_unschedulable_pod_gets_condition_then_machine_hook_fixes_it(cluster: Cluster) -> None:
    sb = cluster.sb
    sb.add_node(
        "master", labels={"node-role.kubernetes.io/control-plane": ""}, taints=[MASTER_TAINT]
    )
    sb.add_node("n1", cpu="2")
    cluster.core.create_namespaced_pod("default", pod("big", cpu="6", **{DUR: "0.2s"}))

    def unschedulable():
        c = condition(cluster.core.read_namespaced_pod("big", "default"), "PodScheduled")
        return c is not None and c.reason == "Unschedulable" and c

    c = wait_for(unschedulable, what="Unschedulable condition")
    assert c.status == "False"
    assert c.message.startswith(
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }. preemption: 0/2 nodes are available:"
    )
    code, m = http(
        sb,
        "POST",
        "/sandbox/v1/machines",
        {"name": "wn-big", "cpu": "8", "memory": "16Gi", "boot_seconds": 0.2},
    )
    assert (code, m["state"]) == (202, "booting")
    code, again = http(sb, "POST", "/sandbox/v1/machines", {"name": "wn-big"})
    assert (code, again["state"], again["cpu"]) == (200, "booting", "8")  # idempotent
    wait_for(
        lambda: http(sb, "GET", "/sandbox/v1/machines/wn-big")[1]["state"] == "on",
        what="machine on",
    )
    p = wait_for(
        lambda: (
            (x := cluster.core.read_namespaced_pod("big", "default")).status.phase == "Succeeded"
            and x
        ),
        what="big pod Succeeded on the new node",
    )
    assert p.spec.node_name == "wn-big"
    assert cluster.core.read_node("wn-big").status.allocatable["cpu"] == "8"


def test_machine_hook_errors(cluster: Cluster) -> None:
    sb = cluster.sb
    assert http(sb, "GET", "/sandbox/v1/machines/nope")[0] == 404
    assert http(sb, "DELETE", "/sandbox/v1/machines/nope")[0] == 404
    code, err = http(sb, "POST", "/sandbox/v1/machines", {"name": "x", "cpu": "lots"})
    assert code == 400 and "cpu" in err["error"]
    code, err = http(sb, "POST", "/sandbox/v1/machines", {"name": "x", "colour": "red"})
    assert code == 400 and "colour" in err["error"]
    assert http(sb, "POST", "/sandbox/v1/clock/advance", {"seconds": 1})[0] == 409
    assert http(sb, "GET", "/sandbox/v1/machines") == (200, {"items": []})


def test_suspended_job_waits_until_resumed_then_completes(cluster: Cluster) -> None:
    cluster.sb.add_node("n1", cpu="4")
    cluster.batch.create_namespaced_job("default", job("s", suspend=True, **{DUR: "0.2s"}))
    wait_for(
        lambda: (
            (c := condition(cluster.batch.read_namespaced_job("s", "default"), "Suspended"))
            and c.status == "True"
        ),
        what="Suspended condition",
    )
    assert job_pods(cluster, "s") == []
    cluster.batch.patch_namespaced_job("s", "default", {"spec": {"suspend": False}})
    j = wait_for(
        lambda: (
            (x := cluster.batch.read_namespaced_job("s", "default"))
            and condition(x, "Complete")
            and x
        ),
        what="job Complete",
    )
    assert j.status.succeeded == 2 and j.status.completion_time is not None
    pods = job_pods(cluster, "s")
    assert len(pods) == 2 and {p.status.phase for p in pods} == {"Succeeded"}
    owner = pods[0].metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ("Job", "s", True)


def test_failing_job_hits_backoff_limit(cluster: Cluster) -> None:
    cluster.sb.add_node("n1", cpu="4")
    cluster.batch.create_namespaced_job("default", job("f", backoff=1, **{DUR: "0.1s", CODE: "3"}))
    j = wait_for(
        lambda: (
            (x := cluster.batch.read_namespaced_job("f", "default"))
            and condition(x, "Failed")
            and x
        ),
        what="job Failed",
    )
    assert condition(j, "Failed").reason == "BackoffLimitExceeded"
    assert j.status.failed >= 2


def test_daemonset_pods_follow_nodes_and_power_off_fails_pods(cluster: Cluster) -> None:
    sb = cluster.sb
    sb.add_node("n1")
    ds = client.V1DaemonSet(
        metadata=client.V1ObjectMeta(name="agent"),
        spec=client.V1DaemonSetSpec(
            selector=client.V1LabelSelector(match_labels={"app": "agent"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "agent"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="a", image="agent")]),
            ),
        ),
    )
    cluster.apps.create_namespaced_daemon_set("default", ds)
    assert http(sb, "POST", "/sandbox/v1/machines", {"name": "wn-1", "boot_seconds": 0.1})[0] == 202

    def running_nodes():
        pods = cluster.core.list_namespaced_pod("default", label_selector="app=agent").items
        return sorted(p.spec.node_name for p in pods if p.status.phase == "Running")

    wait_for(lambda: running_nodes() == ["n1", "wn-1"], what="one agent pod per node")
    pinned = pod("pinned")
    pinned["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "wn-1"}
    cluster.core.create_namespaced_pod("default", pinned)
    wait_for(
        lambda: cluster.core.read_namespaced_pod("pinned", "default").status.phase == "Running",
        what="pinned pod running on wn-1",
    )
    code, m = http(sb, "DELETE", "/sandbox/v1/machines/wn-1?shutdown_seconds=0.6")
    assert (code, m["state"]) == (202, "stopping")
    failed = cluster.core.read_namespaced_pod("pinned", "default")
    assert (failed.status.phase, failed.status.reason) == ("Failed", "Terminated")
    wait_for(
        lambda: http(sb, "GET", "/sandbox/v1/machines/wn-1")[1]["state"] == "off",
        what="machine off",
    )
    wait_for(lambda: running_nodes() == ["n1"], what="agent pod gone with its node")
    names = [n.metadata.name for n in cluster.core.list_node().items]
    assert names == ["n1"]
