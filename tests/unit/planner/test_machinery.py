"""Planner machinery: the first-fit tree, the plan builder, the default pipeline."""

from __future__ import annotations

import gc
import random
import weakref
from importlib.metadata import entry_points

import pytest

from clues_py.daemon.pipeline import default_policies
from clues_py.model import Action, ActionKind, NodeState
from clues_py.planner import PlanBuilder, PlannerSettings, Policy, plan
from clues_py.planner.firstfit import MaxTree
from tests.factories import make_node, make_snapshot, make_template


def test_maxtree_matches_linear_first_fit() -> None:
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 80)
        tree, free = MaxTree(n), []
        for i in range(n):
            free.append([rng.randint(-2, 6) for _ in range(4)])
            tree.set(i, *free[i])
        for _ in range(20):
            lo = rng.randint(0, n + 1)
            req = [rng.randint(0, 6), rng.randint(0, 6), rng.randint(0, 2), rng.randint(1, 6)]
            want = next(
                (i for i in range(lo, n) if all(f >= r for f, r in zip(free[i], req, strict=True))),
                -1,
            )
            assert tree.find(lo, *req) == want


def test_builder_rules() -> None:
    snap = make_snapshot(
        [make_node("a", enabled=False), make_node("b", "wn", NodeState.IDLE)], [make_template()]
    )
    b = PlanBuilder(snap)
    assert b.kept == {"a": "disabled"}
    with pytest.raises(ValueError, match="no reason"):
        b.add(Action(ActionKind.POWER_ON, "b", "wn", ""))
    assert not b.add(Action(ActionKind.POWER_ON, "a", "wn", "x"))
    off = Action(ActionKind.POWER_OFF, "b", "wn", "idle")
    assert b.add(off) and not b.add(Action(ActionKind.POWER_OFF, "b", "wn", "again"))
    b.reserve("b", "needed")
    assert b.actions == [] and b.kept["b"] == "needed"
    assert not b.add(off)
    on = Action(ActionKind.POWER_ON, "c", "wn", "demand", pods=("ns/p",))
    b.add(on)
    b.veto(on, "limit")
    assert b.build().unplaceable == {"ns/p": "limit"} and b.kept["c"] == "left off: limit"


def test_default_pipeline_and_entry_points() -> None:
    policies = default_policies(PlannerSettings())
    assert [p.name for p in policies] == [
        "scale_up",
        "min_nodes",
        "pack_down",
        "idle_off",
        "limits",
    ]
    assert all(isinstance(p, Policy) for p in policies)
    registered = {e.name: e.value for e in entry_points(group="clues_py.policies")}
    for p in policies:
        assert registered[p.name] == f"{type(p).__module__}:{type(p).__name__}"


def test_custom_policy_runs_in_order() -> None:
    class Veto:
        name = "veto_all"

        def apply(self, snap, builder) -> None:
            for a in builder.actions:
                builder.veto(a, "frozen by operator")

    snap = make_snapshot([make_node("n", "wn", NodeState.IDLE)], [make_template()], now=10_000)
    p = plan(snap, [*default_policies(PlannerSettings(idle_time=0)), Veto()])
    assert p.actions == () and p.kept["n"] == "frozen by operator"


def test_bad_settings_are_rejected_with_the_key() -> None:
    from plugins.policies.idle_off import IdleOff
    from plugins.policies.limits import Limits

    with pytest.raises(ValueError, match="idle_time must be >= 0"):
        IdleOff(IdleOff.Config(idle_time=-1))
    with pytest.raises(ValueError, match="max_booting must be >= 0"):
        Limits(Limits.Config(max_booting=-1))


def test_a_built_plan_holds_no_cycle_back_to_its_builder() -> None:
    # Reference counting alone frees the builder (and its snapshot) once the plan is built:
    # with a cycle every pass left them for the cyclic collector's full scans.
    snap = make_snapshot(
        [make_node("a", enabled=False), make_node("b", "wn", NodeState.IDLE)], [make_template()]
    )
    was = gc.isenabled()
    gc.disable()
    try:
        b = PlanBuilder(snap)
        b.kept["b"] = "kept for the test"
        gone = weakref.ref(b)
        built = b.build()
        del b
        assert gone() is None
    finally:
        if was:
            gc.enable()
    assert built.kept == {"a": "disabled", "b": "kept for the test"}
    with pytest.raises(TypeError, match="read-only"):
        built.kept["b"] = "changed after the plan was built"
