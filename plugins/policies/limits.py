"""Limits policy: veto power-ons beyond concurrent boots, nodes, cores, memory or cost.

Runs last (the pipeline loader rejects it anywhere else). Power-ons are kept in plan
order (scale-up first, then warm-capacity policies) while every limit still holds;
vetoed ones hand their pods the limit as the unplaceable reason and their node a
`kept` reason. Managed nodes count towards the totals while POWERING_ON, IDLE, USED,
DRAINING, POWERING_OFF or UNKNOWN, with their template's cpu, memory and cost.
Per-template `max_count` is enforced by the packing, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from clues_py.contracts import MAX_NODES, PluginContext, Range
from clues_py.model import ClusterSnapshot, NodeState, QuantityError, format_bytes, to_int
from clues_py.planner.builder import PlanBuilder

COUNTED = frozenset(
    {
        NodeState.POWERING_ON,
        NodeState.IDLE,
        NodeState.USED,
        NodeState.DRAINING,
        NodeState.POWERING_OFF,
        NodeState.UNKNOWN,
    }
)


class Limits:
    name = "limits"
    declares_revisits = True  # nothing here depends on the time

    @dataclass(frozen=True)
    class Config:
        max_booting: Annotated[int, Range(0, MAX_NODES)] | None = 10
        max_nodes: Annotated[int, Range(0, MAX_NODES)] | None = None
        max_cores: Annotated[float, Range(0, 1e9)] | None = None
        # bytes or a quantity such as "512Gi"
        max_memory: Annotated[int, Range(0, 2**70)] | str | None = None
        max_cost_per_hour: Annotated[float, Range(0, 1e9)] | None = None

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or Limits.Config()
        c = self.config
        for key in ("max_booting", "max_nodes", "max_cores", "max_cost_per_hour"):
            value = getattr(c, key)
            if value is not None and value < 0:
                raise ValueError(f"limits: {key} must be >= 0 or null, got {value}")
        self.max_memory: int | None = None
        if c.max_memory is not None:
            try:
                self.max_memory = to_int(c.max_memory)
            except QuantityError as exc:
                raise ValueError(f"limits: max_memory: {exc}") from exc
        self.max_cpu = round(c.max_cores * 1000) if c.max_cores is not None else None

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        c = self.config
        power_ons = builder.power_ons()
        if not power_ons:
            return
        booting = on = cpu = mem = 0
        cost = 0.0
        for (state, template), count in sorted(builder.memo.nodes(snap).counts.items()):
            if state not in COUNTED or count <= 0:
                continue
            on += count
            booting += count if state is NodeState.POWERING_ON else 0
            t = snap.templates.get(template)
            if t is not None:
                cpu += count * t.resources.cpu_millis
                mem += count * t.resources.memory_bytes
                cost += count * t.cost_per_hour
        for a in power_ons:
            t = snap.templates.get(a.template)
            tc = t.resources.cpu_millis if t else 0
            tm = t.resources.memory_bytes if t else 0
            tcost = t.cost_per_hour if t else 0.0
            why = ""
            if c.max_booting is not None and booting >= c.max_booting:
                why = f"max_booting reached ({booting} booting)"
            elif c.max_nodes is not None and on >= c.max_nodes:
                why = f"max_nodes reached ({on} on or booting, max_nodes {c.max_nodes})"
            elif self.max_cpu is not None and cpu + tc > self.max_cpu:
                why = (
                    f"max_cores would be exceeded ({cpu / 1000:g} cores on or booting "
                    f"+ {tc / 1000:g} > max_cores {c.max_cores:g})"
                )
            elif self.max_memory is not None and mem + tm > self.max_memory:
                why = (
                    f"max_memory would be exceeded ({format_bytes(mem)} on or booting "
                    f"+ {format_bytes(tm)} > max_memory {format_bytes(self.max_memory)})"
                )
            elif c.max_cost_per_hour is not None and cost + tcost > c.max_cost_per_hour + 1e-9:
                why = (
                    f"max_cost_per_hour would be exceeded ({cost:g}/h on or booting "
                    f"+ {tcost:g}/h > {c.max_cost_per_hour:g}/h)"
                )
            if why:
                builder.veto(a, why)
                continue
            booting += 1
            on += 1
            cpu += tc
            mem += tm
            cost += tcost
