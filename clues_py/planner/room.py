"""Free room on Ready nodes and whether a node's pods would fit in other nodes' room.

Shared by the scale-down policies (`consolidation`, which drains a node, and
`pack_down`, which only steers new pods away from it): `utilisation` is what a node's
workload pods request, `fit_elsewhere` places pods first-fit decreasing onto the free
room of other nodes, honouring their placement. Which nodes may receive, and what
follows, is the policies' business. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from clues_py.model import NodeObservation, PodInfo, Resources

__all__ = ["Room", "fit_elsewhere", "free_room", "utilisation"]

_DEFAULT_SLOTS = 110


@dataclass
class Room:
    name: str
    obs: NodeObservation
    free: Resources


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


def fit_elsewhere(pods: list[PodInfo], rooms: list[Room]) -> tuple[dict[str, str], str]:
    """Pod key -> room name for every pod (first fit, biggest first), or ({}, why not).

    On success the rooms' free room is reduced by what was placed on them.
    """
    free = {r.name: r.free for r in rooms}
    labels: dict[str, dict[str, str]] = {}
    out: dict[str, str] = {}
    for p in sorted(pods, key=lambda p: (-p.requests.cpu_millis, -p.requests.memory_bytes, p.key)):
        need = p.requests if p.requests.pods else p.requests + Resources(pods=1)
        cpu = need.cpu_millis
        for r in rooms:
            room = free[r.name]
            # Most rooms of a busy cluster have no cpu left: the cheapest test first.
            if cpu > room.cpu_millis or not need.fits(room):
                continue
            node_labels = labels.get(r.name)
            if node_labels is None:
                node_labels = labels[r.name] = dict(r.obs.labels)
            if p.placement.why_not(node_labels, r.obs.taints) is None:
                free[r.name] = room - need
                out[p.key] = r.name
                break
        else:
            return {}, f"{p.key} ({p.requests}) fits on no other node"
    for r in rooms:
        r.free = free[r.name]
    return out, ""
