"""Limits on cores, memory and cost per hour (max_booting/max_nodes: tests/unit/planner)."""

from __future__ import annotations

import pytest

from clues_py.model import NodeState
from clues_py.planner import plan
from plugins.policies.limits import Limits
from plugins.policies.scale_up import ScaleUp
from tests.factories import make_node, make_pod, make_snapshot, make_template
from tests.unit.planner.helpers import ons

S = NodeState
WN = make_template("wn", "4", "8Gi", cost=0.5)


def run(nodes, n_pods, **limits):
    pending = [make_pod(f"p{i}", "4", "8Gi") for i in range(n_pods)]
    return plan(
        make_snapshot(nodes, [WN], pending=pending), [ScaleUp(), Limits(Limits.Config(**limits))]
    )


def nodes(on: int = 1, off: int = 5):
    out = [
        make_node(f"wn-{i}", "wn", S.USED, pods=[make_pod(f"r{i}", "4", "8Gi")]) for i in range(on)
    ]
    return out + [make_node(f"wn-{on + i}") for i in range(off)]


def test_max_cores_counts_nodes_on_and_planned() -> None:
    p = run(nodes(), 4, max_cores=12)
    assert ons(p) == ["wn-1", "wn-2"]
    assert p.unplaceable["default/p2"] == (
        "max_cores would be exceeded (12 cores on or booting + 4 > max_cores 12)"
    )


def test_max_memory_accepts_quantities() -> None:
    p = run(nodes(), 4, max_memory="24Gi")
    assert ons(p) == ["wn-1", "wn-2"]
    assert (
        "max_memory would be exceeded (24Gi on or booting + 8Gi > max_memory 24Gi)"
        in (p.unplaceable["default/p3"])
    )


def test_max_cost_per_hour() -> None:
    p = run(nodes(), 4, max_cost_per_hour=1.5)
    assert ons(p) == ["wn-1", "wn-2"]
    assert p.kept["wn-3"].startswith("left off: max_cost_per_hour would be exceeded (1.5/h")


def test_bad_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_memory"):
        Limits(Limits.Config(max_memory="lots"))
    with pytest.raises(ValueError, match="max_cores must be >= 0"):
        Limits(Limits.Config(max_cores=-1))
