"""The sandbox scheduler: binds pending pods to nodes, preempts for them, or says why it cannot.

Keeps incremental state from the runtime's events (node infos, the bound pods in
`placed.py`, pods nominated by preemption, the queue) and, on `sync`, runs one
pass over the queued pods in priority/creation order. Plain pods take the indexed
fast path (`fastpick.py`); pods with inter-pod affinity, spreading, host ports or
node preferences, or constrained by other pods' anti-affinity, are filtered and
scored node by node (`selection.py`, `interpod.py`). A pod that fits nowhere may
preempt lower-priority pods (`preemption.py`: it is nominated, the victims get a
DisruptionTarget condition, a `Preempted` event and are deleted); otherwise it is
parked with a FailedScheduling message in kube-scheduler's words until something
that could help happens. Starting the pod is the kubelet's job.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from clues_py.model import Placement, Resources
from clues_py.sandbox.controllers import preemption, scheduling, selection
from clues_py.sandbox.controllers.common import Obj, key_of, rfc3339, set_condition
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.fastpick import FastIndex
from clues_py.sandbox.controllers.interpod import InterPod, Topology
from clues_py.sandbox.controllers.placed import PlacedPods, PodRec
from clues_py.sandbox.controllers.podlife import is_terminal
from clues_py.sandbox.controllers.podterms import PodSpecInfo
from clues_py.sandbox.controllers.runtime import Runtime

SCHEDULER_NAME = "default-scheduler"
PREEMPTED_MESSAGE = f"{SCHEDULER_NAME}: preempting to accommodate a higher priority pod"
_MAX_INDEXES = 32


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
    resources = frozenset({"nodes", "pods", "namespaces"})

    def __init__(self, runtime: Runtime, events: EventRecorder, strategy: str = "LeastAllocated"):
        if strategy not in ("LeastAllocated", "MostAllocated"):
            raise ValueError(
                f"scheduler strategy {strategy!r}: expected 'LeastAllocated' or 'MostAllocated'"
            )
        self.rt = runtime
        self.events = events
        self.strategy = strategy
        self.nodes: dict[str, scheduling.NodeInfo] = {}
        self.placed = PlacedPods()
        self.versions: dict[str, int] = {}
        self.active: set[str] = set()  # pods to try in the next pass
        self.parked: set[str] = set()  # pods that fit nowhere last time
        self.nominated: dict[str, tuple[str, int, Resources]] = {}  # pod -> (node, prio, request)
        self.ns_labels: dict[str, dict[str, str]] = {}
        self._specs: dict[str, PodSpecInfo] = {}
        self._fast: OrderedDict[Placement, FastIndex] = OrderedDict()
        self._static: dict[Placement, dict[str, str | None]] = {}
        self._sorted: list[scheduling.NodeInfo] | None = None
        self._topology = Topology()
        self._start = 0  # where the next node search begins (kube's nextStartNodeIndex)
        self.passes = 0
        self.bound = 0
        self.preemptions = 0

    # ----------------------------------------------------------------- bookkeeping
    def spec_of(self, pod: Obj) -> PodSpecInfo:
        uid = (pod.get("metadata") or {}).get("uid", "") or key_of(pod)
        hit = self._specs.get(uid)
        if hit is None:
            hit = self._specs[uid] = PodSpecInfo.from_k8s(pod, self.ns_labels)
        return hit

    def _nodes_changed(self) -> None:
        self._fast.clear()
        self._static.clear()
        self._topology.clear()
        self._sorted = None

    def _touch(self, node: str) -> None:
        version = self.versions[node] = self.versions.get(node, 0) + 1
        used = self.placed.requested.get(node, Resources())
        for index in self._fast.values():
            index.touch(node, used, version)

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        if resource == "namespaces":
            if new is not None:
                self.ns_labels[key_of(new)] = dict((new.get("metadata") or {}).get("labels") or {})
            else:
                self.ns_labels.pop(key_of(old or {}), None)
            return False
        if resource == "nodes":
            if new is None:
                if self.nodes.pop(key_of(old or {}), None) is not None:
                    self._nodes_changed()
                return False
            info = scheduling.NodeInfo.from_k8s(new)
            if self.nodes.get(info.name) != info:
                self.nodes[info.name] = info
                self._nodes_changed()
                return self._unpark(self._could_use(info))
            return False
        return self._observe_pod(old, new)

    def _observe_pod(self, old: Obj | None, new: Obj | None) -> bool:
        key = key_of(new or old or {})
        if old is not None and new is not None and _labels(old) != _labels(new):
            self._specs.pop(new["metadata"].get("uid", ""), None)  # relabelled: parse again
        node = _bound(new)
        freed = False
        if node:
            md = new["metadata"] if new is not None else {}
            labels = dict(md.get("labels") or {})
            deleting = bool(md.get("deletionTimestamp"))
            if not self.placed.same(key, node, labels, deleting):
                prev = self.placed.remove(key)
                rec = PodRec(
                    key,
                    node,
                    self.spec_of(new or {}),
                    labels,
                    deleting,
                    md.get("creationTimestamp", ""),
                )
                self.placed.add(rec)
                self._touch(node)
                if prev is not None and prev.node != node:
                    self._touch(prev.node)
                freed = prev is not None  # labels or deletion changed: constraints may relax
                if prev is None and self.parked:
                    # A new pod somewhere can satisfy a parked pod's required affinity.
                    self._unpark(lambda k: bool(self._parked_info(k).affinity))
        else:
            prev = self.placed.remove(key)
            if prev is not None:
                self._touch(prev.node)
                freed = True
        nominated = ((new or {}).get("status") or {}).get("nominatedNodeName")
        if new is not None and nominated and not node:
            spec = self.spec_of(new)
            self.nominated[key] = (nominated, spec.priority, spec.request)
        else:
            self.nominated.pop(key, None)
        if new is None:
            self._specs.pop(((old or {}).get("metadata") or {}).get("uid", ""), None)
        if _wants_scheduling(new):
            if key not in self.parked:
                self.active.add(key)
        else:
            self.active.discard(key)
            self.parked.discard(key)
        if freed:
            return self._unpark() or bool(self.active)
        return bool(self.active)

    def _parked_info(self, key: str) -> PodSpecInfo:
        pod = self.rt.cache.get("pods", key)
        return (
            self.spec_of(pod) if pod is not None else PodSpecInfo("", (), Resources(), Placement())
        )

    def _could_use(self, node: scheduling.NodeInfo) -> Callable[[str], bool]:
        """Which parked pods a node added or changed may help: kube-scheduler's queueing hints.

        A pod is retried when the node passes its node-level filters (NodeUnschedulable,
        TaintToleration, NodeAffinity) and its request fits the node's allocatable; pods
        with inter-pod terms, spreading or host ports always are (a node changes their
        topology). Without the hints every node change (one joining or turning Ready, an
        uncordon) retried every parked pod, 15,000 at a time in a big cluster, and the
        pods created meanwhile waited behind them for their first verdict.
        """
        verdict: dict[Placement, bool] = {}

        def could(key: str) -> bool:
            spec = self._parked_info(key)
            if not spec.simple:
                return True
            ok = verdict.get(spec.placement)
            if ok is None:
                ok = verdict[spec.placement] = (
                    scheduling.static_reason(node, spec.placement) is None
                )
            return ok and spec.request.fits(node.allocatable)

        return could

    def _unpark(self, which: Any = None) -> bool:
        moving = {k for k in self.parked if which is None or which(k)}
        self.active |= moving
        self.parked -= moving
        return bool(self.active)

    # ----------------------------------------------------------------- helpers of the pass
    def _node_list(self) -> list[scheduling.NodeInfo]:
        if self._sorted is None:
            self._sorted = sorted(self.nodes.values(), key=lambda n: n.name)
        return self._sorted

    def _static_for(self, placement: Placement) -> dict[str, str | None]:
        hit = self._static.get(placement)
        if hit is None:
            hit = {n.name: scheduling.static_reason(n, placement) for n in self._node_list()}
            self._static[placement] = hit
        return hit

    def _index_for(self, placement: Placement) -> FastIndex:
        index = self._fast.get(placement)
        if index is None:
            index = FastIndex(placement, self._node_list(), self.placed.requested, self.versions)
            self._fast[placement] = index
            if len(self._fast) > _MAX_INDEXES:
                self._fast.popitem(last=False)
        else:
            self._fast.move_to_end(placement)
        return index

    def _reserved(self, key: str, priority: int) -> dict[str, Resources]:
        """Room held on nodes by pods nominated there with at least this priority."""
        out: dict[str, Resources] = {}
        for other, (node, prio, req) in self.nominated.items():
            if other != key and prio >= priority:
                out[node] = out.get(node, Resources()) + req
        return out

    def _constrained(self, info: PodSpecInfo) -> bool:
        """Some bound pod's required anti-affinity matches this pod."""
        if not self.placed.holders:
            return False
        labels = info.label_map
        return any(
            t.matches(info.namespace, labels)
            for rec in self.placed.holders.values()
            for t in rec.info.anti
        )

    # ----------------------------------------------------------------- the pass
    def sync(self) -> None:
        if not self.active:
            return
        self.passes += 1
        pods = self.rt.cache.objects["pods"]
        queue = [pods[k] for k in self.active if k in pods and _wants_scheduling(pods[k])]
        self.active.clear()
        queue.sort(key=_queue_order)
        # Outcome of plain pods that fit nowhere, by what they ask: the same pods fail alike.
        failed: dict[tuple[Placement, Resources, int, bool], str] = {}
        most = self.strategy == "MostAllocated"
        for pod in queue:
            key = key_of(pod)
            info = self.spec_of(pod)
            reserved = self._reserved(key, info.priority) if self.nominated else {}
            plain = info.simple and not self._constrained(info)
            memo = (info.placement, info.request, info.priority, info.preempt)
            if plain and memo in failed:
                self.parked.add(key)
                self._mark_unschedulable(pod, failed[memo])
                continue
            if plain and not most:
                node = self._index_for(info.placement).pick(
                    info.request, self.placed.requested, self.versions, reserved
                )
                if node is not None:
                    self._bind(pod, node)
                    continue
            nodes = self._node_list()
            interpod = None if plain else InterPod(info, self.placed, nodes, self._topology)
            decision = selection.select_node(
                info,
                nodes,
                self.placed,
                static=self._static_for(info.placement),
                reserved=reserved,
                interpod=interpod,
                most=most,
                start=self._start,
            )
            if nodes:
                self._start = (self._start + decision.processed) % len(nodes)
            if decision.node is not None:
                self._bind(pod, decision.node)
                continue
            nominated = (pod.get("status") or {}).get("nominatedNodeName") or ""
            cand, post = preemption.preempt(
                info,
                decision,
                nodes,
                self.placed,
                interpod,
                self._reserved(key, info.priority).get,
                nominated,
            )
            message = decision.message if cand is not None else f"{decision.message} {post}"
            if decision.num_nodes == 0:
                message = decision.message
            if cand is None and plain:
                failed[memo] = message
            self.parked.add(key)
            self._mark_unschedulable(pod, message)
            if cand is not None:
                self._preempt(pod, cand)

    # ----------------------------------------------------------------- writes
    def _bind(self, pod: Obj, node: str) -> None:
        md = pod["metadata"]
        now = self.rt.clock.now()

        def bind(p: Obj) -> None:  # on a shallow copy: replaces spec, edits status only
            spec = p.get("spec") or {}
            if spec.get("nodeName"):
                return
            p["spec"] = {**spec, "nodeName": node}
            status = p.setdefault("status", {})
            status.pop("nominatedNodeName", None)
            set_condition(status, "PodScheduled", "True", "", "", now, probe=True)

        out = self.rt.mutate("pods", md["name"], md.get("namespace"), bind, shallow=True)
        if out is not None and (out.get("spec") or {}).get("nodeName") == node:
            self.bound += 1
            self.events.record(
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {md.get('namespace')}/{md['name']} to {node}",
                source=SCHEDULER_NAME,
            )

    def _preempt(self, pod: Obj, cand: preemption.Candidate) -> None:
        """Nominate the node and evict the victims, as DefaultPreemption's PrepareCandidate."""
        self.preemptions += 1
        md = pod["metadata"]
        now = self.rt.clock.now()

        def nominate(p: Obj) -> None:
            p.setdefault("status", {})["nominatedNodeName"] = cand.node

        self.rt.mutate("pods", md["name"], md.get("namespace"), nominate)
        for victim in cand.victims:
            obj = self.rt.cache.get("pods", victim.key)
            if obj is None:
                continue
            vmd = obj["metadata"]
            self._condition(
                obj, "DisruptionTarget", "True", "PreemptionByScheduler", PREEMPTED_MESSAGE, now
            )
            self.events.record(
                obj,
                "Normal",
                "Preempted",
                f"Preempted by pod {md.get('uid', '')} on node {cand.node}",
                source=SCHEDULER_NAME,
            )
            self.rt.delete("pods", vmd["name"], vmd.get("namespace"))
        # Lower-priority pods nominated to that node lose their claim, as upstream.
        mine = self.spec_of(pod).priority
        for other, (node, prio, _) in list(self.nominated.items()):
            if node == cand.node and prio < mine:
                ns, _, name = other.partition("/")

                def clear(p: Obj) -> None:
                    p.setdefault("status", {}).pop("nominatedNodeName", None)

                self.rt.mutate("pods", name, ns, clear)

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
        now = self.rt.clock.now()
        self._condition(pod, "PodScheduled", "False", "Unschedulable", message, now, unbound=True)
        self.events.record(pod, "Warning", "FailedScheduling", message, source=SCHEDULER_NAME)

    def _condition(
        self,
        pod: Obj,
        ctype: str,
        value: str,
        reason: str,
        message: str,
        now: float,
        unbound: bool = False,
    ) -> None:
        """Set a pod condition (only while the pod is unbound, with `unbound`)."""
        md = pod["metadata"]

        def put(p: Obj) -> None:
            if unbound and (p.get("spec") or {}).get("nodeName"):
                return
            status = p.setdefault("status", {})
            set_condition(status, ctype, value, reason, message, now, probe=True)

        self.rt.mutate("pods", md["name"], md.get("namespace"), put, shallow=True)

    def stats(self) -> dict[str, Any]:
        return {
            "passes": self.passes,
            "bound": self.bound,
            "parked": len(self.parked),
            "nodes": len(self.nodes),
            "preemptions": self.preemptions,
        }


def _labels(obj: Obj) -> Any:
    return (obj.get("metadata") or {}).get("labels")


def _queue_order(pod: Obj) -> tuple[int, str, str]:
    spec = pod.get("spec") or {}
    md = pod.get("metadata") or {}
    return (-int(spec.get("priority") or 0), md.get("creationTimestamp") or rfc3339(0), key_of(pod))
