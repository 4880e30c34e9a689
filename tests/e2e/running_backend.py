"""The Kubernetes backend started against a sandbox's kubeconfig, synced, and stopped after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from clues_py.contracts import PluginContext
from plugins.backends.kubernetes import KubernetesBackend
from tests.tools import wait_for


@contextmanager
def running_backend(kubeconfig: str, **options: Any) -> Iterator[KubernetesBackend]:
    cfg = KubernetesBackend.Config(kubeconfig=kubeconfig, pending_grace=0, **options)
    backend = KubernetesBackend(cfg, PluginContext("e2e", "backend"))
    backend.start(lambda: None)
    try:
        wait_for(backend.synced)
        yield backend
    finally:
        backend.stop()
