"""Consolidation policy (optional): drain under-utilised nodes whose pods fit elsewhere.

A candidate is an enabled, Ready USED node with no action yet, not reserved or
claimed by an earlier policy, without the protect label, whose workload pods request
less than `threshold` of its allocatable cpu and memory (the larger share counts).
Least utilised first, each candidate must pass the drain rules
(`clues_py.planner.drainability`: DaemonSet and mirror pods stay, protected, bare
and local-storage pods and exhausted PodDisruptionBudgets block) and its evicted
pods must fit, first-fit decreasing with their placement, into the free room of the
other Ready schedulable nodes: USED ones, IDLE ones reserved by an earlier policy
(min_nodes, keep_free) and unmanaged ones, never those drained in this plan. At most
`max_disruption` nodes drain at once (nodes already DRAINING count). Nothing is
consolidated while the plan powers nodes on or within `delay_after_scale_up` of the
last scale-up. The receiving nodes are reserved so idle power-off leaves them on.
The daemon drains the chosen nodes through the Eviction API and powers them off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from clues_py.contracts import DAY, MAX_NODES, PROTECT_LABEL, PluginContext, Range
from clues_py.model import Action, ActionKind, ClusterSnapshot, ManagedNode, NodeState, due_at
from clues_py.planner.builder import PlanBuilder
from clues_py.planner.drainability import DrainContext, check_node
from clues_py.planner.room import Room, fit_elsewhere, free_room, utilisation


class Consolidation:
    name = "consolidation"
    declares_revisits = True

    @dataclass(frozen=True)
    class Config:
        # drain nodes whose utilisation is below this share
        threshold: Annotated[float, Range(0.001, 1)] = 0.5
        # nodes draining at once (including those already draining)
        max_disruption: Annotated[int, Range(1, MAX_NODES)] = 1
        delay_after_scale_up: Annotated[float, Range(0, 30 * DAY)] = 600.0
        block_local_storage: bool = True  # pods with emptyDir/hostPath block a drain

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or Consolidation.Config()
        c = self.config
        if not 0 < c.threshold <= 1:
            raise ValueError(f"consolidation: threshold must be in (0, 1], got {c.threshold}")
        if c.max_disruption < 1:
            raise ValueError(f"consolidation: max_disruption must be >= 1, got {c.max_disruption}")
        if c.delay_after_scale_up < 0:
            raise ValueError("consolidation: delay_after_scale_up must be >= 0")

    def _candidates(
        self, snap: ClusterSnapshot, builder: PlanBuilder
    ) -> list[tuple[float, ManagedNode]]:
        out = []
        for n in snap.nodes:
            obs = n.observed
            if n.state is not NodeState.USED or not n.enabled or obs is None or not obs.ready:
                continue
            if obs.unschedulable or builder.action_for(n.name) is not None:
                continue
            u = utilisation(obs)
            if u >= self.config.threshold:
                continue
            label = f"under-utilised ({u:.0%} < {self.config.threshold:.0%})"
            if dict(obs.labels).get(PROTECT_LABEL) == "true":
                builder.keep(n.name, f"{label} but protected by label {PROTECT_LABEL}=true")
            elif n.name in builder.reserved or n.name in builder.claimed:
                builder.keep(
                    n.name, f"{label} but {builder.reserved.get(n.name) or builder.claimed[n.name]}"
                )
            else:
                out.append((u, n))
        out.sort(key=lambda c: (c[0], c[1].name))
        return out

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        c = self.config
        candidates = self._candidates(snap, builder)
        if not candidates:
            return
        if builder.power_ons():
            for _, n in candidates:
                builder.keep(n.name, "consolidation: not while nodes are being powered on")
            return
        since_up = snap.now - snap.last_scale_up
        if since_up < c.delay_after_scale_up:
            builder.revisit(due_at(snap.last_scale_up, c.delay_after_scale_up))
            for _, n in candidates:
                builder.keep(
                    n.name,
                    f"consolidation: last scale-up {since_up:.0f} s ago "
                    f"< delay_after_scale_up {c.delay_after_scale_up:.0f} s",
                )
            return
        budget = c.max_disruption - sum(1 for n in snap.nodes if n.state is NodeState.DRAINING)
        ctx = DrainContext.of(snap.pdbs, c.block_local_storage)
        draining: set[str] = set()
        rooms = [
            Room(n.name, n.observed, free_room(n.observed))
            for n in snap.nodes
            # Idle nodes receive only when kept on anyway: emptying a used node onto
            # an idle one that idle power-off would take saves nothing and disrupts.
            if (
                n.state is NodeState.USED
                or (n.state is NodeState.IDLE and n.name in builder.reserved)
            )
            and n.observed is not None
            and n.observed.ready
            and not n.observed.unschedulable
            and builder.action_for(n.name) is None
        ]
        rooms += [
            Room(o.name, o, free_room(o)) for o in snap.unmanaged if o.ready and not o.unschedulable
        ]
        rooms.sort(key=lambda r: r.name)
        for u, n in candidates:
            assert n.observed is not None
            if budget <= 0:
                builder.keep(n.name, f"consolidation: max_disruption {c.max_disruption} reached")
                continue
            check = check_node(n.observed.pods, ctx)
            if not check.ok:
                builder.keep(n.name, f"consolidation blocked: {check.blocked[0]}")
                continue
            others = [r for r in rooms if r.name != n.name and r.name not in draining]
            placed, why = fit_elsewhere(list(check.evict), others)
            if why:
                builder.keep(n.name, f"consolidation: {why}")
                continue
            targets = sorted(set(placed.values()))
            reason = (
                f"consolidation: utilisation {u:.0%} < threshold {c.threshold:.0%}; "
                f"{len(placed)} pod(s) fit on {', '.join(targets)}"
            )
            if not builder.add(Action(ActionKind.POWER_OFF, n.name, n.template, reason, self.name)):
                continue
            draining.add(n.name)
            budget -= 1
            for key, used in check.pdb_use.items():
                ctx.budget[key] = ctx.budget.get(key, 0) - used
            for t in targets:
                builder.reserve(t, f"receives pods of {n.name} (consolidation)")
                builder.keep(t, builder.reserved[t])
