"""Demand traps: work that fits no template, suspended Jobs, queued Workloads, DS-only nodes."""

from __future__ import annotations

from clues_py.model import NodeState
from tests.factories import make_hidden, make_node, make_pod, make_snapshot, make_template
from tests.unit.planner.helpers import offs, ons, run

S = NodeState
WN = make_template("wn", "4", "8Gi")


def test_pod_that_fits_no_template_is_reported_and_powers_nothing() -> None:
    nodes = [make_node("wn-1"), make_node("wn-2")]
    p = run(make_snapshot(nodes, [WN], pending=[make_pod("huge", "64", "1Ti")]))
    assert ons(p) == []
    assert p.unplaceable["default/huge"] == (
        "fits no template: needs cpu=64 mem=1Ti, largest template wn has cpu=4 mem=8Gi"
    )
    assert p.decided_by["default/huge"] == "scale_up"


def test_workload_holding_quota_is_demand() -> None:
    nodes = [make_node(f"wn-{i}") for i in (1, 2, 3)]
    wl = make_hidden("oscar-job", 6, "2", "2Gi", namespace="oscar")
    p = run(make_snapshot(nodes, [WN], hidden=[wl]))
    assert ons(p) == ["wn-1", "wn-2", "wn-3"]
    assert p.actions[0].pods == ("workload:oscar/oscar-job",)


def test_queued_workload_is_demand_and_too_big_one_is_unplaceable() -> None:
    nodes = [make_node("wn-1"), make_node("wn-2")]
    ok = make_hidden("wl-a", 1, "3", "4Gi", kind="Workload")
    big = make_hidden("wl-b", 2, "8", "4Gi", kind="Workload")
    p = run(make_snapshot(nodes, [WN], hidden=[ok, big]))
    assert ons(p) == ["wn-1"]
    assert p.unplaceable["workload:default/wl-b"].startswith("fits no template")


def test_node_with_only_daemonset_pods_is_idle_and_powered_off() -> None:
    ds = make_pod("fluentd", "100m", "100Mi", node="wn-1", daemonset=True)
    n = make_node("wn-1", "wn", S.IDLE, pods=[ds], since=0)
    busy = make_node("wn-2", "wn", S.IDLE, pods=[make_pod("work", node="wn-2")], since=0)
    p = run(make_snapshot([n, busy], [WN], now=10_000), idle_time=300)
    assert offs(p) == ["wn-1"]
    assert p.kept["wn-2"] == "runs 1 workload pod(s): default/work"
