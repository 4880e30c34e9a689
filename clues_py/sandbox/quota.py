"""ResourceQuota status as the quota controller keeps it: `hard` mirrored, `used` counted.

`used` covers what `kubectl describe quota` shows for the common quotas: pods (`pods`,
`count/pods`), the cpu and memory requests and limits of the namespace's non-terminal pods
(`requests.cpu`, `cpu`, `limits.memory`, ...) and object counts (`services`, `configmaps`,
`secrets`, `persistentvolumeclaims`, `replicationcontrollers`, `resourcequotas`,
`count/<resource>`). Admission does not reject pods over quota. The API server refreshes a
namespace's quotas when its pods change (`server.ApiServer._on_change`).
"""

from __future__ import annotations

from typing import Any

from clues_py.quantity import QuantityError, cpu_millis, format_bytes, format_cpu, to_int
from clues_py.sandbox.meta import ApiError
from clues_py.sandbox.objects import ObjectStore

Obj = dict[str, Any]
_OBJECT_COUNTS = {
    "services": "services",
    "configmaps": "configmaps",
    "secrets": "secrets",
    "persistentvolumeclaims": "persistentvolumeclaims",
    "replicationcontrollers": "replicationcontrollers",
    "resourcequotas": "resourcequotas",
}


def _pod_sum(pods: list[Obj], kind: str, resource: str) -> int:
    total = 0
    for pod in pods:
        for c in (pod.get("spec") or {}).get("containers") or []:
            value = ((c.get("resources") or {}).get(kind) or {}).get(resource)
            if value is None:
                continue
            try:
                total += cpu_millis(value) if resource == "cpu" else to_int(value)
            except QuantityError:
                continue
    return total


def usage(store: ObjectStore, namespace: str, hard: dict[str, Any]) -> dict[str, str]:
    pods = [
        p
        for p in store.list("pods", namespace)[0]
        if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]
    used: dict[str, str] = {}
    for name in hard:
        kind, _, resource = name.rpartition(".")
        if name in ("pods", "count/pods"):
            used[name] = str(len(pods))
        elif resource in ("cpu", "memory") and kind in ("", "requests", "limits"):
            total = _pod_sum(pods, kind or "requests", resource)
            used[name] = format_cpu(total) if resource == "cpu" else format_bytes(total)
        elif name in _OBJECT_COUNTS or name.startswith("count/"):
            plural = _OBJECT_COUNTS.get(name) or name.split("/", 1)[1].split(".")[0]
            try:
                used[name] = str(len(store.list(plural, namespace)[0]))
            except ApiError:
                continue
    return used


def refresh(store: ObjectStore, namespace: str) -> None:
    """Recompute the status of every quota in `namespace` (no event when nothing changed)."""
    for rq in store.list("resourcequotas", namespace)[0]:
        hard = dict((rq.get("spec") or {}).get("hard") or {})
        status = {"hard": hard, "used": usage(store, namespace, hard)}

        def put(obj: Obj, status: Obj = status) -> None:
            obj["status"] = status

        try:
            store.mutate("resourcequotas", rq["metadata"]["name"], namespace, put)
        except ApiError:
            pass  # deleted meanwhile
