"""The planner: `plan(snapshot, policies) -> Plan`, pure and deterministic.

Policies run in order on one `PlanBuilder` (see `builder.py`); each may add actions,
veto earlier ones and record reasons. `default_policies` builds the standard
pipeline: scale-up for demand, min nodes, idle power-off, limits. The planner does
no I/O and reads no clock (`snapshot.now` is the time); the daemon executes the
plan through the actuator and the lifecycle FSM tracks what follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clues_py.model import ClusterSnapshot, Plan
from clues_py.planner.builder import PlanBuilder, Policy

__all__ = ["PlanBuilder", "PlannerSettings", "Policy", "default_policies", "plan"]


@dataclass(frozen=True)
class PlannerSettings:
    idle_time: float = 300
    min_nodes: int = 0
    max_booting: int = 10  # concurrent POWERING_ON nodes
    max_nodes: int | None = None  # managed nodes on or booting
    scale_down_delay: float = 0  # no idle power-off this long after the last scale-up
    pending_grace: float = 0  # ignore pods pending for less than this


def plan(snapshot: ClusterSnapshot, policies: Sequence[Policy]) -> Plan:
    """Run `policies` in order over `snapshot` and return the resulting plan."""
    builder = PlanBuilder(snapshot)
    by = builder.decided_by
    for policy in policies:
        before_u, before_k = dict(builder.unplaceable), dict(builder.kept)
        policy.apply(snapshot, builder)
        # Attribute every reason this policy wrote or changed to it (for `clues explain`).
        for current, before in ((builder.unplaceable, before_u), (builder.kept, before_k)):
            if len(current) != len(before) or current != before:
                for k, v in current.items():
                    if before.get(k) is not v:
                        by[k] = policy.name
    return builder.build()


def default_policies(settings: PlannerSettings) -> list[Policy]:
    """scale_up, min_nodes, idle_off, limits, configured from `settings`."""
    # Imported here: the built-in policies are plugins that import the planner.
    from plugins.policies.idle_off import IdleOff
    from plugins.policies.limits import Limits
    from plugins.policies.min_nodes import MinNodes
    from plugins.policies.scale_up import ScaleUp

    return [
        ScaleUp(ScaleUp.Config(pending_grace=settings.pending_grace)),
        MinNodes(MinNodes.Config(min_nodes=settings.min_nodes)),
        IdleOff(
            IdleOff.Config(idle_time=settings.idle_time, scale_down_delay=settings.scale_down_delay)
        ),
        Limits(Limits.Config(max_booting=settings.max_booting, max_nodes=settings.max_nodes)),
    ]
