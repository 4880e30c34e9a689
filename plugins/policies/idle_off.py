"""Idle power-off policy: power off nodes that have had no workload for `idle_time`.

A node qualifies when it is enabled, IDLE, runs no workload pod (DaemonSet and mirror
pods do not count), has been idle `now - max(since, last_used) >= idle_time`, is not
inside `scale_down_delay` after the last scale-up, has no
`clues-py.io/scale-down-disabled=true` label and was not reserved by an earlier
policy (demand counted on it, min_nodes). Every IDLE node left on gets its reason in
`plan.kept`. Draining and eviction are the daemon's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from clues_py.contracts import DAY, YEAR, PluginContext, Range
from clues_py.model import Action, ActionKind, ClusterSnapshot, NodeState
from clues_py.planner.builder import PlanBuilder

PROTECT_LABEL = "clues-py.io/scale-down-disabled"


class IdleOff:
    name = "idle_off"

    @dataclass(frozen=True)
    class Config:
        idle_time: Annotated[float, Range(0, 100 * YEAR)] = 300.0
        scale_down_delay: Annotated[float, Range(0, 30 * DAY)] = 0.0

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or IdleOff.Config()
        for key in ("idle_time", "scale_down_delay"):
            if getattr(self.config, key) < 0:
                raise ValueError(f"idle_off: {key} must be >= 0, got {getattr(self.config, key)}")

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        now = snap.now
        idle_time, delay = self.config.idle_time, self.config.scale_down_delay
        since_up = now - snap.last_scale_up
        for n in snap.nodes:
            if n.state is not NodeState.IDLE or not n.enabled:
                continue
            obs = n.observed
            busy = obs.workload_pods if obs is not None else ()
            if busy:
                builder.keep(n.name, f"runs {len(busy)} workload pod(s): {busy[0].key}")
                continue
            idle_for = now - max(n.since, n.last_used)
            if idle_for < idle_time:
                builder.keep(n.name, f"idle {idle_for:.0f} s < idle_time {idle_time:.0f} s")
                continue
            if obs is not None and dict(obs.labels).get(PROTECT_LABEL) == "true":
                builder.keep(n.name, f"protected by label {PROTECT_LABEL}=true")
                continue
            if since_up < delay:
                builder.keep(
                    n.name,
                    f"scale-down delay: last scale-up {since_up:.0f} s ago "
                    f"< scale_down_delay {delay:.0f} s",
                )
                continue
            if n.name in builder.reserved:
                builder.keep(n.name, builder.reserved[n.name])
                continue
            reason = f"idle for {idle_for:.0f} s >= idle_time {idle_time:.0f} s"
            builder.add(Action(ActionKind.POWER_OFF, n.name, n.template, reason, self.name))
