"""Packing-aware scale-down: steer new pods away from the nodes that should empty first.

Kubernetes' default scoring (LeastAllocated) spreads new pods over the emptiest nodes,
so when demand falls every node stays partly used and they all finish late together.
This policy names *scale-down candidates*, as Cluster Autoscaler's
`DeletionCandidateOfClusterAutoscaler` taint does: every IDLE node, and each USED node
whose workload pods request less than `threshold` of it and would fit on the free
room of the nodes that are not candidates (least utilised first, each one's pods
taking room from the others'). The daemon keeps the `PreferNoSchedule` taint
`clues-py.io/scale-down-candidate` on exactly these nodes, so the scheduler puts new
pods on fuller nodes while they fit and the candidates drain by themselves. Nothing is
evicted (that is `consolidation`'s job, within its own limits).

Only when demand falls: no candidate of a template that got new pods in the last
`quiet` seconds (while pods keep coming, the spread keeps room for them everywhere).
Demand returns, taints go: no candidate while the plan powers nodes on, and never a
node that pending demand was counted on, a node with an action, a protected or
disabled node, or an unmanaged one. Comes after `scale_up` and before `idle_off`
(which then knows that only a need, not the next pod, ends such a node's idleness).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, NamedTuple

from clues_py.contracts import DAY, PROTECT_LABEL, PluginContext, Range
from clues_py.model import (
    ClusterSnapshot,
    NodeObservation,
    NodeState,
    PodInfo,
    Resources,
    due_at,
)
from clues_py.planner.builder import PlanBuilder
from clues_py.planner.room import Room, fit_elsewhere, fit_order, free_room, utilisation


def _quiet_from(last: float, quiet: float) -> float:
    """The first time `t` with `last <= t - quiet` (how `apply` compares)."""
    t = due_at(last, quiet)
    while last > t - quiet:
        t = math.nextafter(t, math.inf)
    return t


class _Measured(NamedTuple):
    obs: NodeObservation
    utilisation: float
    free: Resources
    protected: bool  # labelled scale-down-disabled
    pods: list[PodInfo]  # its workload pods in `fit_order`


class PackDown:
    name = "pack_down"
    declares_revisits = True  # demand "falls" `quiet` seconds after the last arrival

    @dataclass(frozen=True)
    class Config:
        # USED nodes below this utilisation may be candidates.
        threshold: Annotated[float, Range(0, 1)] = 0.5
        # Demand has fallen once no new pod arrived for the template this long; while
        # pods keep coming, spreading keeps room everywhere for them (no candidates).
        quiet: Annotated[float, Range(0, DAY)] = 300.0

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or PackDown.Config()
        if not 0 <= self.config.threshold <= 1:
            raise ValueError(f"pack_down: threshold must be in [0, 1], got {self.config.threshold}")
        if self.config.quiet < 0:
            raise ValueError(f"pack_down: quiet must be >= 0, got {self.config.quiet}")
        self._measured: dict[str, _Measured] = {}

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        if builder.power_ons():
            return  # demand exceeds what is on: every node is wanted
        falling = self._falling(snap, builder)
        if not any(falling.values()):
            return  # work still arrives for every template in use: no candidate
        low: list[tuple[float, str]] = []
        # (name, observation, free room) of the nodes that may receive pods; rooms made of
        # them only once a candidate's pods could fit at all (below).
        parts: list[tuple[str, NodeObservation, Resources]] = []
        measured: dict[str, _Measured] = {}  # of the nodes that may be candidates
        for n in snap.nodes:
            obs = n.observed
            if n.state not in (NodeState.IDLE, NodeState.USED) or obs is None:
                continue
            if not obs.ready or obs.unschedulable:
                continue
            m = measured[n.name] = self._measure(n.name, obs)
            if (
                falling.get(n.template, True)
                and (m.utilisation < self.config.threshold or n.state is NodeState.IDLE)
                and not m.protected
                and self._may_mark(n.name, builder, n.enabled)
            ):
                low.append((m.utilisation, n.name))
            else:
                parts.append((n.name, obs, m.free))
        parts += [(o.name, o, free_room(o)) for o in snap.unmanaged if o.ready]
        parts.sort(key=lambda r: r[0])
        # No room has more cpu free than this (placing only lowers it): a node whose biggest
        # pod asks more stays, without a look at every room (most of them, in a full cluster).
        most_cpu = max((free.cpu_millis for _, _, free in parts), default=0)
        rooms: list[Room] | None = None
        for u, name in sorted(low):
            m = measured[name]
            pods = m.pods
            if pods:
                why = "a pod fits on no other node"
                if pods[0].requests.cpu_millis <= most_cpu:  # the first asks the most cpu
                    if rooms is None:
                        rooms = [Room(*part) for part in parts]
                    _, why = fit_elsewhere(pods, rooms, ordered=True)
                if why:  # it stays, and may receive the next candidate's pods
                    part = (name, m.obs, m.free)
                    if rooms is None:
                        parts.append(part)
                    else:
                        rooms.append(Room(*part))
                    most_cpu = max(most_cpu, part[2].cpu_millis)
                    continue
                reason = (
                    f"scale-down candidate: utilisation {u:.0%} < {self.config.threshold:.0%} "
                    f"and its {len(pods)} pod(s) fit on fuller nodes; new pods go elsewhere"
                )
            else:
                reason = "scale-down candidate: idle; new pods go to nodes already in use"
            builder.candidates[name] = reason

    def _falling(self, snap: ClusterSnapshot, builder: PlanBuilder) -> dict[str, bool]:
        """Template -> no new pod for it in the last `quiet` seconds, for the templates
        with IDLE or USED nodes; the plan is revisited when one becomes quiet."""
        quiet_since = snap.now - self.config.quiet
        out: dict[str, bool] = {}
        for (state, template), count in builder.memo.nodes(snap).counts.items():
            if count <= 0 or state not in (NodeState.IDLE, NodeState.USED) or template in out:
                continue
            seen = snap.demand_history.get(template)
            out[template] = seen is None or seen.arrivals.last <= quiet_since
            if seen is not None and not out[template]:
                builder.revisit(_quiet_from(seen.arrivals.last, self.config.quiet))
        return out

    def _measure(self, name: str, obs: NodeObservation) -> _Measured:
        """What the pass needs of a node, kept while its observation is the same object
        (the daemon keeps unchanged ones): a pass does not re-add or re-sort every pod."""
        got = self._measured.get(name)
        if got is None or got.obs is not obs:
            got = self._measured[name] = _Measured(
                obs,
                utilisation(obs),
                free_room(obs),
                (PROTECT_LABEL, "true") in obs.labels,
                fit_order(obs.workload_pods),
            )
        return got

    @staticmethod
    def _may_mark(name: str, builder: PlanBuilder, enabled: bool) -> bool:
        return enabled and name not in builder.claimed and builder.action_for(name) is None
