"""pack_down: which nodes new pods should avoid so that they empty first; nothing evicted."""

from __future__ import annotations

from dataclasses import replace

from clues_py.forecast import DemandHistory, Events
from clues_py.model import NodeState
from clues_py.planner import plan
from plugins.policies.idle_off import IdleOff
from plugins.policies.pack_down import PackDown
from plugins.policies.scale_up import ScaleUp
from tests.factories import make_node, make_observation, make_pod, make_snapshot, make_template

S = NodeState
WN = make_template("wn", "4", "8Gi")


def used(name: str, *cpus: str, **kw):
    pods = [make_pod(f"{name}-p{i}", c, "1Gi") for i, c in enumerate(cpus)]
    return make_node(name, "wn", S.USED, pods=pods, **kw)


def idle(name: str, **kw):
    return make_node(name, "wn", S.IDLE, since=9_990, **kw)


def run(nodes, pending=(), threshold: float = 0.5, unmanaged=(), history=None, idle_time=300):
    snap = make_snapshot(nodes, [WN], pending=list(pending), now=10_000)
    snap = replace(snap, unmanaged=tuple(unmanaged), demand_history=history or {})
    pipeline = [
        ScaleUp(),
        PackDown(PackDown.Config(threshold)),
        IdleOff(IdleOff.Config(idle_time=idle_time)),
    ]
    return plan(snap, pipeline)


def test_the_least_used_node_whose_pods_fit_elsewhere_is_a_candidate() -> None:
    p = run([used("wn-1", "3"), used("wn-2", "1"), used("wn-3", "1")])
    # wn-2 (25%) fits on wn-1's free core; then wn-3's pod has no room left but wn-2's,
    # and wn-2 is a candidate itself: wn-3 stays a receiver.
    assert sorted(p.scale_down_candidates) == ["wn-2"]
    assert p.scale_down_candidates["wn-2"].startswith("scale-down candidate: utilisation 25%")
    assert p.actions == (), "nothing is evicted or powered off for it"


def test_idle_nodes_are_candidates_while_held() -> None:
    p = run([used("wn-1", "3"), idle("wn-2")])
    assert list(p.scale_down_candidates) == ["wn-2"]
    assert "idle" in p.scale_down_candidates["wn-2"]


def test_busy_nodes_are_never_candidates() -> None:
    p = run([used("wn-1", "2"), used("wn-2", "3")])
    assert p.scale_down_candidates == {}  # 50% is not below the 50% threshold


def test_no_candidates_while_demand_needs_more_nodes() -> None:
    nodes = [used("wn-1", "1"), used("wn-2", "3"), make_node("wn-3", "wn", S.OFF)]
    p = run(nodes, pending=[make_pod("big", "4", "1Gi")])
    assert [a.node for a in p.actions] == ["wn-3"]
    assert p.scale_down_candidates == {}


def test_a_node_pending_demand_counts_on_is_not_a_candidate() -> None:
    p = run([used("wn-1", "1"), used("wn-2", "3")], pending=[make_pod("p", "2", "1Gi")])
    assert "wn-1" not in p.scale_down_candidates


def test_protected_and_disabled_nodes_are_left_alone() -> None:
    protected = used("wn-2", "1", labels={"clues-py.io/scale-down-disabled": "true"})
    p = run([used("wn-1", "2"), protected, used("wn-3", "1", enabled=False)])
    assert p.scale_down_candidates == {}


def test_unmanaged_nodes_receive_but_are_never_candidates() -> None:
    master = make_observation("master", cpu="8", pods=[make_pod("m", "1", "1Gi")])
    p = run([used("wn-1", "1")], unmanaged=[master])
    assert list(p.scale_down_candidates) == ["wn-1"]


def test_only_once_demand_has_fallen() -> None:
    busy = {"wn": DemandHistory(arrivals=Events((9_900.0,), (3,)))}  # pods 100 s ago
    assert run([used("wn-1", "3"), idle("wn-2")], history=busy).scale_down_candidates == {}
    quiet = {"wn": DemandHistory(arrivals=Events((9_000.0,), (3,)))}  # 1000 s ago
    assert list(run([used("wn-1", "3"), idle("wn-2")], history=quiet).scale_down_candidates)


def test_a_node_powered_off_in_the_same_plan_is_not_steered_too() -> None:
    p = run([used("wn-1", "3"), idle("wn-2")], idle_time=0)
    assert [a.node for a in p.actions] == ["wn-2"] and p.scale_down_candidates == {}


def test_threshold_bounds() -> None:
    import pytest

    with pytest.raises(ValueError, match="threshold"):
        PackDown(PackDown.Config(threshold=1.5))
