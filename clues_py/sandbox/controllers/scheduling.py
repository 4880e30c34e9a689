"""Node-level scheduling facts for the sandbox: requests, placement, node filters, the words.

No store, no threads. A pod's effective request and node placement, a node's
`NodeInfo`, the filters that depend on the node alone (NodeUnschedulable,
TaintToleration, NodeAffinity, in kube-scheduler's order), the TaintToleration
score, the reasons every filter gives in upstream words, which of them preemption
cannot fix, and `fit_error`, which renders them as `FitError.Error()` does. Filtering
and scoring over nodes is `selection.py`'s; pod-to-pod constraints `interpod.py`'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clues_py.model import Placement, Resources, SelectorRequirement, Taint, Toleration

NOT_READY_TAINT = Taint("node.kubernetes.io/not-ready", "", "NoSchedule")
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")

MAX_NODE_SCORE = 100
# Weights of kube-scheduler's default profile for the score plugins the sandbox emulates.
TAINT_TOLERATION_WEIGHT = 3

# The filters' words, as kube-scheduler's plugins write them.
UNSCHEDULABLE_REASON = "node(s) were unschedulable"
NODE_AFFINITY_REASON = "node(s) didn't match Pod's node affinity/selector"
PORTS_REASON = "node(s) didn't have free ports for the requested pod ports"
SPREAD_REASON = "node(s) didn't match pod topology spread constraints"
SPREAD_LABEL_REASON = SPREAD_REASON + " (missing required label)"
AFFINITY_REASON = "node(s) didn't match pod affinity rules"
ANTI_REASON = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_REASON = "node(s) didn't satisfy existing pods anti-affinity rules"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
# Reasons preemption cannot fix (UnschedulableAndUnresolvable in kube-scheduler).
_UNRESOLVABLE = frozenset(
    {UNSCHEDULABLE_REASON, NODE_AFFINITY_REASON, AFFINITY_REASON, SPREAD_LABEL_REASON}
)


_PARSED: dict[tuple[tuple[str, str], ...], Resources] = {}


def _resources(mapping: Mapping[str, Any] | None) -> Resources:
    """Parse a resource map; pods of one template ask the same, so parses are remembered."""
    key = tuple(sorted((str(k), str(v)) for k, v in (mapping or {}).items()))
    hit = _PARSED.get(key)
    if hit is None:
        if len(_PARSED) > 4096:
            _PARSED.clear()
        hit = _PARSED[key] = Resources.from_k8s(mapping or {}, pods=0)
    return hit


def _container_request(container: Mapping[str, Any]) -> Resources:
    res = container.get("resources") or {}
    limits = res.get("limits") or {}
    requests = dict(res.get("requests") or {})
    # The API server defaults a missing request to the limit.
    for name, value in limits.items():
        requests.setdefault(name, value)
    return _resources(requests)


def _max(a: Resources, b: Resources) -> Resources:
    return Resources(
        max(a.cpu_millis, b.cpu_millis),
        max(a.memory_bytes, b.memory_bytes),
        max(a.gpus, b.gpus),
        max(a.pods, b.pods),
    )


def pod_requests(pod: Mapping[str, Any]) -> Resources:
    """Effective request of a pod: sum of containers, max with each init container, +1 pod slot."""
    spec = pod.get("spec") or {}
    total = Resources()
    for c in spec.get("containers") or ():
        total = total + _container_request(c)
    for c in spec.get("initContainers") or ():
        total = _max(total, _container_request(c))
    total = total + _resources(spec.get("overhead"))
    return total + Resources(pods=1)


def pod_placement(pod: Mapping[str, Any]) -> Placement:
    """nodeSelector, tolerations and required node affinity of a pod spec."""
    spec = pod.get("spec") or {}
    selector = tuple(sorted((spec.get("nodeSelector") or {}).items()))
    tolerations = tuple(Toleration.from_k8s(t) for t in spec.get("tolerations") or ())
    terms: list[tuple[SelectorRequirement, ...]] = []
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or ():
        reqs = [
            SelectorRequirement(
                e.get("key", ""), e.get("operator", ""), tuple(e.get("values") or ())
            )
            for e in term.get("matchExpressions") or ()
        ]
        # matchFields supports only metadata.name; model it as a pseudo label.
        reqs += [
            SelectorRequirement(
                "metadata.name" if f.get("key") == "metadata.name" else "\0" + str(f.get("key")),
                f.get("operator", ""),
                tuple(f.get("values") or ()),
            )
            for f in term.get("matchFields") or ()
        ]
        terms.append(tuple(reqs))
    return Placement(selector, tolerations, tuple(terms))


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What the scheduler needs of a Node (allocatable includes the pod slots)."""

    name: str
    allocatable: Resources
    labels: Mapping[str, str]
    taints: tuple[Taint, ...] = ()
    ready: bool = True
    unschedulable: bool = False

    @property
    def soft_taints(self) -> tuple[Taint, ...]:
        return tuple(t for t in self.taints if t.effect == "PreferNoSchedule")

    @classmethod
    def from_k8s(cls, node: Mapping[str, Any]) -> NodeInfo:
        md = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or ()
        )
        alloc = status.get("allocatable") or status.get("capacity") or {}
        labels = dict(md.get("labels") or {})
        labels["metadata.name"] = md.get("name", "")
        return cls(
            name=md.get("name", ""),
            allocatable=Resources.from_k8s(alloc),
            labels=labels,
            taints=tuple(Taint.from_k8s(t) for t in spec.get("taints") or ()),
            ready=ready,
            unschedulable=bool(spec.get("unschedulable")),
        )


def untolerated_hard_taint(node: NodeInfo, placement: Placement) -> str | None:
    """TaintToleration's filter reason for `node` (NoSchedule/NoExecute, not-ready included)."""
    tol = placement.tolerations
    taints = node.taints if node.ready else (NOT_READY_TAINT, *node.taints)
    for taint in taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not any(t.tolerates(taint) for t in tol):
            return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"
    return None


def static_reason(node: NodeInfo, placement: Placement) -> str | None:
    """Why `node` rejects a pod regardless of what runs on it, or None.

    kube-scheduler's first filters in order: NodeUnschedulable, TaintToleration, NodeAffinity.
    """
    tol = placement.tolerations
    if node.unschedulable and not any(t.tolerates(UNSCHEDULABLE_TAINT) for t in tol):
        return UNSCHEDULABLE_REASON
    why = untolerated_hard_taint(node, placement)
    if why is not None:
        return why
    if not placement.labels_match(node.labels):
        return NODE_AFFINITY_REASON
    return None


def soft_taint_count(node: NodeInfo, placement: Placement) -> int:
    """PreferNoSchedule taints of `node` the pod does not tolerate (TaintToleration's score input)."""
    tol = placement.tolerations
    return sum(
        1
        for t in node.taints
        if t.effect == "PreferNoSchedule" and not any(x.tolerates(t) for x in tol)
    )


def taint_scores(counts: Mapping[str, int]) -> dict[str, int]:
    """TaintToleration's normalized score (0-100, fewer untolerated soft taints is better).

    kube-scheduler's DefaultNormalizeScore with reverse=True, integer arithmetic included.
    """
    top = max(counts.values(), default=0)
    if top == 0:
        return dict.fromkeys(counts, MAX_NODE_SCORE)
    return {n: MAX_NODE_SCORE - MAX_NODE_SCORE * c // top for n, c in counts.items()}


def resource_reasons(request: Resources, free: Resources) -> list[str]:
    """NodeResourcesFit reasons (`Too many pods`, `Insufficient cpu`, ...)."""
    out = []
    if request.pods > free.pods:
        out.append("Too many pods")
    out += [f"Insufficient {name}" for name in request.insufficient(free) if name != "pods"]
    return out


def feasible_to_find(num_nodes: int) -> int:
    """kube-scheduler's adaptive percentageOfNodesToScore: stop after this many feasible nodes."""
    if num_nodes < 100:
        return num_nodes
    pct = max(5, 50 - num_nodes // 125)
    return max(100, num_nodes * pct // 100)


def unresolvable(reason: str) -> bool:
    """UnschedulableAndUnresolvable: removing pods from the node (preemption) cannot help."""
    return reason in _UNRESOLVABLE or reason.startswith("node(s) had untolerated taint")


def fit_error(num_nodes: int, reasons: Mapping[str, int]) -> str:
    """FitError.Error(): `0/N nodes are available: <sorted "count reason" list>.`"""
    if num_nodes == 0:
        return "no nodes available to schedule pods"
    head = f"0/{num_nodes} nodes are available:"
    parts = sorted(f"{count} {reason}" for reason, count in reasons.items() if count > 0)
    return f"{head} {', '.join(parts)}." if parts else head


def fit_error_message(num_nodes: int, reasons: Mapping[str, int]) -> str:
    """The FailedScheduling message when no node has lower-priority pods to preempt.

    Each node gives the reasons of its first failing filter; resource reasons may be
    several per node, so the preemption sentence counts the nodes, not the reasons.
    """
    if num_nodes == 0:
        return fit_error(0, reasons)
    hopeless = sum(c for r, c in reasons.items() if unresolvable(r))
    post = Counter({NO_VICTIMS: num_nodes - hopeless, NOT_HELPFUL: hopeless})
    return f"{fit_error(num_nodes, reasons)} preemption: {fit_error(num_nodes, post)}"
