"""metrics.k8s.io/v1beta1 as metrics-server serves it, computed from what pods request.

Sandbox containers use nothing, so each running container reports its requests as its usage
(cpu in millicores, memory in Ki), and a node the sum of its running pods'. That is enough for
`kubectl top nodes|pods` and the client libraries' metrics helpers, and it is stable, so tests
can rely on it. Label selectors apply to pods as on the pods themselves. Routing is the
server's; the pods are the store's.
"""

from __future__ import annotations

from typing import Any

from clues_py.quantity import QuantityError, cpu_millis, to_int
from clues_py.sandbox.meta import ApiError, rfc3339
from clues_py.sandbox.objects import ObjectStore

Obj = dict[str, Any]
API_VERSION = "metrics.k8s.io/v1beta1"
WINDOW = "30s"


def _usage(containers: list[Obj]) -> tuple[int, int]:
    cpu = mem = 0
    for c in containers:
        requests = (c.get("resources") or {}).get("requests") or {}
        try:
            cpu += cpu_millis(requests.get("cpu", 0))
            mem += to_int(requests.get("memory", 0))
        except QuantityError:
            continue
    return cpu, mem


def _quantities(cpu: int, mem: int) -> dict[str, str]:
    return {"cpu": f"{cpu}m", "memory": f"{mem // 1024}Ki"}


def _running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


def pod_metrics(pod: Obj, now: float) -> Obj:
    meta = pod["metadata"]
    containers = (pod.get("spec") or {}).get("containers") or []
    return {
        "kind": "PodMetrics",
        "apiVersion": API_VERSION,
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace", "default"),
            "labels": dict(meta.get("labels") or {}),
            "creationTimestamp": rfc3339(now),
        },
        "timestamp": rfc3339(now),
        "window": WINDOW,
        "containers": [
            {"name": c.get("name", ""), "usage": _quantities(*_usage([c]))} for c in containers
        ],
    }


def node_metrics(node: Obj, pods: list[Obj], now: float) -> Obj:
    name = node["metadata"]["name"]
    mine = [
        c
        for p in pods
        if (p.get("spec") or {}).get("nodeName") == name and _running(p)
        for c in (p.get("spec") or {}).get("containers") or []
    ]
    return {
        "kind": "NodeMetrics",
        "apiVersion": API_VERSION,
        "metadata": {
            "name": name,
            "labels": dict(node["metadata"].get("labels") or {}),
            "creationTimestamp": rfc3339(now),
        },
        "timestamp": rfc3339(now),
        "window": WINDOW,
        "usage": _quantities(*_usage(mine)),
    }


def answer(
    store: ObjectStore, plural: str, name: str | None, namespace: str | None, selector: str
) -> Obj:
    """The NodeMetrics/PodMetrics object or list for GET .../metrics.k8s.io/v1beta1/..."""
    now = store.clock()
    if plural == "nodes":
        pods = store.list("pods")[0]
        nodes = [store.get("nodes", name)] if name else store.list("nodes", None, selector)[0]
        items = [node_metrics(n, pods, now) for n in nodes]
        kind = "NodeMetrics"
    else:
        if name:
            pod = store.get("pods", name, namespace)
            if not _running(pod):
                raise ApiError(
                    404,
                    "NotFound",
                    f'podmetrics.metrics.k8s.io "{namespace}/{name}" not found',
                    {"name": name, "group": "metrics.k8s.io", "kind": "pods"},
                )
            pods = [pod]
        else:
            pods = [p for p in store.list("pods", namespace, selector)[0] if _running(p)]
        items = [pod_metrics(p, now) for p in pods]
        kind = "PodMetrics"
    if name:
        return items[0]
    return {"kind": kind + "List", "apiVersion": API_VERSION, "metadata": {}, "items": items}
