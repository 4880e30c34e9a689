"""Pod (anti-)affinity, topology spread, host ports and preemption in a virtual sandbox,
with the FailedScheduling messages kube-scheduler writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from clues_py.sandbox import Sandbox, workload_rules

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    s = Sandbox(virtual=True, serve_http=False, pod_start_seconds=0.0, kill_seconds=1.0)
    s.start()
    yield s
    s.stop()


def pod(name: str, cpu: str = "100m", labels: dict[str, str] | None = None, **spec: Any) -> dict:
    container: dict[str, Any] = {
        "name": "c",
        "image": "x",
        "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}},
    }
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    return {
        "metadata": {"name": name, "labels": labels or {"app": "web"}},
        "spec": {"containers": [container], **spec},
    }


def create(sb: Sandbox, obj: dict, resource: str = "pods") -> None:
    workload_rules.prepare(resource, obj, sb.store)  # Priority admission, as the API does
    sb.store.create(resource, obj, None if resource == "priorityclasses" else "default")


def where(sb: Sandbox) -> dict[str, str | None]:
    return {p["metadata"]["name"]: p["spec"].get("nodeName") for p in sb.store.list("pods")[0]}


def unschedulable(sb: Sandbox, name: str) -> str:
    p = sb.store.get("pods", name, "default")
    cond = next(c for c in p["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    return str(cond["message"])


def anti(key: str = HOST, app: str = "web") -> dict:
    term = {"topologyKey": key, "labelSelector": {"matchLabels": {"app": app}}}
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def test_required_anti_affinity_four_pods_on_three_nodes(sb: Sandbox) -> None:
    for i in range(3):
        sb.add_node(f"n{i}")
    for i in range(4):
        create(sb, pod(f"web-{i}", affinity=anti()))
    sb.settle()
    placed = where(sb)
    assert sorted(n for n in placed.values() if n) == ["n0", "n1", "n2"]
    (pending,) = [p for p, n in placed.items() if n is None]
    assert unschedulable(sb, pending) == (
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )
    events = [e for e in sb.store.list("events", "default")[0] if e["reason"] == "FailedScheduling"]
    assert events[0]["source"]["component"] == "default-scheduler"


def test_existing_pods_anti_affinity_keeps_others_away(sb: Sandbox) -> None:
    sb.add_node("n0")
    sb.add_node("n1")
    create(sb, pod("loner", labels={"app": "loner"}, affinity=anti(app="noisy")))
    sb.settle()
    home = where(sb)["loner"]
    for i in range(3):
        create(sb, pod(f"noisy-{i}", labels={"app": "noisy"}))
    sb.settle()
    assert {where(sb)[f"noisy-{i}"] for i in range(3)} == {"n1" if home == "n0" else "n0"}


def test_required_affinity_follows_its_peer_and_the_first_one_may_start(sb: Sandbox) -> None:
    for i, zone in enumerate(("a", "a", "b", "b")):
        sb.add_node(f"n{i}", labels={ZONE: zone})
    term = {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"app": "cache"}}}
    follow = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    create(sb, pod("cache-0", labels={"app": "cache"}, affinity=follow))  # matches itself
    sb.settle()
    zone = "a" if where(sb)["cache-0"] in ("n0", "n1") else "b"
    for i in range(4):
        create(sb, pod(f"app-{i}", labels={"app": "app"}, affinity=follow))
    sb.settle()
    zone_nodes = {"a": {"n0", "n1"}, "b": {"n2", "n3"}}[zone]
    assert {where(sb)[f"app-{i}"] for i in range(4)} <= zone_nodes
    create(
        sb,
        pod(
            "orphan",
            labels={"app": "x"},
            affinity={
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"app": "nobody"}}}
                    ]
                }
            },
        ),
    )
    sb.settle()
    assert unschedulable(sb, "orphan").startswith(
        "0/4 nodes are available: 4 node(s) didn't match pod affinity rules. preemption: "
        "0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    )


def test_spread_and_anti_affinity_reasons_together(sb: Sandbox) -> None:
    for name, zone in (("n1", "a"), ("n2", "b"), ("n3", "b")):
        sb.add_node(name, labels={ZONE: zone})
    for i, node in enumerate(("n1", "n2", "n3")):
        create(sb, pod(f"w{i}", nodeSelector={HOST: node}))
    sb.settle()
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": ZONE,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}},
        }
    ]
    create(sb, pod("p", topologySpreadConstraints=spread, affinity=anti()))
    sb.settle()
    assert unschedulable(sb, "p") == (
        "0/3 nodes are available: 1 node(s) didn't match pod anti-affinity rules, "
        "2 node(s) didn't match pod topology spread constraints. preemption: "
        "0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )


def test_spread_keeps_skew_within_max_skew(sb: Sandbox) -> None:
    for i in range(6):
        sb.add_node(f"n{i}", cpu="16", labels={ZONE: "abc"[i % 3]})
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": ZONE,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}},
        }
    ]
    for i in range(9):
        create(sb, pod(f"s{i}", topologySpreadConstraints=spread))
        sb.settle()
    zones: dict[str, int] = {}
    for node in where(sb).values():
        zone = "abc"[int(str(node)[1:]) % 3]
        zones[zone] = zones.get(zone, 0) + 1
    assert zones == {"a": 3, "b": 3, "c": 3}
    # A zone without room makes the next pods wait rather than pile up elsewhere.
    sb.add_node("n6", labels={ZONE: "d"}, cpu="100m")
    create(sb, pod("big", cpu="1", topologySpreadConstraints=spread))
    sb.settle()
    msg = unschedulable(sb, "big")
    assert msg.startswith(
        "0/7 nodes are available: 1 Insufficient cpu, 6 node(s) didn't match pod topology spread constraints."
    )


def test_host_port_conflicts(sb: Sandbox) -> None:
    sb.add_node("n1")
    ports = [{"containerPort": 80, "hostPort": 8080}]
    create(sb, pod("a", ports=ports))
    create(sb, pod("b", ports=ports))
    create(sb, pod("c", ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]))
    sb.settle()
    assert where(sb)["a"] == "n1" and where(sb)["c"] == "n1"
    assert unschedulable(sb, "b") == (
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. "
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    )
    sb.store.delete("pods", "a", "default", grace_seconds=0)
    sb.settle()
    assert where(sb)["b"] == "n1"


def test_preemption_evicts_lower_priority_pods(sb: Sandbox) -> None:
    sb.add_node("n1", cpu="4")
    create(sb, {"metadata": {"name": "low"}, "value": 10}, "priorityclasses")
    create(sb, {"metadata": {"name": "high"}, "value": 1000}, "priorityclasses")
    create(sb, pod("filler", cpu="3", priorityClassName="low"))
    create(sb, pod("keeper", cpu="500m", priorityClassName="high"))
    sb.settle()
    create(sb, pod("vip", cpu="2", priorityClassName="high"))
    sb.settle()
    vip = sb.store.get("pods", "vip", "default")
    assert vip["status"]["nominatedNodeName"] == "n1" and not vip["spec"].get("nodeName")
    failures = {
        e["message"]
        for e in sb.store.list("events", "default")[0]
        if e["reason"] == "FailedScheduling"
    }
    # The preempting attempt, then a retry while the victim is still terminating.
    assert failures == {
        "0/1 nodes are available: 1 Insufficient cpu.",
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to a "
        "terminating pod on the nominated node.",
    }
    filler = sb.store.get("pods", "filler", "default")
    disruption = next(c for c in filler["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (disruption["reason"], disruption["message"]) == (
        "PreemptionByScheduler",
        "default-scheduler: preempting to accommodate a higher priority pod",
    )
    assert filler["metadata"]["deletionTimestamp"]
    preempted = [e for e in sb.store.list("events", "default")[0] if e["reason"] == "Preempted"]
    assert preempted[0]["message"] == f"Preempted by pod {vip['metadata']['uid']} on node n1"
    sb.advance(2)  # the victim's containers are killed, then the pod binds where it was nominated
    assert where(sb) == {"keeper": "n1", "vip": "n1"}
    assert "nominatedNodeName" not in sb.store.get("pods", "vip", "default")["status"]


def test_preemption_policy_never_and_unhelpful_nodes(sb: Sandbox) -> None:
    sb.add_node("n1", cpu="2")
    sb.add_node("tainted", taints=[{"key": "dedicated", "effect": "NoSchedule"}])
    create(sb, {"metadata": {"name": "low"}, "value": 1}, "priorityclasses")
    create(
        sb,
        {"metadata": {"name": "polite"}, "value": 100, "preemptionPolicy": "Never"},
        "priorityclasses",
    )
    create(sb, pod("filler", cpu="2", priorityClassName="low"))
    sb.settle()
    create(sb, pod("shy", cpu="1", priorityClassName="polite"))
    sb.settle()
    assert unschedulable(sb, "shy") == (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
        "{dedicated: }. preemption: not eligible due to preemptionPolicy=Never."
    )
    create(sb, pod("huge", cpu="8", priorityClassName="polite"))
    sb.settle()
    assert where(sb)["filler"] == "n1"


def test_preferred_anti_affinity_spreads_replicas(sb: Sandbox) -> None:
    sb.add_node("big", cpu="32", memory="64Gi")
    sb.add_node("small", cpu="4", memory="8Gi")
    term = {"topologyKey": HOST, "labelSelector": {"matchLabels": {"app": "web"}}}
    prefer = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": term}
            ]
        }
    }
    create(sb, pod("a", affinity=prefer))
    sb.settle()
    create(sb, pod("b", affinity=prefer))
    sb.settle()
    assert {where(sb)["a"], where(sb)["b"]} == {"big", "small"}


def test_a_new_node_retries_only_the_parked_pods_it_could_take(sb: Sandbox) -> None:
    # kube-scheduler's queueing hints: a node joining requeues the parked pods whose
    # node-level filters it passes and whose request fits it, not every parked pod.
    sb.add_node("n0")
    create(sb, pod("gpu-pool", nodeSelector={"pool": "gpu"}))
    create(sb, pod("huge", cpu="64"))
    create(sb, pod("spread", affinity=anti(app="nobody")))
    create(sb, pod("big", cpu="6", nodeSelector={"pool": "big"}))
    sb.settle()
    assert set(sb.scheduler.parked) == {"default/gpu-pool", "default/huge", "default/big"}
    passes = sb.scheduler.passes
    sb.add_node("n1", labels={"pool": "cpu"})
    sb.settle()
    # Nothing it could take: not retried, no scheduling pass for them.
    assert sb.scheduler.passes == passes
    assert set(sb.scheduler.parked) == {"default/gpu-pool", "default/huge", "default/big"}
    sb.add_node("n2", cpu="8", labels={"pool": "big"})
    sb.settle()
    assert where(sb)["big"] == "n2"
    assert set(sb.scheduler.parked) == {"default/gpu-pool", "default/huge"}
