"""Kueue's quota arithmetic, pure: what a Workload asks for and which flavor can hold it.

Quantities are integers in canonical units (cpu in millicores, the rest as `to_int`
gives them) keyed by resource name. `requests_of` sums a pod set like Kueue does (limits
stand in for missing requests); `Quotas` holds every ClusterQueue's nominal quota,
borrowing limit and cohort, plus what reserved Workloads use, and `assign` picks flavors
for a Workload's pod sets in the order the ClusterQueue lists them, borrowing unused quota
from the cohort, or says why not in Kueue's own words. Reading and writing objects is
`kueue.py`'s; version spellings are `kueue_versions.py`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clues_py.model import cpu_millis, format_bytes, format_cpu, to_int
from clues_py.sandbox import kueue_versions as kv

Amounts = dict[str, int]
Obj = dict[str, Any]


def amount(resource: str, value: Any) -> int:
    return cpu_millis(value) if resource == "cpu" else to_int(value)


def quantity(resource: str, value: int) -> str:
    """Kubernetes notation of a canonical amount ("1500m", "2Gi", "3")."""
    if resource == "cpu":
        return format_cpu(value)
    if resource == "memory" or resource.endswith("storage"):
        text = format_bytes(value)
        return text if "." not in text else str(value)
    return str(value)


def _container(c: Mapping[str, Any]) -> Amounts:
    res = c.get("resources") or {}
    merged = {**(res.get("limits") or {}), **(res.get("requests") or {})}
    return {k: amount(k, v) for k, v in merged.items()}


def requests_of(pod_spec: Mapping[str, Any]) -> Amounts:
    """Per-pod requests: containers summed, init containers' peak, limits as missing requests."""
    total: Amounts = {}
    for c in pod_spec.get("containers") or ():
        for k, v in _container(c).items():
            total[k] = total.get(k, 0) + v
    for c in pod_spec.get("initContainers") or ():
        for k, v in _container(c).items():
            total[k] = max(total.get(k, 0), v)
    for k, v in (pod_spec.get("overhead") or {}).items():
        total[k] = total.get(k, 0) + amount(k, v)
    return {k: v for k, v in total.items() if v}


@dataclass
class FlavorQuota:
    nominal: int
    borrowing_limit: int | None = None


@dataclass
class QueueQuotas:
    """One ClusterQueue: resource groups of (covered resources, [(flavor, {res: quota})])."""

    name: str
    cohort: str
    groups: list[tuple[tuple[str, ...], list[tuple[str, dict[str, FlavorQuota]]]]]
    strict_fifo: bool = False
    used: dict[tuple[str, str], int] = field(default_factory=dict)  # (flavor, res) -> used

    def nominal(self, flavor: str, res: str) -> int:
        for _, flavors in self.groups:
            for name, quotas in flavors:
                if name == flavor and res in quotas:
                    return quotas[res].nominal
        return 0

    def borrowing_limit(self, flavor: str, res: str) -> int | None:
        for _, flavors in self.groups:
            for name, quotas in flavors:
                if name == flavor and res in quotas:
                    return quotas[res].borrowing_limit
        return None


def queue_quotas(cq: Obj) -> QueueQuotas:
    spec = cq.get("spec") or {}
    groups = []
    for g in spec.get("resourceGroups") or ():
        flavors = []
        for f in g.get("flavors") or ():
            quotas = {}
            for r in f.get("resources") or ():
                name = r.get("name", "")
                limit = r.get("borrowingLimit")
                quotas[name] = FlavorQuota(
                    amount(name, r.get("nominalQuota", 0)),
                    None if limit is None else amount(name, limit),
                )
            flavors.append((str(f.get("name", "")), quotas))
        groups.append((tuple(g.get("coveredResources") or ()), flavors))
    return QueueQuotas(
        cq["metadata"]["name"],
        kv.cohort_of(cq),
        groups,
        strict_fifo=spec.get("queueingStrategy") == "StrictFIFO",
    )


@dataclass(frozen=True)
class PodSetAssignment:
    name: str
    count: int
    flavors: dict[str, str]  # resource -> flavor
    usage: Amounts  # resource -> total for the pod set


class Quotas:
    """All ClusterQueues with their usage; `assign` and `reserve` keep usage current."""

    def __init__(self, queues: Iterable[QueueQuotas]) -> None:
        self.queues = {q.name: q for q in queues}

    def _available(self, q: QueueQuotas, flavor: str, res: str) -> tuple[int, int]:
        """(available now, the most it could ever get) of one resource in one flavor."""
        nominal = q.nominal(flavor, res)
        own = nominal - q.used.get((flavor, res), 0)
        if not q.cohort:
            return own, nominal
        lendable = sum(
            max(p.nominal(flavor, res) - p.used.get((flavor, res), 0), 0)
            for p in self.queues.values()
            if p is not q and p.cohort == q.cohort
        )
        total = sum(p.nominal(flavor, res) for p in self.queues.values() if p.cohort == q.cohort)
        limit = q.borrowing_limit(flavor, res)
        borrow = lendable if limit is None else min(lendable, limit)
        most = total if limit is None else min(total, nominal + limit)
        return own + borrow, most

    def assign(
        self,
        queue: str,
        pod_sets: list[tuple[str, int, Amounts, Mapping[str, str]]],
        flavor_labels: Mapping[str, Mapping[str, str]],
    ) -> tuple[list[PodSetAssignment] | None, str]:
        """Flavors for every (name, count, per-pod requests, nodeSelector) or (None, why)."""
        q = self.queues[queue]
        taken: dict[tuple[str, str], int] = {}
        out: list[PodSetAssignment] = []
        problems: list[str] = []
        for name, count, per_pod, selector in pod_sets:
            need = {r: v * count for r, v in per_pod.items() if v}
            chosen: dict[str, str] = {}
            why: list[str] = []
            for res in need:
                if not any(res in covered for covered, _ in q.groups):
                    why.append(f"resource {res} unavailable in ClusterQueue")
            for covered, flavors in q.groups:
                wanted = [r for r in need if r in covered]
                if not wanted:
                    continue
                flavor, msg = self._pick(q, flavors, wanted, need, taken, selector, flavor_labels)
                if flavor is None:
                    why.append(msg)
                    continue
                for r in wanted:
                    chosen[r] = flavor
                    taken[(flavor, r)] = taken.get((flavor, r), 0) + need[r]
            if why:
                problems.append(f"couldn't assign flavors to pod set {name}: {'; '.join(why)}")
                continue
            out.append(PodSetAssignment(name, count, chosen, need))
        if problems:
            return None, "; ".join(problems)
        return out, ""

    def _pick(
        self,
        q: QueueQuotas,
        flavors: list[tuple[str, dict[str, FlavorQuota]]],
        wanted: list[str],
        need: Amounts,
        taken: Mapping[tuple[str, str], int],
        selector: Mapping[str, str],
        flavor_labels: Mapping[str, Mapping[str, str]],
    ) -> tuple[str | None, str]:
        reasons = []
        for flavor, quotas in flavors:
            labels = flavor_labels.get(flavor, {})
            clash = [k for k, v in selector.items() if k in labels and labels[k] != v]
            if clash:
                reasons.append(f"flavor {flavor} doesn't match node affinity")
                continue
            short = []
            for r in wanted:
                if r not in quotas:
                    short.append(f"resource {r} unavailable in flavor {flavor}")
                    continue
                asked = need[r] + taken.get((flavor, r), 0)
                now, most = self._available(q, flavor, r)
                if asked > most:
                    short.append(
                        f"insufficient quota for {r} in flavor {flavor}, request > maximum "
                        f"capacity ({quantity(r, asked)} > {quantity(r, most)})"
                    )
                elif asked > now:
                    short.append(
                        f"insufficient unused quota for {r} in flavor {flavor}, "
                        f"{quantity(r, asked - now)} more needed"
                    )
            if not short:
                return flavor, ""
            reasons.extend(short)
        return None, ", ".join(reasons) if reasons else "no flavor"

    def reserve(self, queue: str, assignments: Iterable[PodSetAssignment], sign: int = 1) -> None:
        q = self.queues.get(queue)
        if q is None:
            return
        for a in assignments:
            for r, v in a.usage.items():
                key = (a.flavors.get(r, ""), r)
                q.used[key] = q.used.get(key, 0) + sign * v


def assignments_of(admission: Mapping[str, Any]) -> list[PodSetAssignment]:
    """The pod set assignments recorded in a Workload's `status.admission`."""
    out = []
    for a in admission.get("podSetAssignments") or ():
        usage = {r: amount(r, v) for r, v in (a.get("resourceUsage") or {}).items()}
        out.append(
            PodSetAssignment(
                str(a.get("name", "")),
                int(a.get("count") or 0),
                dict(a.get("flavors") or {}),
                usage,
            )
        )
    return out


def admission_doc(queue: str, assignments: Iterable[PodSetAssignment]) -> Obj:
    """`status.admission` for a Workload that got quota."""
    return {
        "clusterQueue": queue,
        "podSetAssignments": [
            {
                "name": a.name,
                "flavors": dict(a.flavors),
                "resourceUsage": {r: quantity(r, v) for r, v in a.usage.items()},
                "count": a.count,
            }
            for a in assignments
        ],
    }


def usage_doc(q: QueueQuotas, used: Mapping[tuple[str, str], int]) -> list[Obj]:
    """`flavorsReservation`/`flavorsUsage` of a ClusterQueue status, in spec order."""
    out = []
    for _, flavors in q.groups:
        for name, quotas in flavors:
            resources = []
            for r in quotas:
                total = used.get((name, r), 0)
                borrowed = max(total - quotas[r].nominal, 0)
                resources.append(
                    {"name": r, "total": quantity(r, total), "borrowed": quantity(r, borrowed)}
                )
            out.append({"name": name, "resources": resources})
    return out
