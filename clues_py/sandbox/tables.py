"""Server-side printing: meta.k8s.io/v1 Table responses with kubectl's columns per kind.

`kubectl get` asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the cells as
given, so the columns here are what users see (`-o wide` shows priority-1 columns). The server
decides when to answer with a Table; this module only turns objects into rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

Obj = dict[str, Any]
Column = tuple[str, str, int, Callable[[Obj, float], Any]]  # name, type, priority, cell


def human_duration(seconds: float) -> str:
    """Kubernetes' duration.HumanDuration (the AGE column)."""
    if seconds < -1:
        return "<invalid>"
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        days = h // 24
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{h // 24 // 365}y"


def _ts(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _age(obj: Obj, now: float) -> str:
    t = _ts((obj.get("metadata") or {}).get("creationTimestamp"))
    return "<unknown>" if t is None else human_duration(now - t)


def _name(obj: Obj, now: float) -> str:
    return cast(str, obj["metadata"]["name"])


def _node_status(node: Obj, now: float) -> str:
    conds = {
        c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []
    }
    ready = conds.get("Ready")
    out = "Ready" if ready == "True" else "NotReady" if ready == "False" else "Unknown"
    if (node.get("spec") or {}).get("unschedulable"):
        out += ",SchedulingDisabled"
    return out


def _node_roles(node: Obj, now: float) -> str:
    roles = set()
    for k, v in ((node.get("metadata") or {}).get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/"):
            roles.add(k.split("/", 1)[1])
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return ",".join(sorted(r for r in roles if r)) or "<none>"


def _address(kind: str) -> Callable[[Obj, float], str]:
    def cell(node: Obj, now: float) -> str:
        for a in (node.get("status") or {}).get("addresses") or []:
            if a.get("type") == kind:
                return cast(str, a.get("address", "<none>"))
        return "<none>"

    return cell


def _node_info(field: str) -> Callable[[Obj, float], str]:
    return lambda node, now: (
        ((node.get("status") or {}).get("nodeInfo") or {}).get(field) or "<unknown>"
    )


def _pod_ready(pod: Obj, now: float) -> str:
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(
        1 for c in (pod.get("status") or {}).get("containerStatuses") or [] if c.get("ready")
    )
    return f"{ready}/{total}"


def _pod_status(pod: Obj, now: float) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for c in status.get("containerStatuses") or []:
        state = c.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif (
            "terminated" in state
            and state["terminated"].get("reason")
            and reason not in ("Succeeded", "Failed")
        ):
            reason = state["terminated"]["reason"]
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_restarts(pod: Obj, now: float) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return str(sum(int(c.get("restartCount") or 0) for c in statuses))


def _get(*path: str, default: str | int = "<none>") -> Callable[[Obj, float], Any]:
    def cell(obj: Obj, now: float) -> Any:
        cur: Any = obj
        for p in path:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return default if cur is None or cur == "" else cur

    return cell


def _job_status(job: Obj, now: float) -> str:
    conds = {
        c.get("type"): c.get("status") for c in (job.get("status") or {}).get("conditions") or []
    }
    for t in ("Failed", "Complete", "SuccessCriteriaMet", "FailureTarget", "Suspended"):
        if conds.get(t) == "True":
            return t
    if (job.get("spec") or {}).get("suspend"):
        return "Suspended"
    return "Running"


def _job_completions(job: Obj, now: float) -> str:
    want = (job.get("spec") or {}).get("completions")
    done = (job.get("status") or {}).get("succeeded") or 0
    return f"{done}/{want if want is not None else 1}"


def _job_duration(job: Obj, now: float) -> str:
    status = job.get("status") or {}
    start = _ts(status.get("startTime"))
    if start is None:
        return ""
    end = _ts(status.get("completionTime")) or now
    return human_duration(end - start)


def _containers(field: str) -> Callable[[Obj, float], str]:
    def cell(obj: Obj, now: float) -> str:
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        return ",".join(str(c.get(field, "")) for c in spec.get("containers") or []) or "<none>"

    return cell


def _count(field: str) -> Callable[[Obj, float], int]:
    return lambda obj, now: len(obj.get(field) or {})


def _involved(ev: Obj, now: float) -> str:
    io = ev.get("involvedObject") or ev.get("regarding") or {}
    return f"{str(io.get('kind', '')).lower()}/{io.get('name', '')}"


def _last_seen(ev: Obj, now: float) -> str:
    t = _ts(
        ev.get("lastTimestamp")
        or ev.get("eventTime")
        or (ev.get("metadata") or {}).get("creationTimestamp")
    )
    return "<unknown>" if t is None else human_duration(now - t)


_NAME: Column = ("Name", "string", 0, _name)
_AGE: Column = ("Age", "string", 0, _age)

COLUMNS: dict[str, list[Column]] = {
    "nodes": [
        _NAME,
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, _node_roles),
        _AGE,
        ("Version", "string", 0, _get("status", "nodeInfo", "kubeletVersion", default="")),
        ("Internal-IP", "string", 1, _address("InternalIP")),
        ("External-IP", "string", 1, _address("ExternalIP")),
        ("OS-Image", "string", 1, _node_info("osImage")),
        ("Kernel-Version", "string", 1, _node_info("kernelVersion")),
        ("Container-Runtime", "string", 1, _node_info("containerRuntimeVersion")),
    ],
    "pods": [
        _NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, _pod_restarts),
        _AGE,
        ("IP", "string", 1, _get("status", "podIP")),
        ("Node", "string", 1, _get("spec", "nodeName")),
        ("Nominated Node", "string", 1, _get("status", "nominatedNodeName")),
        ("Readiness Gates", "string", 1, lambda o, n: "<none>"),
    ],
    "jobs": [
        _NAME,
        ("Status", "string", 0, _job_status),
        ("Completions", "string", 0, _job_completions),
        ("Duration", "string", 0, _job_duration),
        _AGE,
        ("Containers", "string", 1, _containers("name")),
        ("Images", "string", 1, _containers("image")),
        (
            "Selector",
            "string",
            1,
            lambda o, n: (
                ",".join(
                    f"{k}={v}"
                    for k, v in (
                        ((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
                    ).items()
                )
                or "<none>"
            ),
        ),
    ],
    "daemonsets": [
        _NAME,
        ("Desired", "integer", 0, _get("status", "desiredNumberScheduled", default=0)),
        ("Current", "integer", 0, _get("status", "currentNumberScheduled", default=0)),
        ("Ready", "integer", 0, _get("status", "numberReady", default=0)),
        ("Up-to-date", "integer", 0, _get("status", "updatedNumberScheduled", default=0)),
        ("Available", "integer", 0, _get("status", "numberAvailable", default=0)),
        (
            "Node Selector",
            "string",
            0,
            lambda o, n: (
                ",".join(
                    f"{k}={v}"
                    for k, v in (
                        (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
                            "nodeSelector"
                        )
                        or {}
                    ).items()
                )
                or "<none>"
            ),
        ),
        _AGE,
    ],
    "namespaces": [_NAME, ("Status", "string", 0, _get("status", "phase", default="")), _AGE],
    "configmaps": [_NAME, ("Data", "integer", 0, _count("data")), _AGE],
    "secrets": [
        _NAME,
        ("Type", "string", 0, _get("type", default="")),
        ("Data", "integer", 0, _count("data")),
        _AGE,
    ],
    "leases": [_NAME, ("Holder", "string", 0, _get("spec", "holderIdentity", default="")), _AGE],
    "poddisruptionbudgets": [
        _NAME,
        ("Min Available", "string", 0, _get("spec", "minAvailable", default="N/A")),
        ("Max Unavailable", "string", 0, _get("spec", "maxUnavailable", default="N/A")),
        ("Allowed Disruptions", "integer", 0, _get("status", "disruptionsAllowed", default=0)),
        _AGE,
    ],
    "events": [
        ("Last Seen", "string", 0, _last_seen),
        ("Type", "string", 0, _get("type", default="")),
        ("Reason", "string", 0, _get("reason", default="")),
        ("Object", "string", 0, _involved),
        ("Message", "string", 0, _get("message", default="")),
    ],
}


def partial_metadata(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def table(
    resource: str,
    objs: list[Obj],
    now: float,
    resource_version: str,
    include: str = "Metadata",
    continue_token: str = "",
) -> Obj:
    """A meta.k8s.io/v1 Table of `objs`; `include` is None, Metadata or Object (includeObject)."""
    cols = COLUMNS.get(resource, [_NAME, _AGE])
    rows = []
    for obj in objs:
        row: Obj = {"cells": [cell(obj, now) for _, _, _, cell in cols]}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    meta: Obj = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": [
            {
                "name": n,
                "type": t,
                "format": "name" if n == "Name" else "",
                "description": n,
                "priority": p,
            }
            for n, t, p, _ in cols
        ],
        "rows": rows,
    }
