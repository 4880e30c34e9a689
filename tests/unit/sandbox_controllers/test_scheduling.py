"""Fit, scoring and FailedScheduling messages of the pure scheduler logic."""

from __future__ import annotations

from clues_py.model import Placement, Resources
from clues_py.sandbox.controllers import preemption
from clues_py.sandbox.controllers.common import node_object
from clues_py.sandbox.controllers.placed import PlacedPods, PodRec
from clues_py.sandbox.controllers.podterms import PodSpecInfo
from clues_py.sandbox.controllers.scheduling import (
    NodeInfo,
    feasible_to_find,
    fit_error_message,
    pod_requests,
)
from clues_py.sandbox.controllers.selection import select_node

GI = 2**30


def node(name, cpu="4", memory="8Gi", ready=True, labels=None, taints=(), unschedulable=False):
    n = node_object(name, cpu=cpu, memory=memory, labels=labels, taints=taints, ready=ready, now=0)
    if unschedulable:
        n["spec"]["unschedulable"] = True
    return NodeInfo.from_k8s(n)


def pod(cpu="1", memory="1Gi", **spec):
    return {
        "spec": {
            "containers": [
                {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
            ],
            **spec,
        }
    }


class Outcome:
    def __init__(self, node, message):
        self.node, self.message = node, message


def decide(p, nodes, requested=None, strategy="LeastAllocated"):
    """Filter, score and (on failure) evaluate preemption, as the scheduler does."""
    info = PodSpecInfo.from_k8s(p)
    placed = PlacedPods()
    placed.requested = dict(requested or {})
    d = select_node(info, nodes, placed, most=strategy == "MostAllocated")
    if d.node is not None:
        return Outcome(d.node, "")
    _, post = preemption.preempt(info, d, nodes, placed, None, lambda n: None)
    return Outcome(None, f"{d.message} {post}")


def test_requests_sum_containers_fall_back_to_limits_and_max_with_init():
    p = {
        "spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "500m", "nvidia.com/gpu": "1"}}},
            ],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}],
        }
    }
    assert pod_requests(p) == Resources(cpu_millis=2000, memory_bytes=GI, gpus=1, pods=1)


def test_least_allocated_spreads_and_most_allocated_packs():
    nodes = [node("a"), node("b")]
    used = {"a": Resources(cpu_millis=2000, memory_bytes=2 * GI, pods=1)}
    assert decide(pod(), nodes, used).node == "b"
    assert decide(pod(), nodes, used, strategy="MostAllocated").node == "a"


def test_ties_break_by_name_deterministically():
    assert decide(pod(), [node("b"), node("a"), node("c")]).node == "a"


def test_insufficient_and_taint_message_matches_kube_scheduler():
    master = node(
        "master", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    )
    d = decide(pod(cpu="8"), [master, node("w1"), node("w2")])
    assert d.node is None
    assert d.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: "
        "0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod."
    )


def test_each_resource_reason_is_counted_but_nodes_once_for_preemption():
    d = decide(pod(cpu="8", memory="32Gi"), [node("w1"), node("w2")])
    assert d.message == (
        "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. preemption: "
        "0/2 nodes are available: 2 No preemption victims found for incoming pod."
    )


def test_not_ready_and_unschedulable_nodes():
    d = decide(pod(), [node("a", ready=False), node("b", unschedulable=True)])
    assert d.message.startswith(
        "0/2 nodes are available: 1 node(s) had untolerated taint "
        "{node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable."
    )
    assert "2 Preemption is not helpful for scheduling" in d.message


def test_toleration_admits_tainted_node():
    taint = {"key": "gpu", "value": "yes", "effect": "NoSchedule"}
    tainted = node("g", taints=[taint])
    assert decide(pod(), [tainted]).node is None
    tolerating = pod(tolerations=[{"key": "gpu", "operator": "Equal", "value": "yes"}])
    assert decide(tolerating, [tainted]).node == "g"
    exists = pod(tolerations=[{"operator": "Exists"}])
    assert decide(exists, [tainted]).node == "g"


def test_node_selector_and_affinity_operators():
    nodes = [node("a", labels={"zone": "x", "ssd": "1"}), node("b", labels={"zone": "y"})]
    assert decide(pod(nodeSelector={"zone": "y"}), nodes).node == "b"

    def aff(*exprs):
        return {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": list(exprs)}]
                }
            }
        }

    assert (
        decide(pod(affinity=aff({"key": "zone", "operator": "In", "values": ["x"]})), nodes).node
        == "a"
    )
    assert (
        decide(pod(affinity=aff({"key": "zone", "operator": "NotIn", "values": ["x"]})), nodes).node
        == "b"
    )
    assert decide(pod(affinity=aff({"key": "ssd", "operator": "Exists"})), nodes).node == "a"
    assert decide(pod(affinity=aff({"key": "ssd", "operator": "DoesNotExist"})), nodes).node == "b"
    d = decide(pod(affinity=aff({"key": "zone", "operator": "In", "values": ["z"]})), nodes)
    assert d.message.startswith(
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    )


def test_pod_slots_and_gpus():
    full = {"a": Resources(pods=110)}
    assert "1 Too many pods" in decide(pod(), [node("a")], full).message
    gpu_pod = {
        "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}
    }
    assert "1 Insufficient nvidia.com/gpu" in decide(gpu_pod, [node("a")]).message


def test_no_nodes_message():
    assert fit_error_message(0, {}) == "no nodes available to schedule pods"


def test_prefer_no_schedule_taints_are_avoided_when_other_nodes_fit():
    soft = {"key": "clues-py.io/idle", "effect": "PreferNoSchedule"}
    tainted = node("a", taints=[soft])
    used = {"b": Resources(cpu_millis=3000, memory_bytes=6 * GI, pods=3)}
    # b is busier, yet the emptier a carries an untolerated PreferNoSchedule taint.
    assert decide(pod(), [tainted, node("b")], used).node == "b"
    # Tolerated: plain LeastAllocated again.
    tolerant = pod(tolerations=[{"key": "clues-py.io/idle", "operator": "Exists"}])
    assert decide(tolerant, [tainted, node("b")], used).node == "a"
    # The taint never blocks: with no other room, the pod goes there.
    assert decide(pod(cpu="2"), [tainted, node("b")], used).node == "a"


def test_feasible_to_find_follows_kube_scheduler():
    assert feasible_to_find(50) == 50
    assert feasible_to_find(1000) == 420
    assert feasible_to_find(5000) == 500
    assert feasible_to_find(100_000) == 5000


def test_placed_pods_know_whether_any_pod_could_be_a_victim():
    placed = PlacedPods()
    spec = PodSpecInfo("default", (), Resources(100, 0, 0, 1), Placement(), priority=5)
    assert not placed.any_below(10)
    placed.add(PodRec("default/a", "n0", spec))
    placed.add(PodRec("default/b", "n0", spec))
    assert placed.any_below(10) and not placed.any_below(5)
    placed.remove("default/a")
    assert placed.any_below(10)
    placed.remove("default/b")
    assert not placed.any_below(10)
    # Re-adding under the same key does not count the pod twice.
    placed.add(PodRec("default/a", "n0", spec))
    placed.add(PodRec("default/a", "n1", spec))
    placed.remove("default/a")
    assert not placed.any_below(10)
