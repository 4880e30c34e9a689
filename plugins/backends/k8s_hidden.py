"""Thread-safe cache of the work the scheduler does not see yet, and of Kueue's context.

Suspended Jobs, Kueue Workloads, ClusterQueues, LocalQueues, ResourceFlavors,
ProvisioningRequests and PodTemplates arrive from their informers as raw JSON; each is
converted once per resourceVersion (`k8s_kueue`) into a `_Table`. `facts()` joins them
(PodTemplates into requests, flavors' node labels into reserved Workloads, consuming pods
into requests) into the `HiddenDemand` values and Kueue context of an `Observation`. No
verdicts here: the planner decides what is demand. Pods and Nodes are `k8s_cache`'s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from clues_py.model import HiddenDemand, QueueQuota

from .k8s_convert import ConversionError, Obj, object_key
from .k8s_kueue import (
    PodShape,
    RequestFacts,
    WorkloadFacts,
    cluster_queue,
    flavor_labels,
    job_hidden_demand,
    local_queue,
    pod_template_shape,
    request_facts,
    with_flavor_labels,
    workload_facts,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
V = TypeVar("V")


def safe_convert(convert: Callable[[Obj], T], obj: Obj) -> T | None:
    """Convert, or log and return None: one malformed object must not stall a watch."""
    try:
        return convert(obj)
    except (ConversionError, ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring %s: %s", object_key(obj) or "object without a name", exc)
        return None


class Table(Generic[V]):
    """key -> converted value (None: convert said "nothing to keep"), one conversion per rv."""

    def __init__(self, convert: Callable[[Obj], V | None], lock: threading.Lock) -> None:
        self._convert = convert
        self._lock = lock
        self.values: dict[str, V] = {}
        self._rv: dict[str, str] = {}

    def _safe(self, obj: Obj) -> V | None:
        return safe_convert(self._convert, obj)

    def apply(self, event: str, obj: Obj) -> bool:
        key = object_key(obj)
        if event == "DELETED":
            with self._lock:
                self._rv.pop(key, None)
                return self.values.pop(key, None) is not None
        rv = (obj.get("metadata") or {}).get("resourceVersion", "")
        if rv and self._rv.get(key) == rv:
            return False
        value = self._safe(obj)
        with self._lock:
            self._rv[key] = rv
            before = self.values.get(key)
            if value is None:
                self.values.pop(key, None)
                return before is not None
            self.values[key] = value
            return before != value

    def replace(self, objs: Iterable[Obj]) -> bool:
        values: dict[str, V] = {}
        rvs: dict[str, str] = {}
        for obj in objs:
            key = object_key(obj)
            rvs[key] = (obj.get("metadata") or {}).get("resourceVersion", "")
            value = self._safe(obj)
            if value is not None:
                values[key] = value
        with self._lock:
            changed = values != self.values
            self.values, self._rv = values, rvs
        return changed


@dataclass(frozen=True)
class HiddenFacts:
    hidden: tuple[HiddenDemand, ...]
    queues: tuple[QueueQuota, ...]
    local_queues: tuple[tuple[str, str], ...]


class HiddenCache:
    """The tables; `apply_*`/`replace_*` return True when something visible changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        lock = self._lock
        self.jobs: Table[HiddenDemand] = Table(job_hidden_demand, lock)
        self.workloads: Table[WorkloadFacts] = Table(workload_facts, lock)
        self.cluster_queues: Table[QueueQuota] = Table(cluster_queue, lock)
        self.local_queues: Table[tuple[str, str]] = Table(local_queue, lock)
        self.flavors: Table[tuple[tuple[str, str], ...]] = Table(flavor_labels, lock)
        self.requests: Table[RequestFacts] = Table(request_facts, lock)
        self.pod_templates: Table[PodShape] = Table(pod_template_shape, lock)
        # "ns/request" -> pod keys consuming it (fed by the pod cache)
        self._consumers: dict[str, set[str]] = {}

    def handlers(
        self, name: str
    ) -> tuple[Callable[[Iterable[Obj]], bool], Callable[[str, Obj], bool]]:
        """(replace, apply) of the table an informer named after its resource feeds."""
        tables = {
            "jobs": (self.jobs.replace, self.jobs.apply),
            "workloads": (self.workloads.replace, self.workloads.apply),
            "clusterqueues": (self.cluster_queues.replace, self.cluster_queues.apply),
            "localqueues": (self.local_queues.replace, self.local_queues.apply),
            "resourceflavors": (self.flavors.replace, self.flavors.apply),
            "provisioningrequests": (self.requests.replace, self.requests.apply),
            "podtemplates": (self.pod_templates.replace, self.pod_templates.apply),
        }
        return tables[name]

    def consume(self, pod_key: str, namespace: str, request: str) -> bool:
        """Record which ProvisioningRequest a pod consumes ("" for none, or a deleted pod);
        True when a count changed."""
        if not request and not self._consumers:
            return False  # the common case: no request is consumed at all
        key = f"{namespace}/{request}" if request else ""
        with self._lock:
            changed = False
            for req, pods in list(self._consumers.items()):
                if req != key and pod_key in pods:
                    pods.discard(pod_key)
                    changed = True
                    if not pods:
                        del self._consumers[req]
            if key and pod_key not in self._consumers.get(key, set()):
                self._consumers.setdefault(key, set()).add(pod_key)
                changed = True
        return changed

    def facts(self) -> HiddenFacts:
        with self._lock:
            jobs = [self.jobs.values[k] for k in sorted(self.jobs.values)]
            flavors = dict(self.flavors.values)
            hidden: list[HiddenDemand] = list(jobs)
            for k in sorted(self.workloads.values):
                wf = self.workloads.values[k]
                for entry, names in zip(wf.entries, wf.flavors, strict=True):
                    labels = tuple(kv for n in names for kv in flavors.get(n, ()))
                    hidden.append(
                        replace(entry, placement=with_flavor_labels(entry.placement, labels))
                        if labels
                        else entry
                    )
            shapes = dict(self.pod_templates.values)
            for k in sorted(self.requests.values):
                consumed = len(self._consumers.get(k, ()))
                hidden.extend(self.requests.values[k].entries(shapes, consumed))
            queues = tuple(
                self.cluster_queues.values[k] for k in sorted(self.cluster_queues.values)
            )
            local = tuple(sorted(self.local_queues.values.values()))
        return HiddenFacts(tuple(hidden), queues, local)

    def counts(self) -> dict[str, int]:
        return {
            "jobs": len(self.jobs.values),
            "workloads": len(self.workloads.values),
            "provisioningrequests": len(self.requests.values),
        }
