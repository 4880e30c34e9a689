"""Consolidation: drain under-utilised nodes whose pods fit elsewhere; PDBs and budgets."""

from __future__ import annotations

from dataclasses import replace

from clues_py.model import ActionKind, DisruptionBudget, NodeState
from clues_py.planner import plan
from plugins.policies.consolidation import Consolidation
from plugins.policies.idle_off import IdleOff
from plugins.policies.scale_up import ScaleUp
from tests.factories import make_node, make_pod, make_snapshot, make_template

S = NodeState
WN = make_template("wn", "4", "8Gi")
APP = (("app", "web"),)


def web(name: str, cpu: str = "1"):
    return replace(make_pod(name, cpu, "1Gi", owner_kind="ReplicaSet"), labels=APP)


def used(name: str, *pods, **kw):
    return make_node(name, "wn", S.USED, pods=list(pods), **kw)


def run(nodes, pdbs=(), pending=(), **cfg):
    snap = replace(make_snapshot(nodes, [WN], pending=pending, now=10_000), pdbs=tuple(pdbs))
    pol = [ScaleUp(), Consolidation(Consolidation.Config(**cfg)), IdleOff()]
    return plan(snap, pol)


def offs(p):
    return [a.node for a in p.actions if a.kind is ActionKind.POWER_OFF]


def test_drains_the_least_utilised_node_when_its_pods_fit_elsewhere() -> None:
    nodes = [used("wn-1", web("a"), web("b")), used("wn-2", web("c", "3")), used("wn-3", web("d"))]
    p = run(nodes)
    # wn-1 (2/4 = 50%) is not below 50%; wn-3 (25%) is, and its pod fits on wn-1.
    assert offs(p) == ["wn-3"]
    a = p.actions[0]
    assert a.policy == "consolidation"
    assert a.reason == "consolidation: utilisation 25% < threshold 50%; 1 pod(s) fit on wn-1"
    assert p.kept["wn-1"] == "receives pods of wn-3 (consolidation)"


def test_pdb_that_allows_no_disruption_blocks_the_drain() -> None:
    nodes = [used("wn-1", web("a")), used("wn-2", web("c", "3"))]
    pdb = DisruptionBudget("default", "web", APP, (), disruptions_allowed=0)
    p = run(nodes, [pdb])
    assert offs(p) == []
    assert p.kept["wn-1"] == (
        "consolidation blocked: default/a: PodDisruptionBudget default/web allows no disruption"
    )
    assert offs(run(nodes, [replace(pdb, disruptions_allowed=1)])) == ["wn-1"]


def test_pods_that_fit_nowhere_keep_the_node() -> None:
    nodes = [used("wn-1", web("a", "1")), used("wn-2", web("c", "3.5"))]
    p = run(nodes, threshold=0.3)
    assert offs(p) == []
    assert p.kept["wn-1"] == "consolidation: default/a (cpu=1 mem=1Gi) fits on no other node"


def test_budget_limits_nodes_disrupted_at_once() -> None:
    nodes = [used(f"wn-{i}", web(f"p{i}")) for i in range(1, 5)]
    p = run(nodes, threshold=0.5, max_disruption=2)
    # wn-1 and wn-3 empty onto wn-2 and wn-4 (which are reserved as receivers).
    assert offs(p) == ["wn-1", "wn-3"]
    assert p.kept["wn-2"] == "receives pods of wn-1 (consolidation)"
    draining = [make_node("wn-8", "wn", S.DRAINING)]
    p = run(nodes + draining, max_disruption=2)
    assert offs(p) == ["wn-1"]
    assert p.kept["wn-3"] == "consolidation: max_disruption 2 reached"


def test_protected_label_bare_pods_and_scale_up_block() -> None:
    label = {"clues-py.io/scale-down-disabled": "true"}
    nodes = [used("wn-1", web("a"), labels=label), used("wn-2", web("c", "3"))]
    p = run(nodes)
    assert offs(p) == []
    assert p.kept["wn-1"].endswith("protected by label clues-py.io/scale-down-disabled=true")
    bare = [used("wn-1", make_pod("solo", owner_kind="")), used("wn-2", web("c", "3"))]
    assert run(bare).kept["wn-1"].endswith("no controller would recreate it (bare pod)")
    booting = [used("wn-1", web("a")), used("wn-2", web("c")), make_node("wn-3")]
    p = run(booting, pending=[make_pod("big", "4", "8Gi")])
    assert offs(p) == [] and p.kept["wn-1"] == "consolidation: not while nodes are being powered on"


def test_daemonset_only_node_is_idle_off_business_not_consolidation() -> None:
    ds = make_node("wn-1", "wn", S.IDLE, pods=[make_pod("ds", node="wn-1", daemonset=True)])
    p = run([ds, used("wn-2", web("c"))])
    assert [a.policy for a in p.actions] == ["idle_off"] and offs(p) == ["wn-1"]
