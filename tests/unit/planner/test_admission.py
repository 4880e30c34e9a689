"""Demand that follows Kueue's admission protocol (decision 0010): what counts, what is held
and why, and the conditions clues-py sets on ProvisioningRequests."""

from __future__ import annotations

from clues_py.model import NodeState, QueueQuota, RequestUpdate, Resources
from clues_py.planner import plan
from plugins.policies.idle_off import IdleOff
from plugins.policies.scale_up import ScaleUp
from tests.factories import make_hidden, make_node, make_snapshot, make_template
from tests.unit.planner.helpers import offs, ons, run

S = NodeState
WN = make_template("wn", "4", "8Gi")
GI = 2**30
CQ = QueueQuota("oscar-cq", Resources(40_000, 80 * GI), Resources(38_000, 76 * GI), 3)
ATOMIC = "best-effort-atomic-scale-up.autoscaling.x-k8s.io"
CHECK = "check-capacity.autoscaling.x-k8s.io"


def off(n: int) -> list:
    return [make_node(f"wn-{i}") for i in range(1, n + 1)]


def request(name: str, count: int, cls: str = ATOMIC, **facts: object):
    return make_hidden(
        name, count, "2", "2Gi", kind="ProvisioningRequest", request_class=cls, **facts
    )


def updates(p) -> set[tuple[str, str, str, str]]:
    return {(u.name, u.type, u.status, u.reason) for u in p.requests}


def with_rules(snap, **options: object):
    return plan(snap, [ScaleUp(ScaleUp.Config(**options)), IdleOff(IdleOff.Config(idle_time=60))])


# ------------------------------------------------------------------ Jobs and Workloads


def test_paused_job_is_not_demand() -> None:
    job = make_hidden("paused", 2, kind="Job")
    p = run(make_snapshot(off(2), [WN], hidden=[job]))
    assert ons(p) == [] and p.counted == {}
    assert p.held["job:default/paused"].startswith("paused: suspended Job that no Kueue queue owns")


def test_queued_job_without_kueue_is_paused_and_with_kueue_waits_for_its_workload() -> None:
    job = make_hidden("j", 1, kind="Job", queue="oscar-lq")
    p = run(make_snapshot(off(1), [WN], hidden=[job]))
    assert ons(p) == [] and "Kueue is not installed" in p.held["job:default/j"]
    p = run(
        make_snapshot(
            off(1), [WN], hidden=[job], kueue=True, local_queues={"default/oscar-lq": "oscar-cq"}
        )
    )
    assert ons(p) == []
    assert p.held["job:default/j"] == (
        "queued in Kueue LocalQueue default/oscar-lq (ClusterQueue oscar-cq); Kueue has not "
        "created its Workload yet, so it is not demand"
    )


def test_workload_without_quota_waits_and_explains_the_quota() -> None:
    wl = make_hidden(
        "wl",
        2,
        reserved=False,
        queue="oscar-lq",
        message="couldn't assign flavors to pod set main: insufficient unused "
        "quota for cpu in flavor default, 2 more needed",
    )
    job = make_hidden("job-x", 2, kind="Job", queue="oscar-lq")
    wl = make_hidden(
        "wl", 2, reserved=False, queue="oscar-lq", owner="default/job-x", message=wl.message
    )
    snap = make_snapshot(
        off(2),
        [WN],
        hidden=[job, wl],
        kueue=True,
        queues=[CQ],
        local_queues={"default/oscar-lq": "oscar-cq"},
    )
    p = run(snap)
    assert ons(p) == [] and p.counted == {}
    why = p.held["workload:default/wl"]
    assert why.startswith(
        "waits for Kueue quota in ClusterQueue oscar-cq (cpu 38/40, memory 76Gi/80Gi used); "
        "Kueue: couldn't assign flavors"
    )
    assert p.held["job:default/job-x"] == f"counted once, as its Workload default/wl: {why}"


def test_reserved_workload_is_demand_once_with_its_job() -> None:
    job = make_hidden("job-x", 3, "2", "2Gi", kind="Job", queue="q")
    wl = make_hidden("wl", 3, "2", "2Gi", owner="default/job-x", cluster_queue="oscar-cq")
    p = run(make_snapshot(off(3), [WN], hidden=[job, wl], kueue=True))
    assert ons(p) == ["wn-1", "wn-2"]
    assert p.counted == {"workload:default/wl": 3}
    assert p.held["job:default/job-x"].startswith(
        "counted once, as its Workload default/wl: power_on wn-"
    )


def test_reserved_workload_on_free_room_holds_the_node_until_the_timeout() -> None:
    idle = make_node("wn-1", state=S.IDLE, since=0)
    wl = make_hidden("wl", 1, since=800.0, cluster_queue="cq")
    p = with_rules(make_snapshot([idle], [WN], hidden=[wl]), hidden_demand_timeout=300)
    assert offs(p) == [] and ons(p) == []
    assert p.unplaceable["workload:default/wl"] == (
        "counted on the free room of Ready node wn-1; Kueue reserved its quota; its pods are coming"
    )
    # 301 s after the reservation and still no pod: it lets the node go, with a warning.
    late = make_snapshot([idle], [WN], hidden=[wl], now=1101.0)
    p = with_rules(late, hidden_demand_timeout=300)
    assert offs(p) == ["wn-1"] and p.counted == {}
    why = p.held["workload:default/wl"]
    assert why == (
        "quota reserved in ClusterQueue cq 301 s ago and still no pod (hidden_demand_timeout "
        "300 s): no longer holds or powers on nodes"
    )
    assert p.warnings == {
        "workload:default/wl": "quota reserved in ClusterQueue cq, but no pod appeared within "
        "hidden_demand_timeout (300 s): clues-py no longer holds or powers on nodes for it"
    }


def test_rules_can_be_switched_back() -> None:
    job = make_hidden("paused", 1, kind="Job")
    wl = make_hidden("wl", 1, reserved=False)
    snap = make_snapshot(off(2), [WN], hidden=[job, wl])
    assert ons(with_rules(snap)) == []
    p = with_rules(snap, suspended_jobs=True, unreserved_workloads=True)
    assert ons(p) == ["wn-1"] and set(p.counted) == {"job:default/paused", "workload:default/wl"}
    reserved = make_hidden("r", 1)
    assert (
        ons(with_rules(make_snapshot(off(1), [WN], hidden=[reserved]), reserved_workloads=False))
        == []
    )


# ------------------------------------------------------------------ ProvisioningRequests


def test_request_that_fits_ready_capacity_is_provisioned_at_once() -> None:
    idle = make_node("wn-1", state=S.IDLE, since=0)
    p = run(make_snapshot([idle], [WN], hidden=[request("pr", 2, CHECK)]))
    assert ons(p) == []
    assert updates(p) == {
        ("pr", "Accepted", "True", "Accepted"),
        ("pr", "Provisioned", "True", "CapacityIsFound"),
    }


def test_request_needing_nodes_powers_them_on_and_waits() -> None:
    accepted = (("Accepted", "True", "Accepted"),)
    p = run(make_snapshot(off(3), [WN], hidden=[request("pr", 4, conditions=accepted)]))
    assert ons(p) == ["wn-1", "wn-2"]
    assert updates(p) == {("pr", "Provisioned", "False", "CapacityIsBeingProvisioned")}
    booting = [make_node(f"wn-{i}", state=S.POWERING_ON) for i in (1, 2)]
    waiting = accepted + (("Provisioned", "False", "CapacityIsBeingProvisioned"),)
    p = run(make_snapshot(booting, [WN], hidden=[request("pr", 4, conditions=waiting)]))
    assert ons(p) == [] and updates(p) == set()  # no repeated writes
    ready = [make_node(f"wn-{i}", state=S.IDLE, since=990) for i in (1, 2)]
    p = run(make_snapshot(ready, [WN], hidden=[request("pr", 4, conditions=waiting)]))
    assert updates(p) == {("pr", "Provisioned", "True", "CapacityIsFound")}


def test_atomic_request_powers_on_all_or_nothing() -> None:
    p = run(make_snapshot(off(2), [WN], hidden=[request("pr", 6)]))
    assert ons(p) == []
    assert p.unplaceable["provisioningrequest:default/pr"].startswith(
        "all or nothing (best-effort-atomic): 2 of 6 pods have no node, so none is powered on"
    )
    assert ("pr", "Provisioned", "False", "CapacityIsNotFound") in updates(p)
    # check-capacity is not atomic: it asks for what it can get.
    p = run(make_snapshot(off(2), [WN], hidden=[request("pr", 6, CHECK)]))
    assert ons(p) == ["wn-1", "wn-2"]


def test_request_no_template_can_hold_fails() -> None:
    big = make_hidden("pr", 1, "64", "1Ti", kind="ProvisioningRequest", request_class=ATOMIC)
    p = run(make_snapshot(off(2), [WN], hidden=[big]))
    assert ons(p) == []
    [failed] = [u for u in p.requests if u.type == "Failed"]
    assert failed == RequestUpdate(
        "default",
        "pr",
        "Failed",
        "True",
        "NoTemplateFits",
        "all or nothing (best-effort-atomic): 1 of 1 pods have no node, so none is powered on: "
        "fits no template: needs cpu=64 mem=1Ti, largest template wn has cpu=4 mem=8Gi",
    )


def test_provisioned_request_keeps_its_capacity_booked_until_pods_or_expiry() -> None:
    done = (("Accepted", "True", "Accepted"), ("Provisioned", "True", "CapacityIsFound"))
    idle = make_node("wn-1", state=S.IDLE, since=0)
    booked = request("pr", 2, conditions=done, provisioned_at=900.0)
    p = with_rules(make_snapshot([idle], [WN], hidden=[booked]))
    assert offs(p) == [] and p.counted == {"provisioningrequest:default/pr": 2}
    # Its pods arrived: nothing left to book, the node is the pods' business.
    arrived = request("pr", 2, conditions=done, provisioned_at=900.0, consumed=2)
    p = with_rules(make_snapshot([idle], [WN], hidden=[arrived]))
    assert offs(p) == ["wn-1"] and "its 2 pods arrived" in p.held["provisioningrequest:default/pr"]
    # No pods within booking_time: the booking expires, clues-py says so, the node goes.
    p = with_rules(make_snapshot([idle], [WN], hidden=[booked], now=1600.0), booking_time=600)
    assert offs(p) == ["wn-1"]
    assert updates(p) == {("pr", "BookingExpired", "True", "CapacityReservationTimeExpired")}


def test_booked_capacity_never_powers_a_node_on() -> None:
    done = (("Accepted", "True", "Accepted"), ("Provisioned", "True", "CapacityIsFound"))
    p = run(
        make_snapshot(
            off(2), [WN], hidden=[request("pr", 2, conditions=done, provisioned_at=990.0)]
        )
    )
    assert ons(p) == []
    assert p.unplaceable["provisioningrequest:default/pr"] == (
        "booked capacity no longer fits on Ready or booting nodes"
    )


def test_workload_with_a_request_counts_once_as_the_request() -> None:
    job = make_hidden("j", 2, "2", "2Gi", kind="Job", queue="q")
    wl = make_hidden("wl", 2, "2", "2Gi", cluster_queue="cq", owner="default/j")
    pr = request("wl-prov-1", 2, owner="default/wl")
    p = run(make_snapshot(off(2), [WN], hidden=[job, wl, pr]))
    assert p.held["job:default/j"].startswith(
        "counted once, as its Workload default/wl (through its ProvisioningRequest "
        "default/wl-prov-1): power_on wn-1"
    )
    assert p.counted == {"provisioningrequest:default/wl-prov-1": 2}
    assert p.held["workload:default/wl"].startswith(
        "counted once, as its ProvisioningRequest default/wl-prov-1: power_on wn-1"
    )


def test_requests_of_other_classes_or_finished_are_left_alone() -> None:
    other = request("x", 1, "queued-provisioning.gke.io")
    failed = request("f", 1, conditions=(("Failed", "True", "NoTemplateFits"),))
    p = run(make_snapshot(off(2), [WN], hidden=[other, failed]))
    assert ons(p) == [] and updates(p) == set()
    assert "is not served by clues-py" in p.held["provisioningrequest:default/x"]
    assert p.held["provisioningrequest:default/f"] == "Failed: not demand any more"
    assert (
        ons(
            with_rules(
                make_snapshot(off(1), [WN], hidden=[request("p", 1)]), provisioning_requests=False
            )
        )
        == []
    )
