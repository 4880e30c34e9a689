"""Pure conversions of the work the scheduler does not see yet into admission facts.

Suspended batch/v1 Jobs, Kueue objects (`kueue.x-k8s.io` v1beta2, and v1beta1 as older
Kueue releases serve it: both spellings are read) and Cluster Autoscaler's
`autoscaling.x-k8s.io/v1` ProvisioningRequests with their PodTemplates become
`HiddenDemand` values and Kueue context (`QueueQuota`, LocalQueue -> ClusterQueue).
Only facts: whether any of it counts as demand is the planner's call
(`clues_py.planner.admission`, decision 0015). Pods and Nodes are `k8s_convert`'s; joining
PodTemplates, flavors and consuming pods into the facts is `k8s_cache`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from clues_py.model import HiddenDemand, Placement, QueueQuota, Resources

from .k8s_convert import Obj, parse_time, placement_of, pod_requests, resources_of

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
KUEUE_GROUP = "kueue.x-k8s.io"
KUEUE_VERSIONS = ("v1beta2", "v1beta1")  # newest first
REQUEST_GROUP, REQUEST_VERSION = "autoscaling.x-k8s.io", "v1"


def _conditions(status: Obj) -> dict[str, Obj]:
    return {c.get("type", ""): c for c in status.get("conditions") or ()}


def _true(conds: Mapping[str, Obj], type_: str) -> bool:
    return (conds.get(type_) or {}).get("status") == "True"


def _finished(status: Obj) -> bool:
    conds = _conditions(status)
    return _true(conds, "Complete") or _true(conds, "Failed")


def queue_name(meta: Obj) -> str:
    """The Kueue LocalQueue a Job is submitted to (label, or the older annotation)."""
    labels = meta.get("labels") or {}
    return str(labels.get(QUEUE_LABEL) or (meta.get("annotations") or {}).get(QUEUE_LABEL) or "")


# --------------------------------------------------------------------------- jobs


def job_hidden_demand(job: Obj) -> HiddenDemand | None:
    """A suspended, unfinished Job as a fact (its queue, what it would run); None otherwise."""
    meta = job.get("metadata") or {}
    spec = job.get("spec") or {}
    status = job.get("status") or {}
    if not spec.get("suspend") or _finished(status):
        return None
    parallelism = spec.get("parallelism")
    parallelism = 1 if parallelism is None else int(parallelism)
    completions = spec.get("completions")
    if completions is None:
        # Work-queue Job: any success finishes it, so up to `parallelism` pods run at once.
        count = parallelism
    else:
        count = min(parallelism, int(completions) - int(status.get("succeeded") or 0))
    if count <= 0:
        return None
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    created = parse_time(meta.get("creationTimestamp"))
    return HiddenDemand(
        kind="Job",
        namespace=namespace,
        name=name,
        # Limits stand in for missing requests, as the API server defaults them for pods
        # (it does not inside a Job's template, so the template may carry limits only).
        per_pod=pod_requests(pod_spec, f"job {namespace}/{name} template"),
        count=count,
        placement=placement_of(pod_spec),
        created=created,
        queue=queue_name(meta),
        since=created,
    )


# --------------------------------------------------------------------------- kueue workloads


@dataclass(frozen=True, slots=True)
class WorkloadFacts:
    """A Workload not yet admitted: its pod sets and the flavors reserved for each."""

    entries: tuple[HiddenDemand, ...]
    flavors: tuple[tuple[str, ...], ...]  # per entry: ResourceFlavors assigned to it

    @property
    def job(self) -> str:
        return self.entries[0].owner if self.entries else ""


def _owner(meta: Obj, kind: str, group_prefix: str) -> str:
    for ref in meta.get("ownerReferences") or ():
        if ref.get("kind") == kind and str(ref.get("apiVersion", "")).startswith(group_prefix):
            return f"{meta.get('namespace', '')}/{ref.get('name', '')}"
    return ""


def workload_facts(wl: Obj) -> WorkloadFacts | None:
    """A Kueue Workload (v1beta1 or v1beta2) waiting for quota or admission; None when it is
    admitted (its Job's pods are ordinary pods), finished or deactivated."""
    meta = wl.get("metadata") or {}
    spec = wl.get("spec") or {}
    status = wl.get("status") or {}
    conds = _conditions(status)
    if _true(conds, "Admitted") or _true(conds, "Finished") or spec.get("active") is False:
        return None
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    reserved_cond = conds.get("QuotaReserved") or {}
    reserved = reserved_cond.get("status") == "True"
    admission = (status.get("admission") or {}) if reserved else {}
    created = parse_time(meta.get("creationTimestamp"))
    since = parse_time(reserved_cond.get("lastTransitionTime")) if reserved else created
    assigned = {a.get("name"): a for a in admission.get("podSetAssignments") or ()}
    sets = spec.get("podSets") or ()
    entries, flavors = [], []
    for ps in sets:
        a = assigned.get(ps.get("name")) or {}
        raw = a.get("count")
        count = int(raw if raw is not None else ps.get("count") or 0)
        if count <= 0:
            continue
        pod_spec = (ps.get("template") or {}).get("spec") or {}
        where = f"workload {namespace}/{name} podSet {ps.get('name', '')}"
        entries.append(
            HiddenDemand(
                kind="Workload",
                namespace=namespace,
                name=name,
                per_pod=pod_requests(pod_spec, where),
                count=count,
                placement=placement_of(pod_spec),
                created=created,
                pod_set=str(ps.get("name") or "") if len(sets) > 1 else "",
                queue=str(spec.get("queueName") or ""),
                cluster_queue=str(admission.get("clusterQueue") or ""),
                reserved=reserved,
                since=since or created,
                message="" if reserved else str(reserved_cond.get("message") or ""),
                owner=_owner(meta, "Job", "batch/"),
            )
        )
        flavors.append(tuple(sorted(set((a.get("flavors") or {}).values()))))
    return WorkloadFacts(tuple(entries), tuple(flavors))


def flavor_labels(flavor: Obj) -> tuple[tuple[str, str], ...]:
    """The node labels a ResourceFlavor stands for (Kueue adds them to admitted pods)."""
    return tuple(sorted(((flavor.get("spec") or {}).get("nodeLabels") or {}).items()))


def with_flavor_labels(placement: Placement, labels: tuple[tuple[str, str], ...]) -> Placement:
    """`placement` with a flavor's node labels added to its node selector."""
    if not labels:
        return placement
    merged = dict(placement.node_selector)
    merged.update(labels)
    return Placement(tuple(sorted(merged.items())), placement.tolerations, placement.affinity_terms)


def cluster_queue(cq: Obj) -> QueueQuota:
    """Quota (nominal, summed over flavors) and reservation of a ClusterQueue."""
    meta, spec, status = cq.get("metadata") or {}, cq.get("spec") or {}, cq.get("status") or {}
    name = meta.get("name", "")
    nominal = Resources()
    for group in spec.get("resourceGroups") or ():
        for flavor in group.get("flavors") or ():
            quotas = {
                r.get("name"): r.get("nominalQuota", 0) for r in flavor.get("resources") or ()
            }
            nominal = nominal + resources_of(quotas, where=f"clusterqueue {name}")
    used = Resources()
    for flavor in status.get("flavorsReservation") or ():
        totals = {r.get("name"): r.get("total", 0) for r in flavor.get("resources") or ()}
        used = used + resources_of(totals, where=f"clusterqueue {name} status")
    return QueueQuota(name, nominal, used, int(status.get("pendingWorkloads") or 0))


def local_queue(lq: Obj) -> tuple[str, str]:
    """("ns/name", ClusterQueue) of a LocalQueue."""
    meta = lq.get("metadata") or {}
    target = str((lq.get("spec") or {}).get("clusterQueue") or "")
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}", target


# --------------------------------------------------------------------------- provisioning requests


@dataclass(frozen=True, slots=True)
class PodShape:
    """What one pod of a PodTemplate asks for and where it may go."""

    per_pod: Resources
    placement: Placement


def pod_template_shape(pt: Obj) -> PodShape:
    """A core/v1 PodTemplate (`template.spec`); limits stand in for missing requests."""
    meta = pt.get("metadata") or {}
    spec = (pt.get("template") or {}).get("spec") or {}
    where = f"podtemplate {meta.get('namespace', '')}/{meta.get('name', '')}"
    return PodShape(pod_requests(spec, where), placement_of(spec))


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """A ProvisioningRequest before its PodTemplates are joined in."""

    base: HiddenDemand  # per_pod/placement/count unset; one per pod set below
    pod_sets: tuple[tuple[str, int], ...]  # (PodTemplate name, count)

    def entries(self, shapes: Mapping[str, PodShape], consumed: int) -> tuple[HiddenDemand, ...]:
        """One fact per pod set whose PodTemplate is known (Kueue creates it first)."""
        out = []
        many = len(self.pod_sets) > 1
        for i, (template, count) in enumerate(self.pod_sets):
            shape = shapes.get(f"{self.base.namespace}/{template}")
            if shape is None or count <= 0:
                continue
            out.append(
                replace(
                    self.base,
                    per_pod=shape.per_pod,
                    placement=shape.placement,
                    count=count,
                    pod_set=str(i) if many else "",
                    consumed=consumed,
                )
            )
        return tuple(out)


def request_facts(pr: Obj) -> RequestFacts:
    meta, spec = pr.get("metadata") or {}, pr.get("spec") or {}
    conds = _conditions(pr.get("status") or {})
    created = parse_time(meta.get("creationTimestamp"))
    provisioned = conds.get("Provisioned") or {}
    base = HiddenDemand(
        kind="ProvisioningRequest",
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        per_pod=Resources(),
        count=0,
        created=created,
        since=created,
        owner=_owner(meta, "Workload", KUEUE_GROUP + "/"),
        request_class=str(spec.get("provisioningClassName") or ""),
        conditions=tuple(
            sorted(
                (t, str(c.get("status", "")), str(c.get("reason", ""))) for t, c in conds.items()
            )
        ),
        provisioned_at=parse_time(provisioned.get("lastTransitionTime"))
        if provisioned.get("status") == "True"
        else 0.0,
    )
    sets = tuple(
        (str((ps.get("podTemplateRef") or {}).get("name") or ""), int(ps.get("count") or 0))
        for ps in spec.get("podSets") or ()
    )
    return RequestFacts(base, sets)


def set_condition(
    status: dict[str, Any], type_: str, value: str, reason: str, message: str, now: str
) -> bool:
    """Set one metav1.Condition in `status["conditions"]`; True when anything changed.

    lastTransitionTime moves only when the status flips (Kubernetes semantics).
    """
    conds: list[dict[str, Any]] = status.setdefault("conditions", []) or []
    status["conditions"] = conds
    for c in conds:
        if c.get("type") == type_:
            if (c.get("status"), c.get("reason"), c.get("message")) == (value, reason, message):
                return False
            if c.get("status") != value:
                c["lastTransitionTime"] = now
            c.update(status=value, reason=reason, message=message)
            return True
    conds.append(
        {
            "type": type_,
            "status": value,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now,
        }
    )
    return True
