"""Builders of Kubernetes JSON objects (camelCase dicts, as the API server sends them)."""

from __future__ import annotations

from typing import Any

T0 = "2026-01-01T00:00:00Z"
T0_EPOCH = 1767225600.0


def pod(
    name: str,
    *,
    ns: str = "default",
    node: str = "",
    phase: str = "Pending",
    cpu: str | None = "100m",
    memory: str | None = "128Mi",
    rv: str = "1",
    uid: str | None = None,
    created: str = T0,
    unschedulable: bool = False,
    owner: tuple[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    deleting: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    meta: dict[str, Any] = {
        "name": name,
        "namespace": ns,
        "uid": uid or f"uid-{ns}-{name}",
        "resourceVersion": rv,
        "creationTimestamp": created,
    }
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    if annotations:
        meta["annotations"] = annotations
    if deleting:
        meta["deletionTimestamp"] = T0
    status: dict[str, Any] = {"phase": phase}
    if unschedulable:
        status["conditions"] = [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
        ]
    body: dict[str, Any] = {
        "containers": [{"name": "main", "resources": {"requests": requests}}],
        **spec,
    }
    if node:
        body["nodeName"] = node
    return {"metadata": meta, "spec": body, "status": status}


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    ready: bool = True,
    rv: str = "1",
    unschedulable: bool = False,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"providerID": f"sim://{name}"}
    if unschedulable:
        spec["unschedulable"] = True
    if taints:
        spec["taints"] = taints
    return {
        "metadata": {"name": name, "resourceVersion": rv, "labels": labels or {}},
        "spec": spec,
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def job(
    name: str,
    *,
    ns: str = "default",
    suspend: bool = True,
    parallelism: int | None = 2,
    completions: int | None = 5,
    succeeded: int = 0,
    finished: str = "",
    rv: str = "1",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "suspend": suspend,
        "template": {
            "spec": {
                "containers": [
                    {"name": "w", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}
                ],
                "nodeSelector": {"pool": "batch"},
            }
        },
    }
    if parallelism is not None:
        spec["parallelism"] = parallelism
    if completions is not None:
        spec["completions"] = completions
    status: dict[str, Any] = {"succeeded": succeeded}
    if finished:
        status["conditions"] = [{"type": finished, "status": "True"}]
    return {
        "metadata": {"name": name, "namespace": ns, "resourceVersion": rv, "creationTimestamp": T0},
        "spec": spec,
        "status": status,
    }
