"""keep_free: spare idle nodes / free cores kept ready, reserved from idle power-off."""

from __future__ import annotations

import pytest

from clues_py.model import NodeState
from clues_py.planner import plan
from plugins.policies.idle_off import IdleOff
from plugins.policies.keep_free import KeepFree
from plugins.policies.limits import Limits
from plugins.policies.scale_up import ScaleUp
from tests.factories import make_node, make_pod, make_snapshot, make_template
from tests.unit.planner.helpers import offs, ons

S = NodeState
WN = make_template("wn", "4", "8Gi")
GPU = make_template("gpu", "8", "32Gi", gpus=2)


def pipeline(**keep):
    return [
        ScaleUp(),
        KeepFree(KeepFree.Config(**keep)),
        IdleOff(IdleOff.Config(idle_time=60)),
        Limits(),
    ]


def test_keeps_one_idle_node_and_powers_off_the_rest() -> None:
    nodes = [make_node(f"wn-{i}", "wn", S.IDLE, since=i) for i in (1, 2, 3)]
    p = plan(make_snapshot(nodes, [WN], now=1000), pipeline(nodes=1))
    assert offs(p) == ["wn-1", "wn-2"]
    assert p.kept["wn-3"] == "keep_free nodes=1: kept ready as spare capacity"
    assert p.decided_by["wn-3"] == "keep_free"


def test_powers_on_when_no_spare_node_and_prefers_non_gpu() -> None:
    busy = make_node("wn-1", "wn", S.USED, pods=[make_pod("r", "4", "8Gi")])
    nodes = [busy, make_node("gpu-1", "gpu"), make_node("wn-2")]
    p = plan(make_snapshot(nodes, [WN, GPU]), pipeline(nodes=1))
    assert ons(p) == ["wn-2"]
    assert p.actions[0].policy == "keep_free"
    assert p.actions[0].reason == "keep_free nodes=1: only 0 spare node(s) / 0 spare cores"


def test_cpu_target_counts_free_cores_of_idle_and_booting_nodes() -> None:
    idle = make_node("wn-1", "wn", S.IDLE, pods=[make_pod("ds", "1", "1Gi", daemonset=True)])
    nodes = [idle, make_node("wn-2", "wn", S.POWERING_ON), make_node("wn-3"), make_node("wn-4")]
    p = plan(make_snapshot(nodes, [WN], now=1000), pipeline(cpu=10))
    # 3 free cores on wn-1 + 4 booting on wn-2 = 7 < 10: one more node (4 cores).
    assert ons(p) == ["wn-3"]
    assert offs(p) == [] and p.kept["wn-1"].startswith("keep_free cpu=10")


def test_capacity_claimed_by_demand_is_not_spare() -> None:
    nodes = [make_node("wn-1", "wn", S.IDLE), make_node("wn-2"), make_node("wn-3")]
    pending = [make_pod("p", "2", "2Gi")]
    p = plan(make_snapshot(nodes, [WN], pending=pending, now=1000), pipeline(nodes=1))
    # wn-1 takes the pending pod, so keep_free powers on another node.
    assert ons(p) == ["wn-2"] and p.actions[0].policy == "keep_free"


def test_limits_veto_keep_free_power_ons() -> None:
    nodes = [make_node("wn-1"), make_node("wn-2")]
    pol = [ScaleUp(), KeepFree(KeepFree.Config(nodes=2)), Limits(Limits.Config(max_nodes=1))]
    p = plan(make_snapshot(nodes, [WN]), pol)
    assert ons(p) == ["wn-1"]
    assert p.kept["wn-2"].startswith("left off: max_nodes reached")


def test_config_needs_a_target() -> None:
    with pytest.raises(ValueError, match="set `nodes:` or `cpu:`"):
        KeepFree(KeepFree.Config())
