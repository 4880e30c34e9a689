"""Filter every node for one pod and score the feasible ones, as kube-scheduler's default profile.

Filters, in upstream order, stop at a node's first failure (and the search stops
after kube-scheduler's adaptive number of feasible nodes): NodeUnschedulable,
TaintToleration, NodeAffinity (the static part, `scheduling.static_reason`),
NodePorts, NodeResourcesFit (pods nominated there with priority at least the
pod's hold their room), then PodTopologySpread and InterPodAffinity
(`interpod.py`). Scores, normalized per plugin and weighted like the default
profile: NodeResourcesFit (LeastAllocated, or MostAllocated) x1, TaintToleration
x3, NodeAffinity x2, InterPodAffinity x2, PodTopologySpread x2; the lower node
name breaks ties. The plain-pod fast path is `fastpick.py`'s; preemption is
`preemption.py`'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from clues_py.model import Resources
from clues_py.sandbox.controllers import scheduling
from clues_py.sandbox.controllers.interpod import InterPod
from clues_py.sandbox.controllers.placed import PlacedPods, PodRec
from clues_py.sandbox.controllers.podterms import PodSpecInfo, node_preference, ports_conflict
from clues_py.sandbox.controllers.scheduling import MAX_NODE_SCORE, NodeInfo

WEIGHTS = {"fit": 1, "taint": scheduling.TAINT_TOLERATION_WEIGHT, "node": 2, "pods": 2, "spread": 2}


@dataclass(slots=True)
class Decision:
    node: str | None
    reasons: Counter[str]  # reason -> how many nodes gave it (empty when placed)
    num_nodes: int
    statuses: dict[str, list[str]] = field(default_factory=dict)  # node -> its reasons
    processed: int = 0  # nodes looked at (the search stops after enough feasible ones)

    @property
    def message(self) -> str:
        """The FailedScheduling message without the preemption part."""
        return scheduling.fit_error(self.num_nodes, self.reasons)


def fit_score(request: Resources, used: Resources, alloc: Resources, most: bool) -> float:
    """NodeResourcesFit with cpu and memory weighted equally (0-100)."""
    uc, um = used.cpu_millis + request.cpu_millis, used.memory_bytes + request.memory_bytes
    fc = uc / alloc.cpu_millis if alloc.cpu_millis > 0 else 1.0
    fm = um / alloc.memory_bytes if alloc.memory_bytes > 0 else 1.0
    return (fc + fm) * 50.0 if most else (2.0 - fc - fm) * 50.0


def fits(request: Resources, used: Resources, alloc: Resources) -> bool:
    return (
        used.cpu_millis + request.cpu_millis <= alloc.cpu_millis
        and used.memory_bytes + request.memory_bytes <= alloc.memory_bytes
        and used.gpus + request.gpus <= alloc.gpus
        and used.pods + request.pods <= alloc.pods
    )


def node_reasons(
    info: PodSpecInfo,
    node: NodeInfo,
    placed: PlacedPods,
    interpod: InterPod | None,
    *,
    static: str | None,
    reserved: Resources | None = None,
    removed: Sequence[PodRec] = (),
) -> list[str]:
    """The reasons of the first filter `node` fails for the pod (empty: it fits there)."""
    if static is not None:
        return [static]
    if info.ports:
        used_ports: Counter[tuple[str, str, int]] = Counter(placed.ports.get(node.name) or {})
        for r in removed:
            used_ports.subtract(r.info.ports)
        if ports_conflict(info.ports, used_ports):
            return [scheduling.PORTS_REASON]
    used = placed.requested.get(node.name, Resources())
    for r in removed:
        used = used - r.info.request
    if reserved is not None:
        used = used + reserved
    if not fits(info.request, used, node.allocatable):
        return scheduling.resource_reasons(info.request, node.allocatable - used)
    if interpod is not None:
        why = interpod.reason(node, removed)
        if why is not None:
            return [why]
    return []


def _normalize_max(raw: Mapping[str, int]) -> dict[str, int]:
    top = max(raw.values(), default=0)
    return {n: (v * MAX_NODE_SCORE // top if top > 0 else 0) for n, v in raw.items()}


def _normalize_minmax(raw: Mapping[str, int]) -> dict[str, float]:
    lo, hi = min(raw.values(), default=0), max(raw.values(), default=0)
    return {n: (MAX_NODE_SCORE * (v - lo) / (hi - lo) if hi > lo else 0.0) for n, v in raw.items()}


def _normalize_spread(raw: Mapping[str, int | None]) -> dict[str, int]:
    known = [v for v in raw.values() if v is not None]
    lo, hi = min(known, default=0), max(known, default=0)
    out = {}
    for n, v in raw.items():
        if v is None:
            out[n] = 0
        elif hi == 0:
            out[n] = MAX_NODE_SCORE
        else:
            out[n] = MAX_NODE_SCORE * (hi + lo - v) // hi
    return out


def best_node(
    info: PodSpecInfo,
    feasible: Sequence[NodeInfo],
    placed: PlacedPods,
    interpod: InterPod | None,
    most: bool = False,
) -> str:
    """The highest-scoring feasible node (lower name on ties)."""
    zero = Resources()
    requested = placed.requested
    total = {
        n.name: fit_score(info.request, requested.get(n.name, zero), n.allocatable, most)
        for n in feasible
    }
    if any(n.taints for n in feasible):
        taint = scheduling.taint_scores(
            {n.name: scheduling.soft_taint_count(n, info.placement) for n in feasible}
        )
        for name, v in taint.items():
            total[name] += WEIGHTS["taint"] * v
    if info.soft_node:
        pref = _normalize_max({n.name: node_preference(info, n.labels) for n in feasible})
        for name, v in pref.items():
            total[name] += WEIGHTS["node"] * v
    if interpod is not None and interpod.soft_terms:
        pods = _normalize_minmax({n.name: interpod.affinity_score(n) for n in feasible})
        for name, w in pods.items():
            total[name] += WEIGHTS["pods"] * w
    if interpod is not None and interpod.soft:
        spread = _normalize_spread({n.name: interpod.spread_score(n) for n in feasible})
        for name, v in spread.items():
            total[name] += WEIGHTS["spread"] * v
    return min(total, key=lambda n: (-total[n], n))


def select_node(
    info: PodSpecInfo,
    nodes: Sequence[NodeInfo],
    placed: PlacedPods,
    *,
    static: Mapping[str, str | None] | None = None,
    reserved: Mapping[str, Resources] | None = None,
    interpod: InterPod | None = None,
    most: bool = False,
    start: int = 0,
) -> Decision:
    """Filter nodes and pick the best one, or say why none fits (per node and in total).

    As kube-scheduler, the search starts at `start` and stops once
    `feasible_to_find(len(nodes))` feasible nodes are found (all of them below 100
    nodes); `Decision.processed` says how many nodes were looked at.
    """
    n = len(nodes)
    want = scheduling.feasible_to_find(n)
    feasible: list[NodeInfo] = []
    processed = 0
    zero = Resources()
    request = info.request
    # First pass: find feasible nodes, ruling nodes out by the cheapest test first.
    hopeless = interpod.hopeless if interpod is not None and interpod.hard else None
    for i in range(n):
        node = nodes[(start + i) % n]
        processed += 1
        if hopeless is not None and hopeless(node):
            continue
        why = (
            static.get(node.name)
            if static is not None
            else scheduling.static_reason(node, info.placement)
        )
        if why is not None:
            continue
        res = reserved.get(node.name) if reserved else None
        if not info.ports and res is None:
            # The common case inline (this loop runs pods x nodes times).
            if not fits(request, placed.requested.get(node.name, zero), node.allocatable):
                continue
            if interpod is not None and interpod.reason(node) is not None:
                continue
        elif node_reasons(info, node, placed, interpod, static=None, reserved=res):
            continue
        feasible.append(node)
        if len(feasible) >= want:
            break
    if not feasible:
        return _explain(info, nodes, placed, static, reserved, interpod)
    best = best_node(info, feasible, placed, interpod, most)
    return Decision(best, Counter(), n, processed=processed)


def _explain(
    info: PodSpecInfo,
    nodes: Sequence[NodeInfo],
    placed: PlacedPods,
    static: Mapping[str, str | None] | None,
    reserved: Mapping[str, Resources] | None,
    interpod: InterPod | None,
) -> Decision:
    """No node fits: every node's reasons, from the first filter it fails, in upstream order."""
    reasons: Counter[str] = Counter()
    statuses: dict[str, list[str]] = {}
    for node in nodes:
        why = (
            static.get(node.name)
            if static is not None
            else scheduling.static_reason(node, info.placement)
        )
        res = reserved.get(node.name) if reserved else None
        out = node_reasons(info, node, placed, interpod, static=why, reserved=res)
        statuses[node.name] = out
        for r in out:
            reasons[r] += 1
    return Decision(None, reasons, len(nodes), statuses, len(nodes))
