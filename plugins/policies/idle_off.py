"""Idle power-off policy: power off idle nodes once keeping them costs more than a power cycle.

A node qualifies when it is enabled, IDLE, runs no workload pod (DaemonSet and mirror
pods do not count), is not inside `scale_down_delay` after the last scale-up, has no
`clues-py.io/scale-down-disabled=true` label and was not reserved by an earlier
policy (demand counted on it, min_nodes, keep_free). `idle_time` is the longest such
a node stays on. With `break_even` (the default) it goes sooner, when the ski-rental
rule of `clues_py.planner.breakeven` says so: its template's break-even time and the
demand history the daemon learned decide. The idle nodes of a template are ranked
(most recently used first, after the reserved ones): the first is the spare the next
need would take, so it is the one worth holding longest. The shutdown guard of
`breakeven` holds a node longer while the next need is likely to come during its
shutdown and find no OFF node to boot instead (`wait_quantile`), once the template's
latest jobs have spent half their late-wait budget. Every IDLE node left on gets
its reason in `plan.kept` and the instant its hold ends in `plan.revisit_at`.
Draining and eviction are the daemon's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from clues_py.contracts import DAY, PROTECT_LABEL, YEAR, PluginContext, Range
from clues_py.model import (
    Action,
    ActionKind,
    ClusterSnapshot,
    DemandHistory,
    ManagedNode,
    NodeState,
    due_at,
)
from clues_py.planner.breakeven import (
    break_even_seconds,
    off_time,
    over_budget,
    shutdown_guard,
)
from clues_py.planner.builder import PlanBuilder


def idle_since(n: ManagedNode) -> float:
    return max(n.since, n.last_used)


class IdleOff:
    name = "idle_off"
    declares_revisits = True

    @dataclass(frozen=True)
    class Config:
        idle_time: Annotated[float, Range(0, 100 * YEAR)] = 300.0  # longest idle time
        scale_down_delay: Annotated[float, Range(0, 30 * DAY)] = 0.0
        # Power off sooner when idling is expected to cost more than a power cycle.
        break_even: bool = True
        # Use the demand history the daemon learned (false: only the fallback rule).
        learn: bool = True
        # Never power off before idling this share of the break-even time.
        floor: Annotated[float, Range(0, 1)] = 0.25
        # Node-seconds one second of a job's wait is worth: a cycle also makes the next
        # need wait a boot, so holding is worth up to this much more.
        wait_weight: Annotated[float, Range(0, 1000)] = 0.0
        # The wait quantile power-offs protect (p95): once more than half of the
        # 1 - this share of the latest jobs allowed to wait beyond one boot did, a node
        # is held while a need no OFF node could take would land in its shutdown more
        # often than that. 0: no such hold.
        wait_quantile: Annotated[float, Range(0, 1)] = 0.95

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or IdleOff.Config()
        for key in ("idle_time", "scale_down_delay", "floor"):
            if getattr(self.config, key) < 0:
                raise ValueError(f"idle_off: {key} must be >= 0, got {getattr(self.config, key)}")
        if self.config.floor > 1:
            raise ValueError(f"idle_off: floor must be <= 1, got {self.config.floor}")

    def _eligible(self, snap: ClusterSnapshot, builder: PlanBuilder) -> list[ManagedNode]:
        """IDLE nodes that may be powered off now or later; the others get their reason."""
        now, delay = snap.now, self.config.scale_down_delay
        since_up = now - snap.last_scale_up
        out = []
        for n in builder.memo.nodes(snap).in_state(NodeState.IDLE):
            if not n.enabled:
                continue
            obs = n.observed
            busy = obs.workload_pods if obs is not None else ()
            if busy:
                builder.keep(n.name, f"runs {len(busy)} workload pod(s): {busy[0].key}")
            elif obs is not None and dict(obs.labels).get(PROTECT_LABEL) == "true":
                builder.keep(n.name, f"protected by label {PROTECT_LABEL}=true")
            elif since_up < delay:
                builder.keep(
                    n.name,
                    f"scale-down delay: last scale-up {since_up:.0f} s ago "
                    f"< scale_down_delay {delay:.0f} s",
                )
                builder.revisit(due_at(snap.last_scale_up, delay))
            elif n.name in builder.reserved:
                builder.keep(n.name, builder.reserved[n.name])
            else:
                out.append(n)
        return out

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        now, idle_time = snap.now, self.config.idle_time
        held: dict[str, int] = {}  # template -> spare idle nodes kept by earlier policies
        for n in builder.memo.nodes(snap).in_state(NodeState.IDLE):
            if n.name in builder.reserved and not n.workload_pods:
                held[n.template] = held.get(n.template, 0) + 1
        # (OFF, template) -> OFF nodes a need could boot instead
        spare_off = builder.memo.nodes(snap).enabled_counts
        eligible = self._eligible(snap, builder)
        eligible.sort(key=lambda n: (-idle_since(n), n.name))
        rank: dict[str, int] = {}
        budget_spent: dict[str, bool] = {}  # template -> its late-wait budget half spent
        offs: list[Action] = []
        for n in eligible:
            idle_for = now - idle_since(n)
            r = rank[n.template] = rank.get(n.template, held.get(n.template, 0) - 1) + 1
            t = snap.templates.get(n.template)
            if idle_for >= idle_time:
                reason = f"idle for {idle_for:.0f} s >= idle_time {idle_time:.0f} s"
            elif not self.config.break_even or t is None:
                builder.keep(n.name, f"idle {idle_for:.0f} s < idle_time {idle_time:.0f} s")
                builder.revisit(due_at(idle_since(n), idle_time))
                continue
            else:
                cycle = break_even_seconds(t) + self.config.wait_weight * t.boot_seconds
                seen = snap.demand_history.get(n.template, DemandHistory())
                # New pods skip a node pack_down steers them from: only a need ends its
                # idleness. Otherwise the scheduler gives it the next arriving pod.
                steered = n.name in builder.candidates
                off = off_time(
                    seen.needs if steered else seen.arrivals,
                    now=now,
                    idle_since=idle_since(n),
                    rank=r,
                    cycle=cycle,
                    idle_time=idle_time,
                    floor=self.config.floor,
                    learn=self.config.learn,
                    noun="need" if steered else "new pod",
                )
                guarded = budget_spent.get(n.template)
                if guarded is None:
                    guarded = budget_spent[n.template] = over_budget(
                        seen.waits, t.boot_seconds, self.config.wait_quantile
                    )
                guard = None
                if guarded:
                    guard = shutdown_guard(
                        seen.needs,
                        seen.releases,
                        now=now,
                        idle_since=idle_since(n),
                        beyond=r + spare_off[(NodeState.OFF, n.template)],
                        shutdown=t.shutdown_seconds,
                        risk=1.0 - self.config.wait_quantile,
                        # Past break-even a cycle costs less than the idling already spent:
                        # the guard holds no longer than classic ski rental (2-competitive).
                        idle_time=min(idle_time, cycle),
                    )
                if guard is not None and guard.at > off.at:
                    off = guard
                if off.at > now:
                    builder.keep(
                        n.name,
                        f"idle {idle_for:.0f} s, kept until +{off.at - now:.0f} s: {off.why}",
                    )
                    builder.revisit(off.at)
                    continue
                reason = f"idle for {idle_for:.0f} s, break-even {cycle:.0f} s: {off.why}"
            offs.append(Action(ActionKind.POWER_OFF, n.name, n.template, reason, self.name))
        for action in sorted(offs, key=lambda a: a.node):  # plan order: by name, as ever
            builder.add(action)
