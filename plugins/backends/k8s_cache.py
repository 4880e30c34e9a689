"""Thread-safe cache of converted Nodes, Pods, Jobs, Kueue Workloads and PDBs -> `Observation`.

The informers (`k8s_informer`) feed raw JSON objects in; this module converts each
object once per resourceVersion (`k8s_convert`), keeps indexes (pods by node, suspended
Jobs), the demand pods (`k8s_pending`) and a per-node `NodeObservation` that is rebuilt
only when that node or one of its pods changed. It journals what changed, so
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
from clues_py.model import DisruptionBudget, HiddenDemand, NodeObservation, PodInfo

from .k8s_convert import (
    ConversionError,
    NodeRecord,
    Obj,
    PodRecord,
    disruption_budget,
    job_hidden_demand,
    node_record,
    object_key,
    pod_record,
    workload_hidden_demand,
    workload_job,
)
from .k8s_pending import PendingSet

log = logging.getLogger(__name__)
T = TypeVar("T")


def _safe(convert: Callable[[Obj], T], obj: Obj) -> T | None:
    """Convert, or log and return None: one malformed object must not stall a watch."""
    try:
        return convert(obj)
    except (ConversionError, ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring %s: %s", object_key(obj) or "object without a name", exc)
        return None


def _workload(obj: Obj) -> tuple[tuple[HiddenDemand, ...], str]:
    return workload_hidden_demand(obj), workload_job(obj)


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
        self._jobs: dict[str, HiddenDemand] = {}
        self._job_rv: dict[str, str] = {}
        # Every node's observation, except those in `_stale` (rebuilt or dropped on read).
        self._node_obs: dict[str, NodeObservation] = {}
        self._stale: set[str] = set()
        # Kueue workloads: key -> (queued demand, "ns/job" it was created for)
        self._workloads: dict[str, tuple[tuple[HiddenDemand, ...], str]] = {}
        self._pdbs: dict[str, DisruptionBudget] = {}
        self._hidden: tuple[HiddenDemand, ...] | None = ()
        self._pdb_tuple: tuple[DisruptionBudget, ...] | None = ()
        # The journal read by observe_changes(): nodes whose observation changed since,
        # anything else changed, everything may have changed.
        self._changed_nodes: set[str] = set()
        self._other = False
        self._full = True

    def _touch_hidden(self) -> None:
        self._hidden = None
        self._other = True

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

    def _convert_pod(self, obj: Obj) -> tuple[str, PodRecord | None]:
        key = object_key(obj)
        old = self._pods.get(key)
        meta = obj.get("metadata") or {}
        rv = meta.get("resourceVersion", "")
        if old is not None and rv and old.resource_version == rv and old.uid == meta.get("uid", ""):
            return key, old
        return key, _safe(pod_record, obj)

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

    def apply_pod(self, event: str, obj: Obj) -> bool:
        if event == "DELETED":
            key = object_key(obj)
            with self._lock:
                old = self._pods.pop(key, None)
                if old is not None:
                    self._unindex(key, old)
                return old is not None
        key, rec = self._convert_pod(obj)
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

    def replace_pods(self, objs: Iterable[Obj]) -> bool:
        """A relist: `objs` may be a generator (pages converted as they arrive), so only the
        converted records of all pods and the raw objects of one page are alive at once."""
        fresh: dict[str, PodRecord] = {}
        for obj in objs:
            key, rec = self._convert_pod(obj)
            if rec is not None:
                fresh[key] = rec
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

    # ------------------------------------------------------------------ jobs

    def apply_job(self, event: str, obj: Obj) -> bool:
        key = object_key(obj)
        if event == "DELETED":
            with self._lock:
                self._job_rv.pop(key, None)
                if self._jobs.pop(key, None) is None:
                    return False
                self._touch_hidden()
                return True
        rv = (obj.get("metadata") or {}).get("resourceVersion", "")
        if rv and self._job_rv.get(key) == rv:
            return False
        demand = _safe(job_hidden_demand, obj)
        with self._lock:
            self._job_rv[key] = rv
            had = key in self._jobs
            if demand is None:
                self._jobs.pop(key, None)
                if had:
                    self._touch_hidden()
                return had
            self._jobs[key] = demand
            self._touch_hidden()
        return True

    def replace_jobs(self, objs: Iterable[Obj]) -> bool:
        jobs: dict[str, HiddenDemand] = {}
        rvs: dict[str, str] = {}
        for obj in objs:
            key = object_key(obj)
            rvs[key] = (obj.get("metadata") or {}).get("resourceVersion", "")
            demand = _safe(job_hidden_demand, obj)
            if demand is not None:
                jobs[key] = demand
        with self._lock:
            changed = jobs != self._jobs
            self._jobs, self._job_rv = jobs, rvs
            if changed:
                self._touch_hidden()
        return changed

    # ------------------------------------------------------------------ workloads, PDBs

    def apply_workload(self, event: str, obj: Obj) -> bool:
        key = object_key(obj)
        with self._lock:
            before = self._workloads.get(key)
        after = None if event == "DELETED" else _safe(_workload, obj)
        with self._lock:
            if after is None or not after[0]:
                self._workloads.pop(key, None)
            else:
                self._workloads[key] = after
            if before != after:
                self._touch_hidden()
        return (before or ((), ""))[0] != (after or ((), ""))[0]

    def replace_workloads(self, objs: Iterable[Obj]) -> bool:
        new = {object_key(o): w for o in objs if (w := _safe(_workload, o)) is not None and w[0]}
        with self._lock:
            changed = new != self._workloads
            self._workloads = new
            if changed:
                self._touch_hidden()
        return changed

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
        return {"nodes": len(self._nodes), "pods": len(self._pods), "jobs": len(self._jobs)}

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
        if self._hidden is None:
            # A suspended Job queued in Kueue also has a Workload: count it once, as the
            # Workload (it says what Kueue will admit).
            queued_jobs = {job for _, job in self._workloads.values() if job}
            self._hidden = tuple(
                self._jobs[k] for k in sorted(self._jobs) if k not in queued_jobs
            ) + tuple(d for k in sorted(self._workloads) for d in self._workloads[k][0])
        if self._pdb_tuple is None:
            self._pdb_tuple = tuple(self._pdbs[k] for k in sorted(self._pdbs))
        return Observation(
            nodes=dict(self._node_obs),
            pending=self._pending.pods(),
            hidden=self._hidden,
            pdbs=self._pdb_tuple,
        )
