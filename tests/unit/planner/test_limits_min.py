"""Limits (max_booting, max_nodes) and min_nodes."""

from __future__ import annotations

from clues_py.model import NodeState
from tests.factories import make_node, make_pod, make_snapshot, make_template
from tests.unit.planner.helpers import offs, ons, run

S = NodeState
WN = make_template("wn", "4", "8Gi")


def big_pods(n: int) -> list:
    return [make_pod(f"p{i}", "4", "8Gi") for i in range(n)]


def test_max_booting_counts_nodes_already_booting() -> None:
    nodes = [make_node("wn-1", "wn", S.POWERING_ON, since=999)] + [
        make_node(f"wn-{i}") for i in range(2, 10)
    ]
    p = run(make_snapshot(nodes, [WN], pending=big_pods(6)), max_booting=3)
    assert ons(p) == ["wn-2", "wn-3"]
    assert p.unplaceable["default/p5"] == "max_booting reached (3 booting)"
    assert p.kept["wn-4"] == "left off: max_booting reached (3 booting)"
    assert p.unplaceable["default/p0"] == "waits for booting node wn-1"


def test_max_nodes() -> None:
    nodes = [make_node("wn-1", "wn", S.USED, pods=[make_pod("r", "4", "8Gi")])] + [
        make_node(f"wn-{i}") for i in range(2, 6)
    ]
    p = run(make_snapshot(nodes, [WN], pending=big_pods(3)), max_nodes=2)
    assert ons(p) == ["wn-2"]
    assert p.unplaceable["default/p1"] == "max_nodes reached (2 on or booting, max_nodes 2)"


def test_min_nodes_powers_on_and_reasons() -> None:
    nodes = [make_node("wn-1", "wn", S.IDLE, since=0)] + [make_node(f"wn-{i}") for i in (2, 3)]
    p = run(make_snapshot(nodes, [WN]), min_nodes=2)
    assert ons(p) == ["wn-2"] and p.actions[0].reason == "min_nodes=2: 1 on"
    assert p.actions[0].policy == "min_nodes"
    assert offs(p) == [] and p.kept["wn-1"].startswith("min_nodes=2")


def test_min_nodes_counts_scale_up_power_ons() -> None:
    nodes = [make_node(f"wn-{i}") for i in (1, 2, 3)]
    p = run(make_snapshot(nodes, [WN], pending=big_pods(2)), min_nodes=2)
    assert ons(p) == ["wn-1", "wn-2"]
    assert all(a.policy == "scale_up" for a in p.actions)


def test_min_nodes_vetoes_idle_power_off_below_floor() -> None:
    nodes = [
        make_node("wn-1", "wn", S.IDLE, since=0),
        make_node("wn-2", "wn", S.IDLE, since=100),
        make_node("wn-3", "wn", S.IDLE, since=200),
    ]
    p = run(make_snapshot(nodes, [WN], now=10_000), min_nodes=2, idle_time=300)
    # The two most recently active idle nodes stay; the oldest idle one goes.
    assert offs(p) == ["wn-1"]
    assert p.kept["wn-2"] == p.kept["wn-3"] == "min_nodes=2: keeping 2 nodes on"


def test_min_nodes_respects_limits_and_disabled() -> None:
    nodes = [make_node("wn-1", enabled=False)] + [make_node(f"wn-{i}") for i in (2, 3, 4)]
    p = run(make_snapshot(nodes, [WN]), min_nodes=3, max_booting=2)
    assert ons(p) == ["wn-2", "wn-3"]
    assert p.kept["wn-1"] == "disabled"
    assert p.kept["wn-4"] == "left off: max_booting reached (2 booting)"
