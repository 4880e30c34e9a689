"""Drain rules: which pods block a drain, which stay, and PDB arithmetic per node."""

from __future__ import annotations

from dataclasses import replace

from clues_py.model import DisruptionBudget, SelectorRequirement
from clues_py.planner.drainability import DrainContext, Outcome, check_node, check_pod
from tests.factories import make_pod

WEB = (("app", "web"),)


def web(name: str):
    return replace(make_pod(name, node="n1", owner_kind="ReplicaSet"), labels=WEB)


def pdb(allowed: int, namespace: str = "default") -> DisruptionBudget:
    return DisruptionBudget(namespace, "web-pdb", WEB, (), allowed)


def test_daemonset_and_mirror_pods_stay_and_do_not_block() -> None:
    ctx = DrainContext.of([])
    assert check_pod(make_pod("ds", node="n1", daemonset=True), ctx).outcome is Outcome.SKIP
    assert check_pod(make_pod("m", node="n1", mirror=True), ctx).rule == "mirror"
    check = check_node([make_pod("ds", node="n1", daemonset=True)], ctx)
    assert check.ok and check.evict == ()


def test_protected_bare_and_local_storage_pods_block() -> None:
    ctx = DrainContext.of([])
    v = check_pod(make_pod("p", node="n1", protected=True), ctx)
    assert v.outcome is Outcome.BLOCK and "safe-to-evict" in v.reason
    assert check_pod(make_pod("bare", node="n1", owner_kind=""), ctx).rule == "unreplicated"
    local = replace(make_pod("cache", node="n1"), local_storage=True)
    assert check_pod(local, ctx).rule == "local_storage"
    assert check_pod(local, DrainContext.of([], block_local_storage=False)).outcome is Outcome.EVICT


def test_pdb_blocks_when_no_disruption_is_allowed() -> None:
    v = check_pod(web("w1"), DrainContext.of([pdb(0)]))
    assert v.outcome is Outcome.BLOCK and "PodDisruptionBudget default/web-pdb" in v.reason
    assert check_pod(web("w1"), DrainContext.of([pdb(0, "other")])).outcome is Outcome.EVICT


def test_pdb_counts_all_pods_of_the_node_together() -> None:
    check = check_node([web("w1"), web("w2")], DrainContext.of([pdb(1)]))
    assert not check.ok
    assert check.blocked == (
        "PodDisruptionBudget default/web-pdb allows 1 disruption(s), the drain needs 2",
    )
    check = check_node([web("w1"), web("w2")], DrainContext.of([pdb(2)]))
    assert check.ok and check.pdb_use == {"default/web-pdb": 2}


def test_pdb_match_expressions() -> None:
    b = DisruptionBudget("default", "x", (), (SelectorRequirement("app", "In", ("web", "api")),), 0)
    assert b.selects(web("w"))
    assert not b.selects(make_pod("other"))
