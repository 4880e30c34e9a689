"""Server-side printing: meta.k8s.io/v1 Table responses with kubectl's columns per kind.

`kubectl get` asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the cells as
given, so the columns here are what users see (`-o wide` shows priority-1 columns). The server
decides when to answer with a Table; this module only turns objects into rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from clues_py.sandbox.cells import AGE as _AGE
from clues_py.sandbox.cells import NAME as _NAME
from clues_py.sandbox.cells import Column, Obj, human_duration
from clues_py.sandbox.cells import containers as _containers
from clues_py.sandbox.cells import count as _count
from clues_py.sandbox.cells import get as _get
from clues_py.sandbox.cells import ts as _ts
from clues_py.sandbox.tables_cluster import CLUSTER_COLUMNS
from clues_py.sandbox.tables_workloads import WORKLOAD_COLUMNS


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
    **WORKLOAD_COLUMNS,
    **CLUSTER_COLUMNS,
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
