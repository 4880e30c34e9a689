"""Which hidden work is demand: the rules that follow Kueue's admission protocol (decision 0015).

The backend reports facts (`HiddenDemand`: suspended Jobs, Kueue Workloads,
ProvisioningRequests); `classify` turns them into verdicts, in one place:

| work | demand? |
|---|---|
| ProvisioningRequest of a served class, neither Provisioned nor Failed | yes (atomic class: all pods or none) |
| ProvisioningRequest Provisioned, booking not expired, pods not all arrived | booked: holds Ready capacity, never powers on |
| Workload with reserved quota (QuotaReserved=True), not yet Admitted | yes, for `hidden_demand_timeout` seconds |
| Workload without reserved quota | no: waits for Kueue quota |
| suspended Job with a Workload | counted once, as its Workload |
| suspended Job with a Kueue queue label | no: Kueue decides when it runs |
| suspended Job without a queue (paused by hand) | no |

Each "no" is switchable (`Rules`) and comes with the reason `clues explain` shows. The
conditions clues-py sets on ProvisioningRequests that do not depend on packing (Accepted,
BookingExpired) are decided here; Provisioned and Failed follow the packing
(`request_updates`). Packing itself is `packing.py`'s; the scale-up policy wires both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from clues_py.model import (
    ClusterSnapshot,
    HiddenDemand,
    QueueQuota,
    RequestUpdate,
    due_at,
    format_bytes,
    format_cpu,
)

__all__ = [
    "ATOMIC_CLASSES",
    "SERVED_CLASSES",
    "Admission",
    "Rules",
    "classify",
    "quota_text",
    "request_updates",
]

CHECK_CAPACITY = "check-capacity.autoscaling.x-k8s.io"
BEST_EFFORT_ATOMIC = "best-effort-atomic-scale-up.autoscaling.x-k8s.io"
SERVED_CLASSES = (CHECK_CAPACITY, BEST_EFFORT_ATOMIC)
ATOMIC_CLASSES = (BEST_EFFORT_ATOMIC,)
# Reasons clues-py writes on ProvisioningRequests (Cluster Autoscaler's where one exists).
ACCEPTED = ("Accepted", "ProvisioningRequest is accepted by clues-py")
FOUND = "CapacityIsFound"
BEING_PROVISIONED = "CapacityIsBeingProvisioned"
NOT_FOUND = "CapacityIsNotFound"
NO_TEMPLATE = "NoTemplateFits"
EXPIRED = "CapacityReservationTimeExpired"


@dataclass(frozen=True)
class Rules:
    """What counts as demand besides pending pods; the `scale_up` policy's options."""

    suspended_jobs: bool = False  # suspended Jobs without a Workload (pre-0015 behaviour)
    unreserved_workloads: bool = False  # Workloads Kueue has reserved no quota for
    reserved_workloads: bool = True  # Workloads holding quota while admission checks run
    provisioning_requests: bool = True  # act as the autoscaler of ProvisioningRequests
    booking_time: float = 600.0  # s a Provisioned request keeps its capacity booked
    hidden_demand_timeout: float = 600.0  # s hidden demand may hold nodes without pods


@dataclass
class Admission:
    """The verdicts of one pass: what to pack, what is held back and why."""

    counted: list[HiddenDemand] = field(default_factory=list)  # may power nodes on
    booked: list[HiddenDemand] = field(default_factory=list)  # holds Ready capacity only
    held: dict[str, str] = field(default_factory=dict)  # key -> why it is not demand
    warnings: dict[str, str] = field(default_factory=dict)
    updates: list[RequestUpdate] = field(default_factory=list)
    # key -> key whose reason it shows (a Job -> its Workload -> its ProvisioningRequest)
    alias: dict[str, str] = field(default_factory=dict)
    # ProvisioningRequest "ns/name" -> its counted entries (for Provisioned/Failed after packing)
    requests: dict[str, list[HiddenDemand]] = field(default_factory=dict)
    atomic: set[str] = field(default_factory=set)  # request "ns/name" packed all-or-nothing
    # A verdict may change then with nothing else changing (a booking or a timeout ends).
    revisit_at: float = math.inf

    def revisit(self, at: float) -> None:
        self.revisit_at = min(self.revisit_at, at)

    def reason_of(self, key: str, reasons: Mapping[str, str]) -> str | None:
        """The reason shown for `key`, following aliases (at most a few hops)."""
        for _ in range(4):
            if key in reasons:
                return reasons[key]
            nxt = self.alias.get(key)
            if nxt is None:
                return None
            key = nxt
        return None


def quota_text(q: QueueQuota) -> str:
    """'cpu 38/40, memory 76Gi/80Gi used' for the dimensions the ClusterQueue has quota for."""
    parts = []
    if q.nominal.cpu_millis:
        parts.append(f"cpu {format_cpu(q.used.cpu_millis)}/{format_cpu(q.nominal.cpu_millis)}")
    if q.nominal.memory_bytes:
        parts.append(
            f"memory {format_bytes(q.used.memory_bytes)}/{format_bytes(q.nominal.memory_bytes)}"
        )
    if q.nominal.gpus:
        parts.append(f"gpu {q.used.gpus}/{q.nominal.gpus}")
    return (", ".join(parts) + " used") if parts else "no quota"


def _update(h: HiddenDemand, type_: str, status: str, reason: str, message: str) -> RequestUpdate:
    return RequestUpdate(h.namespace, h.name, type_, status, reason, message)


class _Classifier:
    def __init__(self, snap: ClusterSnapshot, rules: Rules) -> None:
        self.snap, self.rules, self.now = snap, rules, snap.now
        self.out = Admission()
        demand = snap.demand
        self.queues = {q.name: q for q in demand.queues}
        self.local = dict(demand.local_queues)
        served = [h for h in demand.hidden if h.kind == "ProvisioningRequest"]
        # Workload "ns/name" -> key of the live request asking capacity for it
        self.request_of: dict[str, str] = {}
        if rules.provisioning_requests:
            for h in served:
                if h.request_class in SERVED_CLASSES and h.owner and self._live(h):
                    self.request_of.setdefault(h.owner, f"provisioningrequest:{h.object_key}")
        self.workload_of: dict[str, str] = {
            h.owner: f"workload:{h.object_key}"
            for h in demand.hidden
            if h.kind == "Workload" and h.owner
        }

    @staticmethod
    def _live(h: HiddenDemand) -> bool:
        return not any(h.is_true(t) for t in ("Failed", "BookingExpired", "CapacityRevoked"))

    def run(self) -> Admission:
        requests: dict[str, list[HiddenDemand]] = {}
        for h in self.snap.demand.hidden:
            if h.kind == "ProvisioningRequest":
                requests.setdefault(h.object_key, []).append(h)
            elif h.kind == "Workload":
                self._workload(h)
            else:
                self._job(h)
        for entries in requests.values():
            self._requests(entries)
        return self.out

    def _cluster_queue(self, h: HiddenDemand) -> str:
        return h.cluster_queue or self.local.get(f"{h.namespace}/{h.queue}", "")

    def _hold(self, h: HiddenDemand, why: str) -> None:
        self.out.held[h.key] = why

    # ------------------------------------------------------------------ ProvisioningRequests

    def _requests(self, entries: list[HiddenDemand]) -> None:
        """One ProvisioningRequest: its pod sets share conditions, booking and fate."""
        rules, out, h = self.rules, self.out, entries[0]
        if not rules.provisioning_requests:
            self._hold_all(
                entries,
                "ProvisioningRequests are left to another autoscaler "
                "(scale_up: provisioning_requests: false)",
            )
            return
        if h.request_class not in SERVED_CLASSES:
            self._hold_all(
                entries,
                f"class {h.request_class or '(none)'} is not served by "
                f"clues-py (served: {', '.join(SERVED_CLASSES)})",
            )
            return
        for t in ("Failed", "CapacityRevoked", "BookingExpired"):
            if h.is_true(t):
                self._hold_all(entries, f"{t}: not demand any more")
                return
        if not h.is_true("Accepted"):
            out.updates.append(_update(h, "Accepted", "True", *ACCEPTED))
        if not h.is_true("Provisioned"):
            out.counted.extend(entries)
            out.requests[h.object_key] = entries
            if h.request_class in ATOMIC_CLASSES:
                out.atomic.add(h.object_key)
            return
        booked_for = self.now - h.provisioned_at
        if booked_for >= rules.booking_time:
            message = f"Capacity reservation time is expired ({rules.booking_time:.0f} s)"
            out.updates.append(_update(h, "BookingExpired", "True", EXPIRED, message))
            self._hold_all(
                entries,
                f"booking expired after {booked_for:.0f} s "
                f"(booking_time {rules.booking_time:.0f} s)",
            )
            return
        out.revisit(due_at(h.provisioned_at, rules.booking_time))
        # Pods consuming the request arrive as ordinary pods; book only the rest.
        arrived = h.consumed
        for e in entries:
            left = max(e.count - arrived, 0)
            arrived = max(arrived - e.count, 0)
            if left:
                out.booked.append(replace(e, count=left))
            else:
                self._hold(e, f"provisioned; its {e.count} pods arrived")

    def _hold_all(self, entries: list[HiddenDemand], why: str) -> None:
        for e in entries:
            self._hold(e, why)

    # ------------------------------------------------------------------ Kueue Workloads

    def _workload(self, h: HiddenDemand) -> None:
        rules = self.rules
        if h.owner:
            self.out.alias.setdefault(f"job:{h.owner}", h.key)
        request = self.request_of.get(h.object_key)
        if request is not None:
            self.out.alias[h.key] = request
            return
        cq = self._cluster_queue(h)
        if h.reserved:
            if not rules.reserved_workloads:
                self._hold(
                    h,
                    f"quota reserved in ClusterQueue {cq}; not counted "
                    "(scale_up: reserved_workloads: false)",
                )
                return
            self._counted_unless_stale(h, f"quota reserved in ClusterQueue {cq or '?'}")
            return
        if rules.unreserved_workloads:
            self.out.counted.append(h)
            return
        self._hold(h, self._waits_for_quota(h, cq))

    def _waits_for_quota(self, h: HiddenDemand, cq: str) -> str:
        if not cq:
            where = f"LocalQueue {h.namespace}/{h.queue}" if h.queue else "no LocalQueue"
            why = f"waits for Kueue: {where} leads to no ClusterQueue"
        else:
            q = self.queues.get(cq)
            usage = quota_text(q) if q is not None else "ClusterQueue not found"
            why = f"waits for Kueue quota in ClusterQueue {cq} ({usage})"
        if h.message:
            why += f"; Kueue: {h.message}"
        return why + "; not demand until Kueue reserves quota for it"

    def _counted_unless_stale(self, h: HiddenDemand, what: str) -> None:
        age = self.now - (h.since or h.created)
        limit = self.rules.hidden_demand_timeout
        if age > limit:
            self._hold(
                h,
                f"{what} {age:.0f} s ago and still no pod (hidden_demand_timeout "
                f"{limit:.0f} s): no longer holds or powers on nodes",
            )
            # Worded without the age, so that one Event covers it however long it lasts.
            self.out.warnings[h.key] = (
                f"{what}, but no pod appeared within hidden_demand_timeout ({limit:.0f} s): "
                "clues-py no longer holds or powers on nodes for it"
            )
            return
        stale = due_at(h.since or h.created, limit)  # the first time `age > limit` holds
        while stale - (h.since or h.created) <= limit:
            stale = math.nextafter(stale, math.inf)
        self.out.revisit(stale)
        self.out.counted.append(h)

    # ------------------------------------------------------------------ suspended Jobs

    def _job(self, h: HiddenDemand) -> None:
        key = h.key
        if h.object_key in self.workload_of:
            self.out.alias[key] = self.workload_of[h.object_key]
            return
        if self.rules.suspended_jobs:
            self._counted_unless_stale(h, "suspended")
            return
        if h.queue and self.snap.demand.kueue:
            cq = self.local.get(f"{h.namespace}/{h.queue}")
            where = (
                f"Kueue LocalQueue {h.namespace}/{h.queue} (ClusterQueue {cq})"
                if cq
                else f"Kueue LocalQueue {h.namespace}/{h.queue}, which does not exist"
            )
            self._hold(
                h, f"queued in {where}; Kueue has not created its Workload yet, so it is not demand"
            )
        elif h.queue:
            self._hold(
                h,
                f"paused: its queue label names Kueue LocalQueue {h.queue} but Kueue "
                "is not installed (no Workload API), so nothing will resume it; "
                "not demand",
            )
        else:
            self._hold(
                h,
                "paused: suspended Job that no Kueue queue owns; nothing resumes it "
                "until spec.suspend is set to false, so it is not demand",
            )


def classify(snap: ClusterSnapshot, rules: Rules) -> Admission:
    """Sort the snapshot's hidden work into counted, booked and held (with reasons)."""
    return _Classifier(snap, rules).run()


def request_updates(
    adm: Admission,
    where: Mapping[str, str],
    unplaceable: Mapping[str, str],
    never_fits: Iterable[str],
) -> list[RequestUpdate]:
    """Provisioned/Failed conditions after packing, for requests whose state changes.

    `where[key]` is "existing", "booting" or "new" for every packed unit key;
    `unplaceable` holds the reason of the rest; `never_fits` are the keys no template can
    ever hold (a request with one of them has Failed).
    """
    hopeless = set(never_fits)
    out: list[RequestUpdate] = []
    for entries in adm.requests.values():
        h = entries[0]
        keys = [e.key for e in entries]
        bad = [k for k in keys if k in hopeless]
        if bad:
            want = ("Failed", "True", NO_TEMPLATE, unplaceable.get(bad[0], "no template fits"))
        elif any(k in unplaceable for k in keys):
            why = next(unplaceable[k] for k in keys if k in unplaceable)
            want = ("Provisioned", "False", NOT_FOUND, f"capacity is not found yet: {why}")
        elif all(where.get(k) == "existing" for k in keys):
            want = ("Provisioned", "True", FOUND, "Capacity is found in the cluster")
        else:
            want = ("Provisioned", "False", BEING_PROVISIONED, "nodes are being powered on")
        type_, status, reason, message = want
        if h.condition(type_) != (status, reason):
            out.append(_update(h, type_, status, reason, message))
    return out
