"""PriorityClasses: the two system classes and the Priority admission plugin's rules.

A pod naming `priorityClassName` gets that class's `value` as `spec.priority` and its
`preemptionPolicy`; a pod naming none gets the `globalDefault` class, else priority
0. Unknown class names and hand-written priorities that disagree are refused with
kube-apiserver's words. Pure functions over dicts: the store is reached through the
`lookup` callable the caller passes; the scheduler reads only the resolved fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from clues_py.sandbox.meta import ApiError

Obj = dict[str, Any]
Lookup = Callable[[str], Obj | None]

HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_CLASSES: tuple[Obj, ...] = (
    {
        "metadata": {"name": "system-node-critical"},
        "value": 2_000_001_000,
        "description": "Used for system critical pods that must not be moved from their "
        "current node.",
        "preemptionPolicy": "PreemptLowerPriority",
    },
    {
        "metadata": {"name": "system-cluster-critical"},
        "value": 2_000_000_000,
        "description": "Used for system critical pods that must run in the cluster, but can be "
        "moved to another node if necessary.",
        "preemptionPolicy": "PreemptLowerPriority",
    },
)
SYSTEM_NAMES = frozenset(c["metadata"]["name"] for c in SYSTEM_CLASSES)


def _forbidden(pod_name: str, why: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'pods "{pod_name}" is forbidden: {why}',
        {"name": pod_name, "kind": "pods"},
    )


def admit_pod(pod: Obj, lookup: Lookup, defaults: Iterable[Obj]) -> None:
    """Resolve `spec.priority`/`preemptionPolicy` from the pod's class (or the global default)."""
    spec = pod.setdefault("spec", {})
    name = (pod.get("metadata") or {}).get("name") or (pod.get("metadata") or {}).get(
        "generateName", ""
    )
    class_name = spec.get("priorityClassName") or ""
    pc: Obj | None
    if class_name:
        pc = lookup(class_name)
        if pc is None:
            raise _forbidden(name, f"no PriorityClass with name {class_name} was found")
    else:
        pc = next((c for c in defaults if c.get("globalDefault")), None)
    value = int(pc.get("value") or 0) if pc else 0
    given = spec.get("priority")
    if given is not None and int(given) != value:
        raise _forbidden(
            name,
            "the integer value of priority "
            f"({given}) must not be provided in pod spec; priority admission controller "
            f"computed {value} from the given PriorityClass name",
        )
    spec["priority"] = value
    if pc is not None:
        if not class_name:
            spec["priorityClassName"] = pc["metadata"]["name"]
        spec.setdefault("preemptionPolicy", pc.get("preemptionPolicy") or "PreemptLowerPriority")
    else:
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")


def validate_class(pc: Obj, others: Iterable[Mapping[str, Any]]) -> None:
    """Defaults and checks a PriorityClass on create (value bounds, one globalDefault)."""
    name = (pc.get("metadata") or {}).get("name", "")
    pc.setdefault("preemptionPolicy", "PreemptLowerPriority")
    value = pc.get("value")
    prefix = f'PriorityClass.scheduling.k8s.io "{name}" is invalid: '
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(422, "Invalid", prefix + "value: Required value")
    if name not in SYSTEM_NAMES:
        if name.startswith("system-"):
            raise ApiError(
                422,
                "Invalid",
                prefix + 'metadata.name: Invalid value: "' + name + '": priority class names with '
                "'system-' prefix are reserved for system use only",
            )
        if value > HIGHEST_USER_PRIORITY:
            raise ApiError(
                422,
                "Invalid",
                prefix + f"value: Forbidden: maximum allowed value of a user defined priority is "
                f"{HIGHEST_USER_PRIORITY}",
            )
    if pc.get("preemptionPolicy") not in ("PreemptLowerPriority", "Never"):
        raise ApiError(
            422,
            "Invalid",
            prefix + f'preemptionPolicy: Unsupported value: "{pc.get("preemptionPolicy")}": '
            'supported values: "Never", "PreemptLowerPriority"',
        )
    if pc.get("globalDefault"):
        for other in others:
            other_name = (other.get("metadata") or {}).get("name")
            if other.get("globalDefault") and other_name != name:
                raise ApiError(
                    422,
                    "Invalid",
                    prefix + f"globalDefault: Invalid value: true: PriorityClass {other_name} "
                    "is already marked as default. Only one default can exist",
                )
