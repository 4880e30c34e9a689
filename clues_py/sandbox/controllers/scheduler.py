"""The sandbox scheduler: binds pending pods to nodes, or says why it cannot.

Keeps incremental state from the runtime's events (node infos, requested
resources per node, the queue of pods to try) and, on `sync`, runs one pass over
the queued pods in priority/creation order. Decisions come from the pure
`scheduling.py`; a pod that fits nowhere is parked until something that could
help happens (a node added or changed, a bound pod finished or went away), as
kube-scheduler's unschedulable queue does. Starting the pod is the kubelet's job.
"""

from __future__ import annotations

from typing import Any

from clues_py.model import Placement, Resources
from clues_py.sandbox.controllers import scheduling
from clues_py.sandbox.controllers.common import Obj, key_of, rfc3339, set_condition
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.podlife import is_terminal
from clues_py.sandbox.controllers.runtime import Runtime

SCHEDULER_NAME = "default-scheduler"


def _bound(pod: Obj | None) -> str:
    if pod is None or is_terminal(pod):
        return ""
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _wants_scheduling(pod: Obj | None) -> bool:
    if pod is None:
        return False
    spec = pod.get("spec") or {}
    return (
        not spec.get("nodeName")
        and not (pod.get("metadata") or {}).get("deletionTimestamp")
        and not is_terminal(pod)
        and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
    )


class Scheduler:
    resources = frozenset({"nodes", "pods"})

    def __init__(self, runtime: Runtime, events: EventRecorder, strategy: str = "LeastAllocated"):
        if strategy not in ("LeastAllocated", "MostAllocated"):
            raise ValueError(
                f"scheduler strategy {strategy!r}: expected 'LeastAllocated' or 'MostAllocated'"
            )
        self.rt = runtime
        self.events = events
        self.strategy = strategy
        self.nodes: dict[str, scheduling.NodeInfo] = {}
        self.requested: dict[str, Resources] = {}
        self.active: set[str] = set()  # pods to try in the next pass
        self.parked: set[str] = set()  # pods that fit nowhere last time
        self._req_cache: dict[str, tuple[Resources, Placement]] = {}
        self._start = 0
        self.passes = 0
        self.bound = 0

    # ----------------------------------------------------------------- bookkeeping
    def _spec_of(self, pod: Obj) -> tuple[Resources, Placement]:
        uid = (pod.get("metadata") or {}).get("uid", "") or key_of(pod)
        hit = self._req_cache.get(uid)
        if hit is None:
            hit = (scheduling.pod_requests(pod), scheduling.pod_placement(pod))
            self._req_cache[uid] = hit
        return hit

    def _account(self, pod: Obj | None, sign: int) -> str:
        node = _bound(pod)
        if node and pod is not None:
            req = self._spec_of(pod)[0]
            cur = self.requested.get(node, Resources())
            self.requested[node] = cur + req if sign > 0 else cur - req
        return node

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        if resource == "nodes":
            if new is None:
                self.nodes.pop(key_of(old or {}), None)
                return False
            info = scheduling.NodeInfo.from_k8s(new)
            prev = self.nodes.get(info.name)
            self.nodes[info.name] = info
            if prev != info:
                return self._unpark()
            return False
        freed_node = self._account(old, -1)
        self._account(new, +1)
        key = key_of(new or old or {})
        if new is None:
            self._req_cache.pop((old or {}).get("metadata", {}).get("uid", ""), None)
        if _wants_scheduling(new):
            if key not in self.parked:
                self.active.add(key)
        else:
            self.active.discard(key)
            self.parked.discard(key)
        if freed_node and _bound(new) != freed_node:
            return self._unpark() or bool(self.active)
        return bool(self.active)

    def _unpark(self) -> bool:
        self.active |= self.parked
        self.parked.clear()
        return bool(self.active)

    # ----------------------------------------------------------------- the pass
    def sync(self) -> None:
        if not self.active:
            return
        self.passes += 1
        pods = self.rt.cache.objects["pods"]
        queue = [pods[k] for k in self.active if k in pods and _wants_scheduling(pods[k])]
        self.active.clear()
        queue.sort(key=_queue_order)
        nodes = sorted(self.nodes.values(), key=lambda n: n.name)
        static: dict[Placement, dict[str, str | None]] = {}
        # (placement, request) that already failed in this pass: resources only shrink.
        failed: dict[tuple[Placement, Resources], scheduling.Decision] = {}
        for pod in queue:
            request, placement = self._spec_of(pod)
            decision = failed.get((placement, request))
            if decision is None:
                reasons = static.get(placement)
                if reasons is None:
                    reasons = {n.name: scheduling.static_reason(n, placement) for n in nodes}
                    static[placement] = reasons
                decision = scheduling.choose_node(
                    request,
                    placement,
                    nodes,
                    self.requested,
                    strategy=self.strategy,
                    start=self._start,
                    static=reasons,
                )
                if nodes:
                    self._start = (self._start + 1) % len(nodes)
            if decision.node is None:
                failed[(placement, request)] = decision
                self.parked.add(key_of(pod))
                self._mark_unschedulable(pod, decision.message)
            else:
                self._bind(pod, decision.node)

    def _bind(self, pod: Obj, node: str) -> None:
        md = pod["metadata"]
        now = self.rt.clock.now()

        def bind(p: Obj) -> None:
            if (p.get("spec") or {}).get("nodeName"):
                return
            p.setdefault("spec", {})["nodeName"] = node
            set_condition(
                p.setdefault("status", {}), "PodScheduled", "True", "", "", now, probe=True
            )

        out = self.rt.mutate("pods", md["name"], md.get("namespace"), bind)
        if out is not None and (out.get("spec") or {}).get("nodeName") == node:
            self.bound += 1
            self.events.record(
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {md.get('namespace')}/{md['name']} to {node}",
                source=SCHEDULER_NAME,
            )

    def _mark_unschedulable(self, pod: Obj, message: str) -> None:
        cond = next(
            (
                c
                for c in (pod.get("status") or {}).get("conditions") or ()
                if c.get("type") == "PodScheduled"
            ),
            None,
        )
        if cond and cond.get("status") == "False" and cond.get("message") == message:
            return  # unchanged: no write, no event
        md = pod["metadata"]
        now = self.rt.clock.now()

        def mark(p: Obj) -> None:
            if (p.get("spec") or {}).get("nodeName"):
                return
            set_condition(
                p.setdefault("status", {}),
                "PodScheduled",
                "False",
                "Unschedulable",
                message,
                now,
                probe=True,
            )

        self.rt.mutate("pods", md["name"], md.get("namespace"), mark)
        self.events.record(pod, "Warning", "FailedScheduling", message, source=SCHEDULER_NAME)

    def stats(self) -> dict[str, Any]:
        return {
            "passes": self.passes,
            "bound": self.bound,
            "parked": len(self.parked),
            "nodes": len(self.nodes),
        }


def _queue_order(pod: Obj) -> tuple[int, str, str]:
    spec = pod.get("spec") or {}
    md = pod.get("metadata") or {}
    return (-int(spec.get("priority") or 0), md.get("creationTimestamp") or rfc3339(0), key_of(pod))
