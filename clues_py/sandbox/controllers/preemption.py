"""Preemption (kube-scheduler's DefaultPreemption PostFilter): which lower-priority pods to evict.

For a pod that fits nowhere, each node whose failure preemption could fix is tried
with all its lower-priority pods removed; if the pod then fits, victims are
reprieved one by one, most important first (higher priority, then older), while
it still fits. Among the candidate nodes the one with the lowest highest-victim
priority wins, then the lowest sum of priorities, the fewest victims, the latest
start among its most important victims, then the node name. Without a candidate
the answer is the `preemption: 0/N nodes are available: ...` sentence in upstream
words. PodDisruptionBudgets are not weighed. Evicting the victims and nominating
the node is the scheduler's job (`scheduler.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from clues_py.model import Resources
from clues_py.sandbox.controllers import scheduling
from clues_py.sandbox.controllers.interpod import InterPod
from clues_py.sandbox.controllers.placed import PlacedPods, PodRec
from clues_py.sandbox.controllers.podterms import PodSpecInfo
from clues_py.sandbox.controllers.scheduling import NO_VICTIMS, NOT_HELPFUL, NodeInfo
from clues_py.sandbox.controllers.selection import Decision, node_reasons

NEVER = "preemption: not eligible due to preemptionPolicy=Never."
TERMINATING = "preemption: not eligible due to a terminating pod on the nominated node."


@dataclass(frozen=True, slots=True)
class Candidate:
    node: str
    victims: tuple[PodRec, ...]

    def rank(self) -> tuple[int, int, int, str, str]:
        prios = [v.info.priority for v in self.victims]
        top = max(prios)
        # The latest start among the most important victims wins: invert it for min().
        earliest_top = min(v.created for v in self.victims if v.info.priority == top)
        inverted = "".join(chr(0x10FFFF - ord(c)) for c in earliest_top)
        return (top, sum(prios), len(prios), inverted, self.node)


def eligible(info: PodSpecInfo, nominated: str, placed: PlacedPods) -> str:
    """Why the pod may not preempt now ("" when it may)."""
    if not info.preempt:
        return NEVER
    if nominated and any(
        r.deleting and r.info.priority < info.priority for r in placed.on(nominated)
    ):
        return TERMINATING
    return ""


def _victims_on(
    info: PodSpecInfo,
    node: NodeInfo,
    placed: PlacedPods,
    interpod: InterPod | None,
    reserved: Resources | None,
) -> tuple[Candidate | None, list[str]]:
    lower = [r for r in placed.on(node.name) if r.info.priority < info.priority]
    if not lower:
        return None, [NO_VICTIMS]

    def fits_without(removed: Sequence[PodRec]) -> list[str]:
        return node_reasons(
            info, node, placed, interpod, static=None, reserved=reserved, removed=removed
        )

    why = fits_without(lower)
    if why:
        return None, why
    victims = list(lower)
    for r in sorted(lower, key=lambda r: (-r.info.priority, r.created, r.key)):
        trial = [v for v in victims if v is not r]
        if not fits_without(trial):
            victims = trial  # reprieved: the pod fits with it still there
    return Candidate(node.name, tuple(victims)), []


def preempt(
    info: PodSpecInfo,
    decision: Decision,
    nodes: Sequence[NodeInfo],
    placed: PlacedPods,
    interpod: InterPod | None,
    reserved: Callable[[str], Resources | None],
    nominated: str = "",
) -> tuple[Candidate | None, str]:
    """(the node and victims to evict, or None with the `preemption: ...` message)."""
    why_not = eligible(info, nominated, placed)
    if why_not:
        return None, why_not
    by_name: Mapping[str, NodeInfo] = {n.name: n for n in nodes}
    statuses: Counter[str] = Counter()
    candidates: list[Candidate] = []
    # No pod anywhere of lower priority (most clusters: everything at 0): every node
    # preemption could help has no victims, as `_victims_on` would find node by node.
    victimless = not placed.any_below(info.priority)
    for name, reasons in decision.statuses.items():
        node = by_name.get(name)
        if node is None or all(scheduling.unresolvable(r) for r in reasons):
            statuses[NOT_HELPFUL] += 1
            continue
        if victimless:
            statuses[NO_VICTIMS] += 1
            continue
        cand, why = _victims_on(info, node, placed, interpod, reserved(name))
        if cand is not None:
            candidates.append(cand)
        else:
            statuses.update(why)
    if candidates:
        return min(candidates, key=Candidate.rank), ""
    return None, "preemption: " + scheduling.fit_error(decision.num_nodes, statuses)
