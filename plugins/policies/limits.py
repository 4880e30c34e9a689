"""Limits policy: veto power-ons beyond `max_booting` concurrent boots or `max_nodes`.

Runs last. Power-ons are kept in plan order (scale-up first, then min_nodes) until a
limit is reached; vetoed ones hand their pods the limit as the unplaceable reason and
their node a `kept` reason. Managed nodes count towards `max_nodes` while POWERING_ON,
IDLE, USED, DRAINING, POWERING_OFF or UNKNOWN. Per-template `max_count` is enforced
by the packing, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

from clues_py.contracts import PluginContext
from clues_py.model import ClusterSnapshot, NodeState
from clues_py.planner.builder import PlanBuilder

_COUNTED = frozenset(
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

    @dataclass(frozen=True)
    class Config:
        max_booting: int | None = 10
        max_nodes: int | None = None

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or Limits.Config()
        for key in ("max_booting", "max_nodes"):
            value = getattr(self.config, key)
            if value is not None and value < 0:
                raise ValueError(f"limits: {key} must be >= 0 or null, got {value}")

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        max_booting, max_nodes = self.config.max_booting, self.config.max_nodes
        booting = sum(1 for n in snap.nodes if n.state is NodeState.POWERING_ON)
        on = sum(1 for n in snap.nodes if n.state in _COUNTED)
        for a in builder.power_ons():
            if max_booting is not None and booting >= max_booting:
                builder.veto(a, f"max_booting reached ({booting} booting)")
            elif max_nodes is not None and on >= max_nodes:
                builder.veto(a, f"max_nodes reached ({on} on or booting, max_nodes {max_nodes})")
            else:
                booting += 1
                on += 1
