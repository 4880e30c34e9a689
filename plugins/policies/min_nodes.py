"""Min-nodes policy: keep at least `min_nodes` managed nodes on (IDLE, USED, POWERING_ON).

Powers on OFF nodes when fewer are on (counting power-ons already in the plan), and
reserves enough of the nodes already on that later policies (idle power-off) cannot
go below the floor; the reservation reason ends up in `plan.kept`. Prefers keeping
busy nodes, then booting ones, then the most recently used idle ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from clues_py.contracts import PluginContext
from clues_py.model import Action, ActionKind, ClusterSnapshot, NodeState
from clues_py.planner.builder import PlanBuilder

_KEEP_RANK = {NodeState.USED: 0, NodeState.POWERING_ON: 1, NodeState.IDLE: 2}


class MinNodes:
    name = "min_nodes"

    @dataclass(frozen=True)
    class Config:
        min_nodes: int = 0

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or MinNodes.Config()
        if self.config.min_nodes < 0:
            raise ValueError(f"min_nodes: min_nodes must be >= 0, got {self.config.min_nodes}")

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        want = self.config.min_nodes
        if want <= 0:
            return
        on = [n for n in snap.nodes if n.state in _KEEP_RANK]
        count = len(on) + len(builder.power_ons())
        on.sort(key=lambda n: (_KEEP_RANK[n.state], -max(n.since, n.last_used), n.name))
        for n in on[:want]:
            builder.reserve(n.name, f"min_nodes={want}: keeping {min(want, len(on))} nodes on")
        if count >= want:
            return
        not_off: dict[str, int] = {}
        for n in snap.nodes:
            if n.state is not NodeState.OFF:
                not_off[n.template] = not_off.get(n.template, 0) + 1
        for a in builder.power_ons():
            not_off[a.template] = not_off.get(a.template, 0) + 1
        candidates = []
        for n in snap.nodes:
            t = snap.templates.get(n.template)
            if (
                t is not None
                and n.state is NodeState.OFF
                and n.enabled
                and n.retry_at <= snap.now
                and builder.action_for(n.name) is None
            ):
                candidates.append((-t.priority, t.cost_per_hour, n.attempts, n.name, n))
        candidates.sort(key=lambda c: c[:4])
        reason = f"min_nodes={want}: {count} on"
        for *_, n in candidates:
            if count >= want:
                break
            t = snap.templates[n.template]
            if t.max_count is not None and not_off.get(t.name, 0) >= t.max_count:
                continue
            if builder.add(Action(ActionKind.POWER_ON, n.name, n.template, reason, self.name)):
                count += 1
                not_off[t.name] = not_off.get(t.name, 0) + 1
