"""`kubectl get` columns of the workload kinds: Deployments, ReplicaSets, RCs, StatefulSets, CronJobs.

Also PriorityClasses and ControllerRevisions. The columns and their order are
kube-apiserver's printers (`-o wide` adds the priority-1 ones); the Table document
itself is `tables.py`'s.
"""

from __future__ import annotations

from typing import Any

from clues_py.sandbox.cells import (
    AGE,
    NAME,
    Column,
    Obj,
    containers,
    format_selector,
    get,
    human_duration,
    ts,
)


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def _status(obj: Obj) -> dict[str, Any]:
    return obj.get("status") or {}


def _replicas(obj: Obj) -> int:
    value = _spec(obj).get("replicas")
    return 1 if value is None else int(value)


def _ready_of_desired(obj: Obj, now: float) -> str:
    return f"{int(_status(obj).get('readyReplicas') or 0)}/{_replicas(obj)}"


def _selector(obj: Obj, now: float) -> str:
    legacy = obj.get("kind") == "ReplicationController"
    return format_selector(_spec(obj).get("selector"), legacy) or "<none>"


def _job_template(obj: Obj) -> Obj:
    return {"spec": ((_spec(obj).get("jobTemplate") or {}).get("spec") or {})}


def _cron_last(obj: Obj, now: float) -> str:
    t = ts(_status(obj).get("lastScheduleTime"))
    return "<none>" if t is None else human_duration(now - t)


def _suspend(obj: Obj, now: float) -> str:
    value = _spec(obj).get("suspend")
    return "<unset>" if value is None else str(bool(value))


def _controller(obj: Obj, now: float) -> str:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            group = (
                str(ref.get("apiVersion", "")).split("/")[0]
                if "/" in ref.get("apiVersion", "")
                else ""
            )
            kind = str(ref.get("kind", "")).lower()
            return f"{kind}.{group}/{ref.get('name')}" if group else f"{kind}/{ref.get('name')}"
    return "<none>"


_WIDE: list[Column] = [
    ("Containers", "string", 1, containers("name")),
    ("Images", "string", 1, containers("image")),
    ("Selector", "string", 1, _selector),
]
_REPLICAS: list[Column] = [
    NAME,
    ("Desired", "integer", 0, lambda o, n: _replicas(o)),
    ("Current", "integer", 0, get("status", "replicas", default=0)),
    ("Ready", "integer", 0, get("status", "readyReplicas", default=0)),
    AGE,
    *_WIDE,
]

WORKLOAD_COLUMNS: dict[str, list[Column]] = {
    "deployments": [
        NAME,
        ("Ready", "string", 0, _ready_of_desired),
        ("Up-to-date", "integer", 0, get("status", "updatedReplicas", default=0)),
        ("Available", "integer", 0, get("status", "availableReplicas", default=0)),
        AGE,
        *_WIDE,
    ],
    "replicasets": _REPLICAS,
    "replicationcontrollers": _REPLICAS,
    "statefulsets": [NAME, ("Ready", "string", 0, _ready_of_desired), AGE, *_WIDE[:2]],
    "cronjobs": [
        NAME,
        ("Schedule", "string", 0, get("spec", "schedule", default="")),
        ("Timezone", "string", 0, get("spec", "timeZone")),
        ("Suspend", "boolean", 0, _suspend),
        ("Active", "integer", 0, lambda o, n: len(_status(o).get("active") or ())),
        ("Last Schedule", "string", 0, _cron_last),
        AGE,
        ("Containers", "string", 1, lambda o, n: containers("name")(_job_template(o), n)),
        ("Images", "string", 1, lambda o, n: containers("image")(_job_template(o), n)),
        ("Selector", "string", 1, lambda o, n: _selector(_job_template(o), n)),
    ],
    "priorityclasses": [
        NAME,
        ("Value", "integer", 0, get("value", default=0)),
        ("Global-Default", "boolean", 0, lambda o, n: bool(o.get("globalDefault"))),
        AGE,
        ("PreemptionPolicy", "string", 0, get("preemptionPolicy", default="")),
    ],
    "controllerrevisions": [
        NAME,
        ("Controller", "string", 0, _controller),
        ("Revision", "integer", 0, get("revision", default=0)),
        AGE,
    ],
}
