"""Warm capacity helpers shared by min_nodes, keep_free and schedule windows.

`keep_on` keeps at least N managed nodes on (reserving some that are on, powering on
OFF ones); `power_on_candidates` orders the OFF nodes such policies may wake, and asks for
the plan to be revisited when one that must wait (retry delay, template back-off) may be
woken. Which N, and when, is the policies' business (`plugins/policies/`); limits veto
afterwards. Nodes come from the planner memo's index, so only those that matter are read.
"""

from __future__ import annotations

from clues_py.model import Action, ActionKind, ClusterSnapshot, ManagedNode, NodeState
from clues_py.planner.builder import PlanBuilder

__all__ = ["keep_on", "not_off_counts", "power_on", "power_on_candidates"]

_KEEP_RANK = {NodeState.USED: 0, NodeState.POWERING_ON: 1, NodeState.IDLE: 2}


def not_off_counts(snap: ClusterSnapshot, builder: PlanBuilder) -> dict[str, int]:
    """template -> nodes not OFF, counting power-ons already in the plan (for max_count)."""
    out: dict[str, int] = {}
    for (state, template), count in builder.memo.nodes(snap).counts.items():
        if state is not NodeState.OFF and count > 0:
            out[template] = out.get(template, 0) + count
    for a in builder.power_ons():
        out[a.template] = out.get(a.template, 0) + 1
    return out


def power_on_candidates(
    snap: ClusterSnapshot, builder: PlanBuilder, *, gpu_last: bool = True
) -> list[ManagedNode]:
    """OFF enabled nodes that may be woken now: highest template priority, cheapest,
    fewest failed attempts, name; GPU templates last (warm capacity is for any work)."""
    ranked = []
    now = snap.now
    for n in builder.memo.nodes(snap).in_state(NodeState.OFF):
        t = snap.templates.get(n.template)
        if t is None or not n.enabled or builder.action_for(n.name) is not None:
            continue
        backoff = snap.template_backoff.get(t.name, float("-inf"))
        if n.retry_at > now or backoff > now:
            builder.revisit(max(n.retry_at, backoff))
            continue
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


def _last_busy(n: ManagedNode, now: float) -> float:
    return now if n.state is NodeState.USED else max(n.since, n.last_used)


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
    index = builder.memo.nodes(snap)
    on = [n for state in _KEEP_RANK for n in index.in_state(state)]
    count = len(on) + len(builder.power_ons())
    # A node running work is in use now, whenever its observation last changed.
    on.sort(key=lambda n: (_KEEP_RANK[n.state], -_last_busy(n, snap.now), n.name))
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
