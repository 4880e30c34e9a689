"""Full-stack fixtures: the sandbox API server on 127.0.0.1, cluesd (in-process or a real
subprocess) with the `sim` power manager talking to it over HTTP, the CLI over the local API.

Nothing of clues-py is faked here: the only stand-in is the sandbox itself, which plays
the Kubernetes API server, scheduler and kubelet.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clues_py.sandbox import Sandbox


def pod_manifest(
    name: str, cpu: str = "1", memory: str = "2Gi", duration: str | None = None, **spec: Any
) -> dict[str, Any]:
    annotations = {"sandbox.clues-py.io/duration": duration} if duration else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "resources": {"requests": {"cpu": cpu, "memory": memory}},
                }
            ],
            **spec,
        },
    }


def _socket_path(tmp: Path) -> Path:
    path = tmp / "cluesd.sock"
    if len(str(path)) <= 100:
        return path
    return Path(tempfile.mkdtemp(prefix="clues-")) / "cluesd.sock"


def base_config(sandbox: Sandbox, tmp: Path, **overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "cluster_name": "e2e",
        "idle_time": 1.0,
        "pending_grace": 0.5,
        "boot_timeout": 20,
        "drain_timeout": 5,
        "shutdown_timeout": 10,
        "retry_backoff": 0.5,
        # A Unix socket: TCP would need a token file (issue 7); the path must fit sockaddr_un.
        "daemon": {
            "state_db": str(tmp / "clues.db"),
            "listen": f"unix:{_socket_path(tmp)}",
            "tick": 0.2,
            "metrics_listen": None,
        },
        "backend": {
            "kind": "kubernetes",
            "kubeconfig": sandbox.write_kubeconfig(str(tmp / "kubeconfig")),
        },
        "power": {"sim": {"kind": "sim", "url": sandbox.url}},
        "templates": [
            {
                "name": "wn",
                "power": "sim",
                "nodes": "wn-[1-4]",
                "cpu": 4,
                "memory": "8Gi",
                "boot_seconds": 0.3,
                "shutdown_seconds": 0.2,
            }
        ],
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(port=0, pod_start_seconds=0.05).start()
    sb.add_node(
        "master",
        cpu="2",
        memory="4Gi",
        labels={"node-role.kubernetes.io/control-plane": ""},
        taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
    )
    try:
        yield sb
    finally:
        sb.stop()
