"""The planner: `plan(snapshot, policies) -> Plan`, pure and deterministic.

Policies run in order on one `PlanBuilder` (see `builder.py`); each may add actions,
veto earlier ones and record reasons. A `PlanMemo` (`memo.py`) carries indexes from one
plan to the next so a pass costs what changed, not the cluster's size. The policies and expanders themselves are plugins
(`plugins/policies/`, `plugins/expanders/`): the planner never imports them; the daemon's
pipeline (`clues_py/daemon/pipeline.py`) resolves them by name. The planner does
no I/O and reads no clock (`snapshot.now` is the time); the daemon executes the
plan through the actuator and the lifecycle FSM tracks what follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clues_py.model import ClusterSnapshot, Plan
from clues_py.planner.builder import PlanBuilder, Policy
from clues_py.planner.chain import ChainError
from clues_py.planner.memo import PlanMemo

__all__ = [
    "ChainError",
    "PlanBuilder",
    "PlanMemo",
    "PlannerSettings",
    "Policy",
    "check_pipeline",
    "plan",
]

# Policies that need to know what scale-up claimed, so must follow it.
_AFTER_SCALE_UP = ("keep_free", "consolidation", "pack_down")


@dataclass(frozen=True)
class PlannerSettings:
    idle_time: float = 300
    min_nodes: int = 0
    max_booting: int = 10  # concurrent POWERING_ON nodes
    max_nodes: int | None = None  # managed nodes on or booting
    scale_down_delay: float = 0  # no idle power-off this long after the last scale-up
    pending_grace: float = 0  # ignore pods pending for less than this


def plan(
    snapshot: ClusterSnapshot, policies: Sequence[Policy], memo: PlanMemo | None = None
) -> Plan:
    """Run `policies` in order over `snapshot` and return the resulting plan.

    `memo`: the indexes kept from the previous plan of the same caller (`PlanMemo`), brought
    up to date from what changed; the plan is the same as without it, only cheaper.
    """
    builder = PlanBuilder(snapshot, memo)
    for policy in policies:
        builder.current = policy.name  # reasons it writes are attributed to it
        policy.apply(snapshot, builder)
        if not getattr(policy, "declares_revisits", False):
            # It may change its mind any time: plan again on every tick (a revisit at the
            # snapshot's own time; the daemon reads it as "at the next tick").
            builder.revisit_at = min(builder.revisit_at, snapshot.now)
    return builder.build()


def check_pipeline(names: Sequence[str]) -> None:
    """Reject policy orders that make no sense; raises ChainError naming the entry."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise ChainError(
                f"policy {name!r} is listed twice (also at policies[{seen[name]}]); "
                "merge their options into one entry",
                i,
            )
        seen[name] = i
    if "limits" in seen and seen["limits"] != len(names) - 1:
        raise ChainError(
            "'limits' must be the last policy: power-ons added after it would escape the limits",
            seen["limits"],
        )
    if "pack_down" in seen and "idle_off" in seen and seen["pack_down"] > seen["idle_off"]:
        raise ChainError(
            "'pack_down' must come before 'idle_off' (idle power-off needs to know which "
            "idle nodes new pods are steered away from)",
            seen["pack_down"],
        )
    for name in _AFTER_SCALE_UP:
        if name in seen and "scale_up" in seen and seen[name] < seen["scale_up"]:
            raise ChainError(
                f"{name!r} must come after 'scale_up' (it needs to know which capacity "
                "pending demand claims)",
                seen[name],
            )
