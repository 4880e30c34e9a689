"""Free room on Ready nodes and whether a node's pods would fit in other nodes' room.

Shared by the scale-down policies (`consolidation`, which drains a node, and
`pack_down`, which only steers new pods away from it): `utilisation` is what a node's
workload pods request, `fit_elsewhere` places pods first-fit decreasing onto the free
room of other nodes, honouring their placement. Which nodes may receive, and what
follows, is the policies' business. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from clues_py.model import NodeObservation, PodInfo, Resources

__all__ = ["Room", "fit_elsewhere", "fit_order", "free_room", "utilisation"]

_DEFAULT_SLOTS = 110


@dataclass(slots=True)
class Room:
    name: str
    obs: NodeObservation
    free: Resources
    # The node's labels as a map, made at the first placement check and kept: a pass tries
    # one candidate after another on the same rooms.
    _labels: dict[str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def labels(self) -> dict[str, str]:
        if self._labels is None:
            self._labels = dict(self.obs.labels)
        return self._labels


def utilisation(obs: NodeObservation) -> float:
    """Largest of the cpu and memory shares requested by workload (non-DaemonSet) pods."""
    used = Resources()
    for p in obs.workload_pods:
        used = used + p.requests
    a = obs.allocatable
    cpu = used.cpu_millis / a.cpu_millis if a.cpu_millis else 0.0
    mem = used.memory_bytes / a.memory_bytes if a.memory_bytes else 0.0
    return max(cpu, mem)


def free_room(obs: NodeObservation) -> Resources:
    a = obs.allocatable
    cap = Resources(a.cpu_millis, a.memory_bytes, a.gpus, a.pods or _DEFAULT_SLOTS)
    return cap - obs.requested


def _fit_key(p: PodInfo) -> tuple[int, int, str]:
    return (-p.requests.cpu_millis, -p.requests.memory_bytes, p.key)


def fit_order(pods: Iterable[PodInfo]) -> list[PodInfo]:
    """The order `fit_elsewhere` places pods in: biggest cpu, then memory, first."""
    return sorted(pods, key=_fit_key)


def fit_elsewhere(
    pods: list[PodInfo], rooms: list[Room], *, ordered: bool = False
) -> tuple[dict[str, str], str]:
    """Pod key -> room name for every pod (first fit, biggest first), or ({}, why not).

    `ordered`: `pods` are in `fit_order` already. On success the rooms' free room is reduced
    by what was placed on them.
    """
    before: list[tuple[Room, Resources]] = []  # to put back if a pod fits nowhere
    out: dict[str, str] = {}
    for p in pods if ordered else fit_order(pods):
        need = p.requests if p.requests.pods else p.requests + Resources(pods=1)
        cpu = need.cpu_millis
        for r in rooms:
            room = r.free
            # Most rooms of a busy cluster have no cpu left: the cheapest test first.
            if cpu > room.cpu_millis or not need.fits(room):
                continue
            if p.placement.why_not(r.labels, r.obs.taints) is None:
                before.append((r, room))
                r.free = room - need
                out[p.key] = r.name
                break
        else:
            for r, room in reversed(before):
                r.free = room
            return {}, f"{p.key} ({p.requests}) fits on no other node"
    return out, ""
