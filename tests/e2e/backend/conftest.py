"""Fixtures for the Kubernetes backend end to end: a real sandbox API server on 127.0.0.1.

Nothing is faked: the sandbox (store, HTTP server, scheduler, kubelets, controllers) runs in
this process on a free port, the backend talks to it over HTTP through the official client,
and tests create objects over HTTP with a second, independent client.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_e2e_helpers import Changes, make_backend, wait_until
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from clues_py.sandbox import Sandbox
from plugins.backends.kubernetes import KubernetesBackend


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(port=0, pod_start_seconds=0.05, kill_seconds=0.05, events=False).start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def kubeconfig(sandbox: Sandbox, tmp_path: Path) -> str:
    return sandbox.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def api(kubeconfig: str) -> Iterator[k8s.ApiClient]:
    """An independent client for the test's own writes."""
    cfg = k8s.Configuration()
    k8s_config.load_kube_config(
        config_file=kubeconfig, client_configuration=cfg, persist_config=False
    )
    with k8s.ApiClient(cfg) as c:
        yield c


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
def backend(kubeconfig: str, changes: Changes) -> Iterator[KubernetesBackend]:
    b = make_backend(kubeconfig)
    b.start(changes)
    try:
        wait_until(b.synced, what="backend synced")
        yield b
    finally:
        b.stop()
