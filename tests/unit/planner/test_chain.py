"""Expanders and the expander chain: template choice, tie-breaking, GPU nodes, chain rules."""

from __future__ import annotations

import pytest

from clues_py.model import NodeState
from clues_py.planner import plan
from clues_py.planner.chain import ChainError, ExpanderChain, Option, check_chain
from plugins.expanders.cheapest import Cheapest
from plugins.expanders.least_waste import LeastWaste
from plugins.expanders.lowest_energy import LowestEnergy
from plugins.expanders.priority import Priority
from plugins.expanders.random import Random
from plugins.policies.scale_up import ScaleUp
from tests.factories import make_node, make_pod, make_resources, make_snapshot, make_template
from tests.unit.planner.helpers import ons

S = NodeState


def opt(t, pods: int = 1, cpu: str = "1", mem: str = "1Gi") -> Option:
    return Option(t, pods, make_resources(cpu, mem, 0, pods).scale(1))


def run_with(snap, *expanders, gpu_for_cpu: bool = False):
    su = ScaleUp(ScaleUp.Config(gpu_nodes_for_cpu_work=gpu_for_cpu))
    su.chain = ExpanderChain(list(expanders)) if expanders else None
    return plan(snap, [su])


def test_each_expander_filters_to_its_best_set() -> None:
    cheap = make_template("cheap", "4", "8Gi", cost=0.1)
    dear = make_template("dear", "4", "8Gi", cost=1.0, priority=5)
    big = make_template("big", "16", "64Gi", cost=0.1)
    options = [opt(cheap), opt(dear), opt(big)]
    assert [o.template.name for o in Cheapest().best(options)] == ["cheap", "big"]
    assert [o.template.name for o in Priority().best(options)] == ["dear"]
    assert [o.template.name for o in LeastWaste().best(options)] == ["cheap", "dear"]
    per_pod = Cheapest(Cheapest.Config(per_pod=True))
    assert [o.template.name for o in per_pod.best([opt(dear, 1), opt(big, 10)])] == ["big"]


def test_priority_expander_config_overrides_template_priority() -> None:
    a, b = make_template("a", priority=10), make_template("b", priority=0)
    pr = Priority(Priority.Config(priorities={"b": 20}))
    assert [o.template.name for o in pr.best([opt(a), opt(b)])] == ["b"]


def test_lowest_energy_interpolates_between_idle_and_busy_watts() -> None:
    from dataclasses import replace

    lean = replace(make_template("lean"), watts_idle=50, watts_busy=150)
    hungry = replace(make_template("hungry"), watts_idle=100, watts_busy=120)
    # 1 of 4 cores used: lean 75 W, hungry 105 W; a full node: lean 150 W, hungry 120 W.
    assert LowestEnergy().best([opt(lean), opt(hungry)])[0].template.name == "lean"
    full = [opt(lean, 4, "4", "4Gi"), opt(hungry, 4, "4", "4Gi")]
    assert LowestEnergy().best(full)[0].template.name == "hungry"


def test_soonest_ready_prefers_the_fastest_boot_then_the_cheapest_cycle() -> None:
    from dataclasses import replace

    from plugins.expanders.soonest_ready import SoonestReady

    slow = replace(make_template("a-metal"), boot_seconds=180, shutdown_seconds=60)
    fast = replace(make_template("b-vm"), boot_seconds=30, shutdown_seconds=15, watts_idle=200)
    frugal = replace(make_template("c-vm"), boot_seconds=30, shutdown_seconds=15, watts_idle=80)
    kept = SoonestReady().best([opt(slow), opt(fast), opt(frugal)])
    assert [o.template.name for o in kept] == ["c-vm"]
    assert len(SoonestReady().best([opt(slow), opt(slow)])) == 2, "equal ones stay tied"


def test_random_is_seeded_and_deterministic() -> None:
    ts = [make_template(f"t{i}") for i in range(6)]
    options = [opt(t) for t in ts]
    picks = {Random(Random.Config(seed=s)).best(options)[0].template.name for s in range(30)}
    assert len(picks) > 1, "different seeds pick different templates"
    r = Random(Random.Config(seed=7))
    assert r.best(options) == r.best(list(reversed(options)))


def test_chain_breaks_ties_in_order_and_falls_back_to_name() -> None:
    a = make_template("a", cost=1.0)
    b = make_template("b", "8", "16Gi", cost=1.0)
    c = make_template("c", cost=2.0)
    chosen, by = ExpanderChain([Cheapest(), LeastWaste()]).choose([opt(c), opt(b), opt(a)])
    assert chosen is not None and chosen.template.name == "a" and by == "least_waste"
    chosen, by = ExpanderChain([Cheapest()]).choose([opt(c), opt(a)])
    assert chosen is not None and chosen.template.name == "a" and by == "cheapest"
    chosen, by = ExpanderChain([]).choose([opt(b), opt(a)])
    assert chosen is not None and chosen.template.name == "a" and by == "name"


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["cheapest", "cheapest"], "listed twice"),
        (["random", "cheapest"], "put 'random' last"),
    ],
)
def test_chains_that_make_no_sense_are_rejected(names, message) -> None:
    with pytest.raises(ChainError, match=message) as err:
        check_chain(names)
    assert err.value.index == 1 if names[0] == names[1] else err.value.index == 0
    check_chain(["priority", "cheapest", "least_waste", "random"])


def test_hybrid_burst_on_prem_first_then_cloud() -> None:
    onprem = make_template("onprem", "4", "8Gi", count=2, cost=0.0, priority=10)
    cloud = make_template("cloud", "4", "8Gi", count=5, cost=0.4)
    nodes = [make_node(f"onprem-{i}", "onprem") for i in (1, 2)]
    nodes += [make_node(f"cloud-{i}", "cloud") for i in range(1, 6)]
    pending = [make_pod(f"p{i}", "4", "8Gi") for i in range(4)]
    snap = make_snapshot(nodes, [onprem, cloud], pending=pending)
    p = run_with(snap, Priority(), Cheapest())
    assert ons(p) == ["onprem-1", "onprem-2", "cloud-1", "cloud-2"]
    assert "chosen by expander priority among cloud, onprem" in p.actions[0].reason
    # With the on-prem nodes taken, the cloud is the only option left: no expander needed.
    assert "expander" not in p.actions[2].reason


def test_cheapest_then_least_waste_chain_changes_choice() -> None:
    small = make_template("small", "2", "4Gi", count=3, cost=0.2)
    large = make_template("large", "8", "16Gi", count=3, cost=0.2, priority=1)
    nodes = [make_node(f"small-{i}", "small") for i in (1, 2, 3)]
    nodes += [make_node(f"large-{i}", "large") for i in (1, 2, 3)]
    snap = make_snapshot(nodes, [small, large], pending=[make_pod("p", "2", "4Gi")])
    assert ons(run_with(snap)) == ["large-1"], "default chain: priority first"
    assert ons(run_with(snap, Cheapest(), LeastWaste())) == ["small-1"]


def test_gpu_templates_only_for_gpu_work_by_default() -> None:
    gpu = make_template("gpu", "8", "32Gi", gpus=2, count=2, priority=10)
    cpu = make_template("cpu", "4", "8Gi", count=1)
    nodes = [make_node("gpu-1", "gpu"), make_node("gpu-2", "gpu"), make_node("cpu-1", "cpu")]
    pending = [make_pod("web-0", "1", "1Gi"), make_pod("web-1", "1", "1Gi")]
    p = run_with(make_snapshot(nodes, [gpu, cpu], pending=pending))
    assert ons(p) == ["cpu-1"], "the higher-priority GPU template is not an option"
    # A GPU node opened for GPU work takes CPU pods into its spare room (no extra node).
    pending.append(make_pod("train", "2", "4Gi", gpus=1))
    p = run_with(make_snapshot(nodes, [gpu, cpu], pending=pending))
    by_node = {a.node: a.pods for a in p.actions}
    assert by_node == {"gpu-1": ("default/train", "default/web-0", "default/web-1")}
    # CPU work that only a GPU template could hold is reported, not served.
    big = [make_pod("big", "8", "16Gi")]
    p = run_with(make_snapshot(nodes, [gpu, cpu], pending=big))
    assert ons(p) == []
    assert p.unplaceable["default/big"].startswith(
        "fits only GPU template(s) gpu, kept for GPU work"
    )
    p = run_with(make_snapshot(nodes, [gpu, cpu], pending=big), gpu_for_cpu=True)
    assert ons(p) == ["gpu-1"]


def test_gpu_pod_never_opens_a_cpu_only_template() -> None:
    cpu = make_template("cpu", "4", "8Gi", count=2)
    snap = make_snapshot(
        [make_node("cpu-1", "cpu")], [cpu], pending=[make_pod("g", "1", "1Gi", gpus=1)]
    )
    p = run_with(snap)
    assert ons(p) == []
    assert p.unplaceable["default/g"].startswith("fits no template")


def test_free_room_on_a_running_gpu_node_still_serves_cpu_work() -> None:
    gpu = make_template("gpu", "8", "32Gi", gpus=2, count=1)
    node = make_node("gpu-1", "gpu", S.IDLE, cpu="8", mem="32Gi", gpus=2)
    p = run_with(make_snapshot([node], [gpu], pending=[make_pod("w", "1", "1Gi")]))
    assert ons(p) == [] and "fits on existing node gpu-1" in p.unplaceable["default/w"]
