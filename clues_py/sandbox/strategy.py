"""What kube-apiserver does to objects around storage, kind by kind (its registry strategies).

Two halves, for two callers:
- `prepare_create` / `prepare_update` fill in defaults and derived fields. The store calls them
  on every write, whoever writes (clients over HTTP, the sandbox's controllers, tests), as the
  real server does: requests defaulted from limits, `status.qosClass` and the Priority
  admission (`priority.py`) on pods, the Job's
  generated selector and labels, Service addresses and ports, the cordon taint on nodes,
  namespace finalizers, PersistentVolume(Claim) phases and the default StorageClass.
- `validate_create` / `validate_update` reject what the real server refuses with 422 Invalid
  (a Job's pod template after creation, a Service's clusterIP, ...). The HTTP verbs call them;
  the in-process controllers are trusted.
Services' address and port allocation is `services.py`'s; storage and HTTP are not here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from clues_py.quantity import QuantityError, parse_quantity
from clues_py.sandbox import priority, services
from clues_py.sandbox.meta import ApiError, clone, field_error, invalid, rfc3339
from clues_py.sandbox.resources import ResourceInfo
from clues_py.sandbox.selectors import match_label_dict

Obj = dict[str, Any]
Stored = Callable[[str], Iterable[Obj]]  # resource -> the objects stored now (lock held)

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
JOB_LABELS = (
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
    "controller-uid",
    "job-name",
)


# ----------------------------------------------------------------------------- pods
def _requests_from_limits(containers: list[Obj]) -> None:
    """A container's limits default its missing requests (SetDefaults_Pod; not for templates)."""
    for c in containers:
        res = c.get("resources") or {}
        limits = res.get("limits")
        if limits:
            requests = res.setdefault("requests", {})
            for key, value in limits.items():
                requests.setdefault(key, value)
            c["resources"] = res


def _container_defaults(containers: list[Obj]) -> None:
    for c in containers:
        image = str(c.get("image") or "")
        tag = image.rsplit("/", 1)[-1]
        latest = "@" not in image and (":" not in tag or tag.endswith(":latest"))
        c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})


def _same(a: Any, b: Any) -> bool:
    try:
        return parse_quantity(a) == parse_quantity(b)
    except (QuantityError, TypeError):
        return bool(a == b)


def qos_class(spec: Obj) -> str:
    """Guaranteed, Burstable or BestEffort by kubelet's rules (cpu and memory only)."""
    containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
    any_set, guaranteed = False, True
    for c in containers:
        res = c.get("resources") or {}
        requests, limits = res.get("requests") or {}, res.get("limits") or {}
        for name in ("cpu", "memory"):
            if name in requests or name in limits:
                any_set = True
            # Requests equal limits once defaulted from them; a missing limit is not Guaranteed.
            if name not in limits or not _same(requests.get(name, limits[name]), limits[name]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod_spec_defaults(spec: Obj, *, template: bool = False) -> None:
    """SetDefaults of a PodSpec, for pods and for the pod templates of workloads.

    Templates keep their requests as written; pods get missing requests from limits.
    """
    for key, value in (
        ("restartPolicy", "Always"),
        ("terminationGracePeriodSeconds", 30),
        ("dnsPolicy", "ClusterFirst"),
        ("schedulerName", "default-scheduler"),
        ("securityContext", {}),
        ("enableServiceLinks", True),
    ):
        spec.setdefault(key, value)
    for field in ("initContainers", "containers"):
        containers = spec.get(field) or []
        if not template:
            _requests_from_limits(containers)
        _container_defaults(containers)


def _pod_create(obj: Obj, now: float, stored: Stored) -> None:
    spec = obj.setdefault("spec", {})
    pod_spec_defaults(spec)
    classes = list(stored("priorityclasses"))
    by_name = {c["metadata"]["name"]: c for c in classes}
    priority.admit_pod(obj, by_name.get, classes)
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status["qosClass"] = qos_class(spec)


def _pod_update(old: Obj, new: Obj, now: float) -> None:
    # Container resources cannot change after creation, so neither can the QoS class; the
    # kubelet's status writes must not lose it.
    status = new.get("status")
    if isinstance(status, dict) and "qosClass" not in status:
        status["qosClass"] = (old.get("status") or {}).get("qosClass") or qos_class(
            new.get("spec") or {}
        )


# ----------------------------------------------------------------------------- jobs
def _job_create(obj: Obj, now: float, stored: Stored) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    for key, value in (
        ("backoffLimit", 6),
        ("completionMode", "NonIndexed"),
        ("suspend", False),
        ("podReplacementPolicy", "TerminatingOrFailed"),
    ):
        spec.setdefault(key, value)
    if spec.get("manualSelector"):
        return
    # The generated selector (Validate's generateSelector): labels unique to this Job.
    meta = obj["metadata"]
    uid, name = meta.get("uid", ""), meta.get("name", "")
    tmeta = spec.setdefault("template", {}).setdefault("metadata", {})
    labels = tmeta.setdefault("labels", {})
    for key, value in zip(JOB_LABELS, (uid, name, uid, name), strict=True):
        labels.setdefault(key, value)
    selector = spec.get("selector") or {}
    selector.setdefault("matchLabels", {}).setdefault(JOB_LABELS[0], uid)
    spec["selector"] = selector
    obj.setdefault("status", {})


def _job_validate_create(info: ResourceInfo, obj: Obj) -> list[tuple[str, str, str]]:
    spec = obj.get("spec") or {}
    errors = []
    template_spec = (spec.get("template") or {}).get("spec") or {}
    policy = template_spec.get("restartPolicy")
    if policy in (None, "", "Always"):
        errors.append(
            field_error(
                "required", "spec.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'
            )
        )
    elif policy not in ("OnFailure", "Never"):
        errors.append(
            field_error(
                "unsupported",
                "spec.template.spec.restartPolicy",
                'supported values: "OnFailure", "Never"',
                policy,
            )
        )
    selector = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if spec.get("manualSelector"):
        if selector is None:
            errors.append(field_error("required", "spec.selector"))
        elif not match_label_dict(selector, labels):
            errors.append(
                field_error(
                    "invalid",
                    "spec.template.metadata.labels",
                    "`selector` does not match template `labels`",
                    labels,
                )
            )
    elif selector is not None:
        keys = set((selector.get("matchLabels") or {}).keys())
        if selector.get("matchExpressions") or not keys <= set(JOB_LABELS):
            errors.append(
                field_error("invalid", "spec.selector", "`selector` not auto-generated", selector)
            )
    return errors


def _scheduling_directives_only(old_t: Obj, new_t: Obj) -> bool:
    """Whether two pod templates differ only where a suspended, unstarted Job may change them."""
    a, b = clone(old_t), clone(new_t)
    for t in (a, b):
        meta, spec = t.setdefault("metadata", {}), t.setdefault("spec", {})
        for key in ("labels", "annotations"):
            meta.pop(key, None)
        for key in ("nodeSelector", "tolerations", "schedulingGates"):
            spec.pop(key, None)
        affinity = spec.get("affinity") or {}
        affinity.pop("nodeAffinity", None)
        if affinity:
            spec["affinity"] = affinity
        else:
            spec.pop("affinity", None)
    return bool(a == b)


def _job_validate_update(info: ResourceInfo, old: Obj, new: Obj) -> list[tuple[str, str, str]]:
    o, n = old.get("spec") or {}, new.get("spec") or {}
    errors = []
    if n.get("selector") != o.get("selector"):
        errors.append(
            field_error("invalid", "spec.selector", "field is immutable", n.get("selector"))
        )
    ot, nt = o.get("template") or {}, n.get("template") or {}
    if ot != nt:
        # Kueue's protocol: a suspended Job that never started may get new scheduling
        # directives (node selector, tolerations, node affinity, labels, annotations, gates).
        mutable = bool(o.get("suspend")) and not (old.get("status") or {}).get("startTime")
        if not (mutable and _scheduling_directives_only(ot, nt)):
            errors.append(field_error("invalid", "spec.template", "field is immutable", nt))
    for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex"):
        if n.get(key) != o.get(key):
            errors.append(field_error("invalid", f"spec.{key}", "field is immutable", n.get(key)))
    if n.get("completionMode") != "Indexed" and n.get("completions") != o.get("completions"):
        errors.append(
            field_error("invalid", "spec.completions", "field is immutable", n.get("completions"))
        )
    return errors


# ----------------------------------------------------------------------------- nodes
def sync_unschedulable_taint(node: Obj, now: float) -> None:
    """`spec.unschedulable` and the node.kubernetes.io/unschedulable:NoSchedule taint go together.

    The node lifecycle controller keeps them in step (TaintNodesByCondition); the sandbox does it
    on the write itself, so a cordon is visible in the same response.
    """
    spec = node.setdefault("spec", {})
    taints = [t for t in spec.get("taints") or [] if isinstance(t, dict)]
    has = any(t.get("key") == UNSCHEDULABLE_TAINT for t in taints)
    if spec.get("unschedulable") and not has:
        taints.append(
            {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": rfc3339(now)}
        )
        spec["taints"] = taints
    elif not spec.get("unschedulable") and has:
        taints = [t for t in taints if t.get("key") != UNSCHEDULABLE_TAINT]
        if taints:
            spec["taints"] = taints
        else:
            spec.pop("taints", None)


# ----------------------------------------------------------------------------- others
def _namespace_create(obj: Obj, now: float, stored: Stored) -> None:
    name = obj["metadata"]["name"]
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    spec = obj.get("spec") or {}
    spec["finalizers"] = spec.get("finalizers") or ["kubernetes"]
    obj["spec"] = spec
    status = obj.get("status") or {}
    status["phase"] = status.get("phase") or "Active"
    obj["status"] = status


def _pvc_create(obj: Obj, now: float, stored: Stored) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    if "storageClassName" not in spec:  # the DefaultStorageClass admission plugin
        for sc in stored("storageclasses"):
            if (sc["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true":
                spec["storageClassName"] = sc["metadata"]["name"]
                break
    obj["status"] = {"phase": "Pending"}


def _pv_create(obj: Obj, now: float, stored: Stored) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    obj["status"] = {"phase": "Available", "lastPhaseTransitionTime": rfc3339(now)}


def _storageclass_create(obj: Obj, now: float, stored: Stored) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


def _hpa_create(obj: Obj, now: float, stored: Stored) -> None:
    """autoscaling/v2 defaults: one replica at least, 80 % CPU when no metric is named."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        target = {"type": "Utilization", "averageUtilization": 80}
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]


def _apiservice_create(obj: Obj, now: float, stored: Stored) -> None:
    """The aggregator's availability: local groups are served, remote ones need their Service."""
    ref = (obj.get("spec") or {}).get("service")
    if not ref:
        cond = {
            "status": "True",
            "reason": "Local",
            "message": "Local APIServices are always available",
        }
    elif any(
        s["metadata"].get("namespace") == ref.get("namespace")
        and s["metadata"]["name"] == ref.get("name")
        for s in stored("services")
    ):
        cond = {
            "status": "False",
            "reason": "MissingEndpoints",
            "message": "endpoints for service/"
            f'{ref.get("name")} in "{ref.get("namespace")}" have no addresses',
        }
    else:
        cond = {
            "status": "False",
            "reason": "ServiceNotFound",
            "message": f'service/{ref.get("name")} in "{ref.get("namespace")}" is not present',
        }
    obj["status"] = {
        "conditions": [{"type": "Available", "lastTransitionTime": rfc3339(now), **cond}]
    }


def _service_validate_update(info: ResourceInfo, old: Obj, new: Obj) -> list[tuple[str, str, str]]:
    o, n = old.get("spec") or {}, new.get("spec") or {}
    changed = n.get("clusterIP") not in (None, "", o.get("clusterIP"))
    if o.get("clusterIP") and changed and n.get("type") != "ExternalName":
        return [field_error("invalid", "spec.clusterIP", "field is immutable", n["clusterIP"])]
    return []


_CREATE: dict[str, Callable[[Obj, float, Stored], None]] = {
    "pods": _pod_create,
    "jobs": _job_create,
    "services": services.prepare_create,
    "nodes": lambda obj, now, stored: sync_unschedulable_taint(obj, now),
    "namespaces": _namespace_create,
    "persistentvolumeclaims": _pvc_create,
    "persistentvolumes": _pv_create,
    "storageclasses": _storageclass_create,
    "apiservices": _apiservice_create,
    "horizontalpodautoscalers": _hpa_create,
    "secrets": lambda obj, now, stored: obj.__setitem__("type", obj.get("type") or "Opaque"),
}
_UPDATE: dict[str, Callable[[Obj, Obj, float], None]] = {
    "pods": _pod_update,
    "services": services.prepare_update,
    "nodes": lambda old, new, now: sync_unschedulable_taint(new, now),
}
_VALIDATE_CREATE = {"jobs": _job_validate_create}
_VALIDATE_UPDATE = {"jobs": _job_validate_update, "services": _service_validate_update}


def prepare_create(resource: str, obj: Obj, now: float, stored: Stored) -> None:
    """Defaults and derived fields of a new object (metadata.uid is already set)."""
    fn = _CREATE.get(resource)
    if fn is not None:
        fn(obj, now, stored)


def prepare_update(resource: str, old: Obj, new: Obj, now: float) -> None:
    """Derived fields of a changed object, kept in step with what changed."""
    fn = _UPDATE.get(resource)
    if fn is not None:
        fn(old, new, now)


def validate_create(info: ResourceInfo, obj: Obj) -> None:
    fn = _VALIDATE_CREATE.get(info.plural)
    errors = fn(info, obj) if fn else []
    if errors:
        raise invalid(info, (obj.get("metadata") or {}).get("name", ""), errors)


def validate_update(info: ResourceInfo, old: Obj, new: Obj) -> None:
    fn = _VALIDATE_UPDATE.get(info.plural)
    errors = fn(info, old, new) if fn else []
    if errors:
        raise invalid(info, old["metadata"]["name"], errors)


__all__ = [
    "ApiError",
    "pod_spec_defaults",
    "prepare_create",
    "prepare_update",
    "qos_class",
    "sync_unschedulable_taint",
    "validate_create",
    "validate_update",
]
