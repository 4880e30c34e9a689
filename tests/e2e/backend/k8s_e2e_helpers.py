"""Helpers for the Kubernetes backend e2e tests: polling, on_change counting, object bodies."""

from __future__ import annotations

import threading
from typing import Any

from clues_py.contracts import PluginContext
from plugins.backends.kubernetes import KubernetesBackend
from tests.tools import wait_for

wait_until = wait_for


class Changes:
    """Thread-safe on_change counter."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.count += 1


def make_backend(kubeconfig: str, **overrides: Any) -> KubernetesBackend:
    cfg = KubernetesBackend.Config(
        kubeconfig=kubeconfig, pending_grace=600.0, relist_backoff_max=0.5, **overrides
    )
    return KubernetesBackend(cfg, PluginContext(cluster_name="e2e", instance="k8s"))


def pod_body(
    name: str,
    cpu: str = "100m",
    memory: str = "64Mi",
    node: str = "",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "main",
                "image": "busybox",
                "resources": {"requests": {"cpu": cpu, "memory": memory}},
            }
        ],
        "terminationGracePeriodSeconds": 1,
    }
    if node:
        spec["nodeName"] = node
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
