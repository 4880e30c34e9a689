"""Scale-up: packing onto free, booting and new capacity; template matching; reasons."""

from __future__ import annotations

from clues_py.model import NodeState, Taint, Toleration
from tests.factories import make_hidden, make_node, make_pod, make_snapshot, make_template
from tests.unit.planner.helpers import ons, run

S = NodeState


def off_nodes(template: str, n: int) -> list:
    return [make_node(f"{template}-{i}", template) for i in range(1, n + 1)]


def pending(n: int, cpu: str = "1", mem: str = "2Gi", prefix: str = "job", **kw) -> list:
    return [make_pod(f"{prefix}-{i}", cpu, mem, namespace="oscar", **kw) for i in range(n)]


def test_ten_small_pods_need_three_nodes() -> None:
    snap = make_snapshot(off_nodes("wn", 5), [make_template("wn", "4", "8Gi")], pending=pending(10))
    p = run(snap)
    assert ons(p) == ["wn-1", "wn-2", "wn-3"]
    first = p.actions[0]
    assert first.reason == (
        "4 pending pods (oscar/job-0, oscar/job-1, +2 more) need cpu=4 mem=8Gi; "
        "no free or booting capacity"
    )
    assert len(first.pods) == 4 and first.policy == "scale_up"
    assert sum(len(a.pods) for a in p.actions) == 10
    assert p.actions[2].reason.startswith("2 pending pods")


def test_free_room_first_no_power_on() -> None:
    busy = make_node("wn-1", "wn", S.USED, pods=[make_pod("run", "1", "2Gi")])
    snap = make_snapshot(
        [busy, *off_nodes("wn", 3)[1:]], [make_template("wn")], pending=pending(2, "1", "2Gi")
    )
    p = run(snap)
    assert ons(p) == []
    assert p.unplaceable["oscar/job-0"].startswith("fits on existing node wn-1")


def test_unmanaged_free_room_counts() -> None:
    from tests.factories import make_observation

    master = make_observation("master", cpu="8", mem="16Gi")
    snap = make_snapshot(
        off_nodes("wn", 2), [make_template("wn")], pending=pending(3), unmanaged=[master]
    )
    p = run(snap)
    assert ons(p) == [] and "fits on existing node master" in p.unplaceable["oscar/job-2"]


def test_cordoned_and_not_ready_nodes_offer_no_room() -> None:
    cordoned = make_node("wn-1", "wn", S.IDLE, unschedulable=True)
    notready = make_node("wn-2", "wn", S.IDLE, ready=False)
    snap = make_snapshot(
        [cordoned, notready, make_node("wn-3")], [make_template("wn")], pending=pending(1)
    )
    assert ons(run(snap)) == ["wn-3"]


def test_booting_capacity_absorbs_demand() -> None:
    booting = make_node("wn-1", "wn", S.POWERING_ON, since=990)
    snap = make_snapshot(
        [booting, *off_nodes("wn", 3)[1:]], [make_template("wn", "4", "8Gi")], pending=pending(6)
    )
    p = run(snap)
    assert ons(p) == ["wn-2"]  # 4 wait for wn-1, 2 need one more node
    assert p.unplaceable["oscar/job-0"] == "waits for booting node wn-1"
    assert len(p.actions[0].pods) == 2


def test_mixed_sizes_first_fit_decreasing() -> None:
    # 4 cpu nodes: FFD puts each 3-cpu pod with a 1-cpu pod -> 3 nodes (not 4).
    pods = pending(3, "3", "1Gi", prefix="big") + pending(3, "1", "1Gi", prefix="small")
    snap = make_snapshot(off_nodes("wn", 6), [make_template("wn", "4", "8Gi")], pending=pods)
    p = run(snap)
    assert ons(p) == ["wn-1", "wn-2", "wn-3"]
    assert all(len(a.pods) == 2 for a in p.actions)


def test_hidden_demand_counts_as_pods() -> None:
    snap = make_snapshot(
        off_nodes("wn", 5),
        [make_template("wn", "4", "8Gi")],
        hidden=[make_hidden("batch", 6, "2", "2Gi", namespace="oscar")],
    )
    p = run(snap)
    assert ons(p) == ["wn-1", "wn-2", "wn-3"]
    assert p.actions[0].pods == ("workload:oscar/batch",)
    assert p.actions[0].reason.startswith("2 pending pods (workload:oscar/batch)")
    assert p.counted == {"workload:oscar/batch": 6}


def test_too_big_pod_is_unplaceable_without_power_on() -> None:
    snap = make_snapshot(
        off_nodes("wn", 2),
        [make_template("wn", "4", "8Gi")],
        pending=[make_pod("huge", "8", "4Gi")],
    )
    p = run(snap)
    assert p.actions == ()
    assert p.unplaceable["default/huge"] == (
        "fits no template: needs cpu=8 mem=4Gi, largest template wn has cpu=4 mem=8Gi"
    )


def test_gpu_pod_only_on_gpu_template() -> None:
    templates = [
        make_template("wn", "4", "8Gi", cost=0.1),
        make_template("gpu", "8", "32Gi", gpus=2, cost=3.0),
    ]
    nodes = off_nodes("wn", 2) + off_nodes("gpu", 2)
    snap = make_snapshot(nodes, templates, pending=[make_pod("train", "2", "4Gi", gpus=1)])
    assert ons(run(snap)) == ["gpu-1"]
    no_gpu = make_snapshot(off_nodes("wn", 2), templates[:1], pending=snap.demand.pods)
    p = run(no_gpu)
    assert p.actions == () and "fits no template" in p.unplaceable["default/train"]
    assert "gpu=1" in p.unplaceable["default/train"]


def test_selector_and_taints() -> None:
    taint = Taint("dedicated", "gpu", "NoSchedule")
    templates = [
        make_template("wn", labels={"zone": "a"}),
        make_template("tainted", labels={"zone": "b"}, taints=[taint]),
    ]
    nodes = off_nodes("wn", 2) + off_nodes("tainted", 2)
    wants_b = make_pod("b", selector={"zone": "b"})
    snap = make_snapshot(nodes, templates, pending=[wants_b])
    p = run(snap)
    assert p.actions == ()
    assert p.unplaceable["default/b"] == (
        "no template matches its placement: tainted: node(s) had untolerated taint; "
        "wn: node(s) didn't match Pod's node affinity/selector"
    )
    tolerant = make_pod(
        "b", selector={"zone": "b"}, tolerations=[Toleration("dedicated", "Exists")]
    )
    assert ons(run(make_snapshot(nodes, templates, pending=[tolerant]))) == ["tainted-1"]
    # A pod without selector never lands on the tainted template.
    assert ons(run(make_snapshot(nodes, templates, pending=[make_pod("x")]))) == ["wn-1"]


def test_selector_respected_on_existing_nodes() -> None:
    on_a = make_node("wn-1", "wn", S.IDLE, labels={"zone": "a"})
    snap = make_snapshot(
        [on_a, make_node("wn-2")],
        [make_template("wn", labels={"zone": "b"})],
        pending=[make_pod("p", selector={"zone": "b"})],
    )
    assert ons(run(snap)) == ["wn-2"]


def test_template_choice_priority_then_cost_then_waste() -> None:
    cheap = make_template("cheap", "4", "8Gi", cost=0.1)
    dear = make_template("dear", "4", "8Gi", cost=1.0)
    nodes = off_nodes("cheap", 1) + off_nodes("dear", 1)
    pod = [make_pod("p")]
    assert ons(run(make_snapshot(nodes, [cheap, dear], pending=pod))) == ["cheap-1"]
    preferred = make_template("dear", "4", "8Gi", cost=1.0, priority=5)
    assert ons(run(make_snapshot(nodes, [cheap, preferred], pending=pod))) == ["dear-1"]
    small = make_template("small", "2", "4Gi")
    large = make_template("large", "16", "64Gi")
    nodes = off_nodes("small", 1) + off_nodes("large", 1)
    assert ons(run(make_snapshot(nodes, [small, large], pending=pod))) == ["small-1"]


def test_max_count_and_retry_at_limit_candidates() -> None:
    t = make_template("wn", max_count=2)
    nodes = [
        make_node("wn-1", "wn", S.USED, pods=[make_pod("r", "4", "8Gi")]),
        make_node("wn-2", retry_at=5000.0),  # failed recently: not before t=5000
        make_node("wn-3"),
        make_node("wn-4"),
    ]
    p = run(make_snapshot(nodes, [t], pending=pending(3, "4", "8Gi")))
    assert ons(p) == ["wn-3"]
    assert p.unplaceable["oscar/job-1"] == "no node left to power on: wn: max_count 2 reached"


def test_disabled_nodes_are_never_powered_on() -> None:
    nodes = [make_node("wn-1", enabled=False), make_node("wn-2")]
    p = run(make_snapshot(nodes, [make_template("wn")], pending=pending(1)))
    assert ons(p) == ["wn-2"] and p.kept["wn-1"] == "disabled"


def test_pending_grace() -> None:
    young = make_pod("young", created=995.0)
    snap = make_snapshot(off_nodes("wn", 1), [make_template("wn")], pending=[young], now=1000.0)
    p = run(snap, pending_grace=10)
    assert (
        p.actions == () and p.unplaceable["default/young"] == "pending for 5 s < pending_grace 10 s"
    )
    assert ons(run(snap, pending_grace=5)) == ["wn-1"]


def test_deterministic_regardless_of_input_order() -> None:
    pods = pending(7, "1", "3Gi") + pending(5, "3", "1Gi", prefix="cpu")
    nodes = off_nodes("wn", 8)
    a = run(make_snapshot(nodes, [make_template("wn")], pending=pods))
    b = run(make_snapshot(nodes[::-1], [make_template("wn")], pending=pods[::-1]))
    assert a == b and a == run(make_snapshot(nodes, [make_template("wn")], pending=pods))
