"""Demand grouped for packing, kept between passes and updated from the demand's changes.

Pending pods and hidden demand are grouped by identical (requests, placement): batch work
is mostly many copies of one pod, so the packer works on groups with counts. A `Group`'s
keys are ordered oldest first, then by key (a hidden entry repeats its key once per pod).
`DemandGroups.update` follows a `Demand` from one pass to the next: when the demand says
which pods entered or left since the one it saw last (`Demand.version`/`base`/`delta`),
only those move; otherwise everything is regrouped. Hidden units that the admission rules
count (`admission.py`) are handed to `groups()` each pass: there are few, and they are
merged into the pod groups again only when they change; booked capacity forms groups of
its own that never open a node. Either way `groups()` answers what `group_demand` would
for the same units, which the property tests check. Young pods (inside `pending_grace`)
are found by bisecting the creation times. Pure: no I/O, no clock.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass

from clues_py.model import Demand, HiddenDemand, Placement, PodInfo, Resources

__all__ = ["DemandGroups", "Group", "group_demand"]

_GroupKey = tuple[Resources, Placement]


@dataclass(slots=True)
class Group:
    """Identical demand units: one key per pod (a hidden entry repeats its key)."""

    requests: Resources
    placement: Placement
    keys: list[str]
    # False for booked capacity (a Provisioned ProvisioningRequest): it may hold free or
    # booting room, packed before everything else, but never opens a node.
    may_open: bool = True


def group_demand(
    pods: Iterable[PodInfo],
    hidden: Iterable[HiddenDemand] = (),
    booked: Iterable[HiddenDemand] = (),
) -> list[Group]:
    """Group identical demand; keys inside a group are ordered oldest first, then by key.

    `booked` units (capacity already promised) form their own groups that never open nodes.
    """
    acc: dict[tuple[Resources, Placement, bool], list[tuple[float, str]]] = {}
    for p in pods:
        acc.setdefault((p.requests, p.placement, True), []).append((p.created, p.key))
    for may_open, units in ((True, hidden), (False, booked)):
        for h in units:
            if h.count > 0:
                acc.setdefault((h.per_pod, h.placement, may_open), []).extend(
                    [(h.created, h.key)] * h.count
                )
    return [Group(r, pl, [k for _, k in sorted(items)], o) for (r, pl, o), items in acc.items()]


class _Members:
    """One group's units: pods and hidden entries, each sorted by (created, key)."""

    __slots__ = ("pods", "hidden", "keys")

    def __init__(self) -> None:
        self.pods: list[tuple[float, str]] = []
        self.hidden: list[tuple[float, str]] = []
        self.keys: list[str] | None = None  # merged, cached until a change

    def merged(self) -> list[str]:
        if self.keys is None:
            if not self.hidden:
                self.keys = [k for _, k in self.pods]
            else:
                self.keys = [k for _, k in sorted(self.pods + self.hidden)]
        return self.keys


class DemandGroups:
    def __init__(self) -> None:
        self._groups: dict[_GroupKey, _Members] = {}
        self._pod_of: dict[str, tuple[_GroupKey, float]] = {}  # pod key -> group, created
        self._created: list[tuple[float, str]] = []  # every pod, sorted (young ones are last)
        self._hidden: tuple[HiddenDemand, ...] = ()
        self._version: int | None = None

    def update(self, demand: Demand) -> None:
        """Follow `demand`: apply its delta when it says it follows the demand seen last."""
        v, seen = demand.version, self._version
        if v is None or seen is None or (v != seen and demand.base != seen):
            self._rebuild(demand)
        elif v != seen:
            for key, info in demand.delta.items():
                self._drop_pod(key)
                if info is not None:
                    self._add_pod(info)
        self._version = v

    def _rebuild(self, demand: Demand) -> None:
        hidden = self._hidden
        self._groups, self._pod_of, self._created, self._hidden = {}, {}, [], ()
        # A repeated key counts once (the last one), as a dict of pods would; each list is
        # sorted once rather than kept sorted pod by pod.
        last = {p.key: p for p in demand.pods}
        groups, pod_of = self._groups, self._pod_of
        # Pods of one shape mostly share their (interned) requests and placement objects:
        # find the group by their identity first (no dataclass hashing per pod).
        same: dict[tuple[int, int], tuple[_GroupKey, _Members]] = {}
        for key, p in last.items():
            ids = (id(p.requests), id(p.placement))
            got = same.get(ids)
            if got is None:
                gk = (p.requests, p.placement)  # holds both objects: the ids stay theirs
                m = groups.get(gk)
                if m is None:
                    m = groups[gk] = _Members()
                got = same[ids] = (gk, m)
            gk, m = got
            m.pods.append((p.created, key))
            pod_of[key] = (gk, p.created)
        for m in groups.values():
            m.pods.sort()
        self._created = sorted((c, k) for k, (_, c) in pod_of.items())
        self._set_hidden(hidden)

    def _add_pod(self, p: PodInfo) -> None:
        gk = (p.requests, p.placement)
        m = self._groups.get(gk)
        if m is None:
            m = self._groups[gk] = _Members()
        key = p.key
        insort(m.pods, (p.created, key))
        m.keys = None
        self._pod_of[key] = (gk, p.created)
        insort(self._created, (p.created, key))

    def _drop_pod(self, key: str) -> None:
        got = self._pod_of.pop(key, None)
        if got is None:
            return
        gk, created = got
        m = self._groups[gk]
        del m.pods[bisect_left(m.pods, (created, key))]
        m.keys = None
        del self._created[bisect_left(self._created, (created, key))]
        if not m.pods and not m.hidden:
            del self._groups[gk]

    def _set_hidden(self, hidden: tuple[HiddenDemand, ...]) -> None:
        for gk, m in list(self._groups.items()):
            if m.hidden:
                m.hidden, m.keys = [], None
                if not m.pods:
                    del self._groups[gk]
        for h in hidden:
            if h.count > 0:
                gk = (h.per_pod, h.placement)
                members = self._groups.get(gk)
                if members is None:
                    members = self._groups[gk] = _Members()
                members.hidden.extend([(h.created, h.key)] * h.count)
                members.keys = None
        for members in self._groups.values():
            if members.keys is None and members.hidden:
                members.hidden.sort()
        self._hidden = hidden

    # ------------------------------------------------------------------ reads

    def created(self, key: str) -> float:
        """Creation time of demand pod `key` (KeyError if it is not demand)."""
        return self._pod_of[key][1]

    def young_pods(self, now: float, grace: float) -> list[str]:
        """Keys of the pods with `now - created < grace`, oldest first."""
        if grace <= 0 and (not self._created or self._created[-1][0] <= now):
            return []
        # The exact rule is applied near the cut; bisecting on `now - grace` only skips
        # what is far older than it.
        margin = 1e-6 * max(1.0, abs(now), abs(grace))
        i = bisect_left(self._created, (now - grace - margin, ""))
        return [k for c, k in self._created[i:] if now - c < grace]

    def groups(
        self,
        young_pods: Iterable[str] = (),
        hidden: Iterable[HiddenDemand] = (),
        booked: Iterable[HiddenDemand] = (),
    ) -> list[Group]:
        """The groups (in no particular order) of the demand pods but `young_pods`, with
        the `hidden` units counted as demand, and the `booked` units in groups of their own:
        what `group_demand` answers for the same units."""
        hidden = tuple(hidden)
        if hidden != self._hidden:
            self._set_hidden(hidden)
        left_out = set(young_pods)
        touched = {self._pod_of[k][0] for k in left_out if k in self._pod_of}
        out = []
        for gk, m in self._groups.items():
            keys = m.merged()
            if gk in touched:
                keys = [k for k in keys if k not in left_out]
                if not keys:
                    continue
            out.append(Group(gk[0], gk[1], keys))
        out.extend(group_demand((), (), booked))
        return out
