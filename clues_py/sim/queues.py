"""The `kueue` section of a scenario: ClusterQueues, LocalQueues, quota, provisioning.

A scenario with queues runs the sandbox's mini-Kueue (the same controllers `clues demo
--kueue` runs): `parse_kueue` validates the section against the node groups and jobs,
`kueue_objects` turns it into the API objects the simulator creates before the first job.
Scenarios with `suspended: true` jobs and no section get one ClusterQueue `default` whose
quota is the whole cluster, and a LocalQueue `default` in every namespace those jobs use.
Parsing the rest of the scenario is `scenario.py`'s; running it `engine.py`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from clues_py.model import QuantityError, cpu_millis, to_int

CHECK_CAPACITY = "check-capacity.autoscaling.x-k8s.io"
BEST_EFFORT_ATOMIC = "best-effort-atomic-scale-up.autoscaling.x-k8s.io"
DEFAULT = "default"
FLAVOR = "default-flavor"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CQ_KEYS = {"name", "quota", "cohort", "queueing_strategy", "provisioning"}
_LQ_KEYS = {"name", "namespace", "cluster_queue"}


class _Fail(Protocol):
    def fail(self, path: str, message: str) -> Exception: ...

    def keys(self, d: Any, path: str, allowed: set[str]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ClusterQueueSpec:
    name: str
    quota: dict[str, str]  # resource -> nominal quota (Kubernetes quantity)
    cohort: str = ""
    strict_fifo: bool = False
    provisioning: str = ""  # ProvisioningRequest class of its admission check, "" for none


@dataclass(frozen=True)
class LocalQueueSpec:
    name: str
    namespace: str
    cluster_queue: str


@dataclass(frozen=True)
class KueueSpec:
    cluster_queues: tuple[ClusterQueueSpec, ...]
    local_queues: tuple[LocalQueueSpec, ...] = field(default=())
    implicit: bool = False  # made up for suspended jobs of a scenario without the section


def _total(groups: Any) -> dict[str, str]:
    cpu = sum(cpu_millis(g.cpu) * g.count for g in groups)
    mem = sum(to_int(g.memory) * g.count for g in groups)
    gpus = sum(g.gpus * g.count for g in groups)
    out = {"cpu": f"{cpu}m", "memory": str(mem)}
    if gpus:
        out["nvidia.com/gpu"] = str(gpus)
    return out


def _quota(r: _Fail, value: Any, path: str, groups: Any) -> dict[str, str]:
    if value == "nodes":
        return _total(groups)
    if not isinstance(value, dict) or not value:
        raise r.fail(
            path, 'must be "nodes" (the whole cluster) or e.g. {"cpu": "40", "memory": "80Gi"}'
        )
    out = {}
    for name, q in value.items():
        try:
            cpu_millis(q) if name == "cpu" else to_int(q)
        except (QuantityError, ValueError) as exc:
            raise r.fail(f"{path}.{name}", f"{q!r} is not a quantity ({exc})") from None
        out[str(name)] = str(q)
    return out


def parse_kueue(r: _Fail, doc: Any, groups: Any, jobs: list[Any]) -> KueueSpec | None:
    """The validated section, the implicit one, or None (no queues and no suspended jobs)."""
    if doc is None:
        queued = sorted({j.namespace for j in jobs if j.suspended and not j.queue})
        if not queued and not any(j.queue for j in jobs):
            return None
        return KueueSpec(
            (ClusterQueueSpec(DEFAULT, _total(groups)),),
            tuple(LocalQueueSpec(DEFAULT, ns, DEFAULT) for ns in queued),
            implicit=True,
        )
    doc = r.keys(doc, "$.kueue", {"cluster_queues", "local_queues"})
    cqs: list[ClusterQueueSpec] = []
    for i, c in enumerate(doc.get("cluster_queues") or []):
        p = f"$.kueue.cluster_queues[{i}]"
        c = r.keys(c, p, _CQ_KEYS)
        name = str(c.get("name", ""))
        if not _NAME_RE.match(name):
            raise r.fail(f"{p}.name", f"{name!r} must be a lowercase DNS label like 'oscar-cq'")
        strategy = c.get("queueing_strategy", "BestEffortFIFO")
        if strategy not in ("BestEffortFIFO", "StrictFIFO"):
            raise r.fail(
                f"{p}.queueing_strategy", f"{strategy!r}: use BestEffortFIFO or StrictFIFO"
            )
        prov = str(c.get("provisioning") or "")
        if prov and prov not in (CHECK_CAPACITY, BEST_EFFORT_ATOMIC):
            raise r.fail(
                f"{p}.provisioning", f"{prov!r}: use {CHECK_CAPACITY} or {BEST_EFFORT_ATOMIC}"
            )
        cqs.append(
            ClusterQueueSpec(
                name,
                _quota(r, c.get("quota", "nodes"), f"{p}.quota", groups),
                str(c.get("cohort") or ""),
                strategy == "StrictFIFO",
                prov,
            )
        )
    if not cqs:
        raise r.fail("$.kueue.cluster_queues", "needs at least one ClusterQueue")
    names = {c.name for c in cqs}
    lqs: list[LocalQueueSpec] = []
    for i, q in enumerate(doc.get("local_queues") or []):
        p = f"$.kueue.local_queues[{i}]"
        q = r.keys(q, p, _LQ_KEYS)
        lq = LocalQueueSpec(
            str(q.get("name", "")),
            str(q.get("namespace", "default")),
            str(q.get("cluster_queue", "")),
        )
        if not _NAME_RE.match(lq.name) or not _NAME_RE.match(lq.namespace):
            raise r.fail(p, f"{lq.namespace}/{lq.name} is not a valid namespace/name")
        if lq.cluster_queue not in names:
            raise r.fail(
                f"{p}.cluster_queue", f"{lq.cluster_queue!r} is not one of {sorted(names)}"
            )
        lqs.append(lq)
    known = {(q.namespace, q.name) for q in lqs}
    for i, j in enumerate(jobs):
        if j.queue and (j.namespace, j.queue) not in known:
            raise r.fail(
                f"$.jobs[{i}].queue", f"no LocalQueue {j.queue!r} in namespace {j.namespace!r}"
            )
        if j.suspended and not j.queue:
            raise r.fail(
                f"$.jobs[{i}].suspended",
                "a suspended job with no queue is paused for good; give it a `queue`",
            )
    return KueueSpec(tuple(cqs), tuple(lqs))


def kueue_objects(spec: KueueSpec) -> list[tuple[str, dict[str, Any]]]:
    """(resource, object) to create, in order: flavor, checks, ClusterQueues, LocalQueues."""
    api = "kueue.x-k8s.io/v1beta2"
    out: list[tuple[str, dict[str, Any]]] = [
        (
            "resourceflavors",
            {"apiVersion": api, "kind": "ResourceFlavor", "metadata": {"name": FLAVOR}},
        )
    ]
    for cq in spec.cluster_queues:
        cq_spec: dict[str, Any] = {
            "namespaceSelector": {},
            "queueingStrategy": "StrictFIFO" if cq.strict_fifo else "BestEffortFIFO",
            "resourceGroups": [
                {
                    "coveredResources": sorted(cq.quota),
                    "flavors": [
                        {
                            "name": FLAVOR,
                            "resources": [
                                {"name": k, "nominalQuota": v} for k, v in sorted(cq.quota.items())
                            ],
                        }
                    ],
                }
            ],
        }
        if cq.cohort:
            cq_spec["cohortName"] = cq.cohort
        if cq.provisioning:
            check = f"{cq.name}-prov"
            out.append(
                (
                    "provisioningrequestconfigs",
                    {
                        "apiVersion": api,
                        "kind": "ProvisioningRequestConfig",
                        "metadata": {"name": check},
                        "spec": {
                            "provisioningClassName": cq.provisioning,
                            "retryStrategy": {
                                "backoffLimitCount": 3,
                                "backoffBaseSeconds": 10,
                                "backoffMaxSeconds": 300,
                            },
                        },
                    },
                )
            )
            out.append(
                (
                    "admissionchecks",
                    {
                        "apiVersion": api,
                        "kind": "AdmissionCheck",
                        "metadata": {"name": check},
                        "spec": {
                            "controllerName": "kueue.x-k8s.io/provisioning-request",
                            "parameters": {
                                "apiGroup": "kueue.x-k8s.io",
                                "kind": "ProvisioningRequestConfig",
                                "name": check,
                            },
                        },
                    },
                )
            )
            cq_spec["admissionChecksStrategy"] = {"admissionChecks": [{"name": check}]}
        out.append(
            (
                "clusterqueues",
                {
                    "apiVersion": api,
                    "kind": "ClusterQueue",
                    "metadata": {"name": cq.name},
                    "spec": cq_spec,
                },
            )
        )
    for lq in spec.local_queues:
        out.append(
            (
                "localqueues",
                {
                    "apiVersion": api,
                    "kind": "LocalQueue",
                    "metadata": {"name": lq.name, "namespace": lq.namespace},
                    "spec": {"clusterQueue": lq.cluster_queue},
                },
            )
        )
    return out
