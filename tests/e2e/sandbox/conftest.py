"""Fixtures for the sandbox API server e2e tests.

Nothing is faked: each test module gets a real `ObjectStore` behind a real `ApiServer` on
127.0.0.1 (free port), a kubeconfig file for kubectl, and an official `kubernetes` ApiClient.
Controllers are not running; tests that need pods to finish terminating start `finalizer`,
a tiny stand-in for the kubelet that removes pods 0.5 s after they get a deletionTimestamp.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config

from clues_py.sandbox.kubeconfig import write_kubeconfig
from clues_py.sandbox.objects import ObjectStore
from clues_py.sandbox.server import ApiServer


@dataclass
class Sandbox:
    store: ObjectStore
    server: ApiServer
    kubeconfig: Path
    api: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)


def start_sandbox(tmp: Path, history: int = 20000, bookmark_interval: float = 0.2) -> Sandbox:
    store = ObjectStore(history=history)
    server = ApiServer(store, bookmark_interval=bookmark_interval).start()
    kc = write_kubeconfig(tmp / "kubeconfig", server.url)
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kc), client_configuration=cfg)
    return Sandbox(store, server, kc, client.ApiClient(cfg))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    yield sb
    sb.api.close()
    sb.server.stop()


@pytest.fixture
def finalizer(sandbox: Sandbox) -> Iterator[None]:
    """Remove pods that get a deletionTimestamp, from another thread, like a kubelet would."""
    store = sandbox.store

    def on_change(type_: str, resource: str, obj: dict) -> None:
        meta = obj["metadata"]
        if resource == "pods" and type_ == "MODIFIED" and meta.get("deletionTimestamp"):
            # A short delay, like a container shutting down, so terminating pods are observable.
            timer = threading.Timer(0.5, _finish, args=(store, meta["name"], meta["namespace"]))
            timer.daemon = True
            timer.start()

    unsubscribe = store.subscribe(on_change)
    yield
    unsubscribe()


def _finish(store: ObjectStore, name: str, namespace: str) -> None:
    try:
        store.delete("pods", name, namespace, grace_seconds=0)
    except Exception:
        pass  # already gone


def node(name: str, labels: dict | None = None, ready: bool = True) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "",
                "containerRuntimeVersion": "containerd://1.7.0",
                "kernelVersion": "6.1.0",
                "kubeProxyVersion": "",
                "kubeletVersion": "v1.32.0",
                "machineID": "",
                "operatingSystem": "linux",
                "osImage": "Sandbox Linux",
                "systemUUID": "",
            },
        },
    }


def pod(
    name: str, node_name: str | None = None, labels: dict | None = None, **meta: object
) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}, **meta},
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            **({"nodeName": node_name} if node_name else {}),
        },
    }


def run_pod(
    store: ObjectStore,
    name: str,
    node_name: str,
    labels: dict | None = None,
    namespace: str = "default",
    **meta: object,
) -> dict:
    """A pod placed on `node_name` and Running+Ready (what scheduler and kubelet would produce)."""
    body = pod(name, node_name, labels, **meta)
    body["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return store.create("pods", body, namespace)
