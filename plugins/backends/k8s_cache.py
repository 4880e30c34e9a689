"""Thread-safe cache of converted Nodes, Pods and PDBs, and the hidden work -> `Observation`.

The informers (`k8s_informer`) feed raw JSON objects in; this module converts each
object once per resourceVersion (`k8s_convert`), keeps indexes (pods by node), the demand
pods (`k8s_pending`) and a per-node `NodeObservation` that is rebuilt only when that node
or one of its pods changed. Suspended Jobs, Kueue objects and ProvisioningRequests live in
`k8s_hidden.HiddenCache` (`self.hidden`, fed through `hidden_handlers`), which this cache
tells which pod consumes which request. It journals what changed, so
`observe_changes()` can tell the daemon which nodes and demand to re-examine: every
mutator marks what it touched (`_stale` nodes, the pending journal, `_other` for the rest,
`_full` after a relist that changed anything). `observe()` costs O(changed nodes) plus a
dict copy, never O(all pods), and does no I/O.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from clues_py.contracts import Changes, Observation
from clues_py.model import DisruptionBudget, NodeObservation, PodInfo

from .k8s_convert import (
    ConversionError,
    NodeRecord,
    Obj,
    disruption_budget,
    node_record,
    object_key,
)
from .k8s_hidden import HiddenCache, HiddenFacts
from .k8s_pending import PendingSet
from .k8s_pods import PodDoc, PodRecord, as_doc, pod_key, pod_record

log = logging.getLogger(__name__)
T = TypeVar("T")


def _safe(convert: Callable[[Any], T], obj: Any, key: str | None = None) -> T | None:
    """Convert, or log and return None: one malformed object must not stall a watch."""
    try:
        return convert(obj)
    except (ConversionError, ValueError, TypeError, KeyError) as exc:
        name = key if key is not None else object_key(obj)
        log.warning("ignoring %s: %s", name or "object without a name", exc)
        return None


class ClusterCache:
    """Converted cluster state. Every mutator returns True when something visible changed."""

    def __init__(self, pending_grace: float) -> None:
        self.pending_grace = pending_grace
        self._lock = threading.Lock()
        self._nodes: dict[str, NodeRecord] = {}
        self._pods: dict[str, PodRecord] = {}
        # node name -> pod key -> PodInfo, non-terminal pods bound to that node
        self._by_node: dict[str, dict[str, PodInfo]] = {}
        self._pending = PendingSet(pending_grace)
        # Every node's observation, except those in `_stale` (rebuilt or dropped on read).
        self._node_obs: dict[str, NodeObservation] = {}
        self._stale: set[str] = set()
        # The work the scheduler does not see yet (facts joined on read, kept until touched)
        # and whether the Kueue Workload API is served (the backend says so).
        self.hidden = HiddenCache()
        self._facts: HiddenFacts | None = None
        self._kueue = False
        self._pdbs: dict[str, DisruptionBudget] = {}
        self._pdb_tuple: tuple[DisruptionBudget, ...] | None = ()
        # The journal read by observe_changes(): nodes whose observation changed since,
        # anything else changed, everything may have changed.
        self._changed_nodes: set[str] = set()
        self._other = False
        self._full = True

    def _touch_hidden(self) -> None:
        self._facts = None
        self._other = True

    @property
    def kueue(self) -> bool:
        return self._kueue

    @kueue.setter
    def kueue(self, served: bool) -> None:
        with self._lock:
            if served != self._kueue:
                self._kueue = served
                self._touch_hidden()

    def hidden_handlers(
        self, name: str
    ) -> tuple[Callable[[Iterable[Obj]], bool], Callable[[str, Obj], bool]]:
        """(replace, apply) for the informer of one hidden-work resource ("jobs", ...)."""
        replace, apply = self.hidden.handlers(name)

        def replace_and_touch(objs: Iterable[Obj]) -> bool:
            return self._touched(replace(objs))

        def apply_and_touch(event: str, obj: Obj) -> bool:
            return self._touched(apply(event, obj))

        return replace_and_touch, apply_and_touch

    def _touched(self, changed: bool) -> bool:
        if changed:
            with self._lock:
                self._touch_hidden()
        return changed

    def _touch_pdbs(self) -> None:
        self._pdb_tuple = None
        self._other = True

    # ------------------------------------------------------------------ nodes

    def apply_node(self, event: str, obj: Obj) -> bool:
        name = object_key(obj)
        if event == "DELETED":
            with self._lock:
                self._stale.add(name)
                return self._nodes.pop(name, None) is not None
        old = self._nodes.get(name)
        rv = (obj.get("metadata") or {}).get("resourceVersion", "")
        if old is not None and rv and old.resource_version == rv:
            return False
        rec = _safe(node_record, obj)
        with self._lock:
            self._stale.add(name)
            if rec is None:
                return self._nodes.pop(name, None) is not None
            self._nodes[name] = rec
        return True

    def replace_nodes(self, objs: Iterable[Obj]) -> bool:
        fresh: dict[str, NodeRecord] = {}
        for obj in objs:
            name = object_key(obj)
            old = self._nodes.get(name)
            rv = (obj.get("metadata") or {}).get("resourceVersion", "")
            rec = old if old is not None and rv and old.resource_version == rv else None
            rec = rec or _safe(node_record, obj)
            if rec is not None:
                fresh[name] = rec
        with self._lock:
            changed = fresh != self._nodes
            for name, rec in fresh.items():
                if self._nodes.get(name) is not rec:
                    self._stale.add(name)
            self._stale.update(self._nodes.keys() - fresh.keys())
            self._nodes = fresh
        return changed

    # ------------------------------------------------------------------ pods

    def _convert_pod(self, obj: Obj | PodDoc) -> tuple[str, PodRecord | None]:
        key = pod_key(obj)
        doc = _safe(as_doc, obj, key)
        if doc is None:
            return key, None
        meta = doc.metadata
        old = self._pods.get(key)
        if old is not None and meta is not None:
            rv = meta.resourceVersion
            if rv and old.resource_version == rv and old.uid == meta.uid:
                return key, old
        return key, _safe(pod_record, doc, key)

    def _unindex(self, key: str, rec: PodRecord) -> None:
        node = rec.info.node_name
        if node:
            bucket = self._by_node.get(node)
            if bucket is not None and bucket.pop(key, None) is not None:
                self._stale.add(node)
                if not bucket:
                    del self._by_node[node]
        self._pending.drop(key)

    def _index(self, key: str, rec: PodRecord) -> None:
        node = rec.info.node_name
        if node and not rec.terminal:
            self._by_node.setdefault(node, {})[key] = rec.info
            self._stale.add(node)
        if rec.pending_candidate:
            self._pending.put(key, rec)

    def apply_pod(self, event: str, obj: Obj | PodDoc) -> bool:
        if event == "DELETED":
            key = pod_key(obj)
            with self._lock:
                old = self._pods.pop(key, None)
                if old is not None:
                    self._unindex(key, old)
            consumed = old is not None and self._touched(self.hidden.consume(key, "", ""))
            return old is not None or consumed
        key, rec = self._convert_pod(obj)
        if rec is not None:  # a pod consuming a ProvisioningRequest changes what it books
            self._touched(self.hidden.consume(key, rec.info.namespace, rec.consumes))
        with self._lock:
            old = self._pods.get(key)
            if old is rec:
                return False
            if old is not None:
                self._unindex(key, old)
            if rec is None:  # unconvertible: forget the older version too
                return self._pods.pop(key, None) is not None
            self._pods[key] = rec
            self._index(key, rec)
        return True

    def replace_pods(self, objs: Iterable[Obj | PodDoc]) -> bool:
        """A relist: `objs` may be a generator (pages converted as they arrive), so only the
        converted records of all pods and the raw objects of one page are alive at once."""
        fresh: dict[str, PodRecord] = {}
        for obj in objs:
            key, rec = self._convert_pod(obj)
            if rec is not None:
                fresh[key] = rec
        consumed = False
        for key in self._pods.keys() - fresh.keys():
            consumed |= self.hidden.consume(key, "", "")
        for key, rec in fresh.items():
            if rec.consumes:
                consumed |= self.hidden.consume(key, rec.info.namespace, rec.consumes)
        self._touched(consumed)
        with self._lock:
            changed = fresh.keys() != self._pods.keys() or any(
                self._pods.get(k) is not r for k, r in fresh.items()
            )
            if not changed:
                return False
            self._pods = fresh
            self._stale.update(self._by_node)
            self._by_node = {}
            candidates: dict[str, PodRecord] = {}
            for key, rec in fresh.items():
                node = rec.info.node_name
                if node and not rec.terminal:
                    self._by_node.setdefault(node, {})[key] = rec.info
                if rec.pending_candidate:
                    candidates[key] = rec
            self._stale.update(self._by_node)
            self._pending.reset(candidates)
            self._full = True
        return True

    # ------------------------------------------------------------------ PDBs

    def apply_pdb(self, event: str, obj: Obj) -> bool:
        key = object_key(obj)
        budget = None if event == "DELETED" else _safe(disruption_budget, obj)
        with self._lock:
            before = self._pdbs.pop(key, None)
            if budget is not None:
                self._pdbs[key] = budget
            if before != budget:
                self._touch_pdbs()
        return before != budget

    def replace_pdbs(self, objs: Iterable[Obj]) -> bool:
        new = {object_key(o): b for o in objs if (b := _safe(disruption_budget, o)) is not None}
        with self._lock:
            changed = new != self._pdbs
            self._pdbs = new
            if changed:
                self._touch_pdbs()
        return changed

    # ------------------------------------------------------------------ reads

    def pod(self, key: str) -> PodRecord | None:
        return self._pods.get(key)

    def pods_on(self, node: str) -> list[PodRecord]:
        with self._lock:
            keys = list(self._by_node.get(node, {}))
            return [self._pods[k] for k in keys if k in self._pods]

    def node(self, name: str) -> NodeRecord | None:
        return self._nodes.get(name)

    def counts(self) -> dict[str, Any]:
        return {"nodes": len(self._nodes), "pods": len(self._pods), **self.hidden.counts()}

    def observe(self, now: float) -> Observation:
        with self._lock:
            return self._observe(now)

    def observe_changes(self, now: float) -> tuple[Observation, Changes]:
        """The observation and what changed since the previous call (see `Changes`)."""
        with self._lock:
            obs = self._observe(now)
            changes = Changes(
                full=self._full,
                nodes=frozenset(self._changed_nodes),
                pending=self._pending.take_journal(),
                other=self._other,
                revisit_at=self._pending.next_due(),
            )
            self._changed_nodes = set()
            self._other = self._full = False
        return obs, changes

    def _observe(self, now: float) -> Observation:
        """Bring the derived views up to date (under the lock) and return them."""
        for name in self._stale:
            rec = self._nodes.get(name)
            if rec is None:
                if self._node_obs.pop(name, None) is not None:
                    self._changed_nodes.add(name)
                continue
            pods = self._by_node.get(name, {})
            self._node_obs[name] = NodeObservation(
                name=rec.name,
                ready=rec.ready,
                unschedulable=rec.unschedulable,
                labels=rec.labels,
                taints=rec.taints,
                allocatable=rec.allocatable,
                provider_id=rec.provider_id,
                pods=tuple(pods[k] for k in sorted(pods)),
            )
            self._changed_nodes.add(name)
        self._stale.clear()
        self._pending.refresh(now)
        if self._facts is None:
            self._facts = self.hidden.facts()
        if self._pdb_tuple is None:
            self._pdb_tuple = tuple(self._pdbs[k] for k in sorted(self._pdbs))
        return Observation(
            nodes=dict(self._node_obs),
            pending=self._pending.pods(),
            hidden=self._facts.hidden,
            pdbs=self._pdb_tuple,
            queues=self._facts.queues,
            local_queues=self._facts.local_queues,
            kueue=self._kueue,
        )
