"""Warm capacity helpers shared by min_nodes, keep_free and schedule windows.

`keep_on` keeps at least N managed nodes on (reserving some that are on, powering on
OFF ones); `power_on_candidates` orders the OFF nodes such policies may wake. Which N,
and when, is the policies' business (`plugins/policies/`); limits veto afterwards.
"""

from __future__ import annotations

from clues_py.model import Action, ActionKind, ClusterSnapshot, ManagedNode, NodeState
from clues_py.planner.builder import PlanBuilder

__all__ = ["keep_on", "not_off_counts", "power_on", "power_on_candidates"]

_KEEP_RANK = {NodeState.USED: 0, NodeState.POWERING_ON: 1, NodeState.IDLE: 2}


def not_off_counts(snap: ClusterSnapshot, builder: PlanBuilder) -> dict[str, int]:
    """template -> nodes not OFF, counting power-ons already in the plan (for max_count)."""
    out: dict[str, int] = {}
    for n in snap.nodes:
        if n.state is not NodeState.OFF:
            out[n.template] = out.get(n.template, 0) + 1
    for a in builder.power_ons():
        out[a.template] = out.get(a.template, 0) + 1
    return out


def power_on_candidates(
    snap: ClusterSnapshot, builder: PlanBuilder, *, gpu_last: bool = True
) -> list[ManagedNode]:
    """OFF enabled nodes that may be woken now: highest template priority, cheapest,
    fewest failed attempts, name; GPU templates last (warm capacity is for any work)."""
    ranked = []
    for n in snap.nodes:
        t = snap.templates.get(n.template)
        if (
            t is not None
            and n.state is NodeState.OFF
            and n.enabled
            and n.retry_at <= snap.now
            and builder.action_for(n.name) is None
            and snap.template_backoff.get(t.name, float("-inf")) <= snap.now
        ):
            gpu = 1 if gpu_last and t.resources.gpus else 0
            ranked.append(((gpu, -t.priority, t.cost_per_hour, n.attempts, n.name), n))
    ranked.sort(key=lambda c: c[0])
    return [n for _, n in ranked]


def power_on(
    snap: ClusterSnapshot,
    builder: PlanBuilder,
    node: ManagedNode,
    not_off: dict[str, int],
    reason: str,
    policy: str,
) -> bool:
    """Add a POWER_ON for `node` unless its template's max_count is reached."""
    t = snap.templates[node.template]
    if t.max_count is not None and not_off.get(t.name, 0) >= t.max_count:
        return False
    if builder.add(Action(ActionKind.POWER_ON, node.name, node.template, reason, policy)):
        not_off[t.name] = not_off.get(t.name, 0) + 1
        return True
    return False


def keep_on(
    snap: ClusterSnapshot, builder: PlanBuilder, want: int, label: str, policy: str
) -> None:
    """Keep at least `want` managed nodes on (IDLE, USED, POWERING_ON or powering on now).

    Reserves the `want` best nodes already on (busy first, then booting, then the most
    recently used idle ones) so idle power-off cannot go below the floor, and powers
    on OFF nodes when fewer are on. `label` starts every reason (e.g. "min_nodes=2").
    """
    if want <= 0:
        return
    on = [n for n in snap.nodes if n.state in _KEEP_RANK]
    count = len(on) + len(builder.power_ons())
    on.sort(key=lambda n: (_KEEP_RANK[n.state], -max(n.since, n.last_used), n.name))
    for n in on[:want]:
        builder.reserve(n.name, f"{label}: keeping {min(want, len(on))} nodes on")
    if count >= want:
        return
    not_off = not_off_counts(snap, builder)
    reason = f"{label}: {count} on"
    for n in power_on_candidates(snap, builder):
        if count >= want:
            break
        if power_on(snap, builder, n, not_off, reason, policy):
            count += 1
