"""The autoscaler's most common test: scale a Deployment up, watch nodes come; down, watch them go.

cluesd runs as a real process with the `sim` power manager against a real-mode sandbox;
the Deployment is scaled through its `scale` subresource with the official client.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from clues_py.sandbox import Sandbox
from tests.tools import command, stop_process, wait_for

from .conftest import base_config, write_config

pytestmark = [pytest.mark.e2e]

REPLICAS = 40
NODES_NEEDED = 10  # 40 pods of 1 cpu on nodes of 4 cpu


def deployment(replicas: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "c",
                            "image": "nginx",
                            "command": ["sleep", "infinity"],
                            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                        }
                    ],
                },
            },
        },
    }


@pytest.fixture
def cluesd(sandbox: Sandbox, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    cfg = base_config(sandbox, tmp_path, idle_time=1.0)
    cfg["templates"][0]["nodes"] = "wn-[1-14]"
    path = write_config(tmp_path / "clues.yaml", cfg)
    log = open(tmp_path / "cluesd.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*command("cluesd"), "-c", str(path)], stdout=log, stderr=log, text=True
    )
    try:
        yield proc
    finally:
        stop_process(proc, timeout=30)
        log.close()


def test_deployment_scaled_0_to_40_and_back_powers_nodes_on_and_off(
    sandbox: Sandbox, cluesd: subprocess.Popen[str], tmp_path: Path
) -> None:
    api = config.new_client_from_config(config_file=sandbox.write_kubeconfig(tmp_path / "kc"))
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    try:
        apps.create_namespaced_deployment("default", deployment(0))
        apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": REPLICAS}})

        def running() -> int:
            pods = core.list_namespaced_pod("default", label_selector="app=web").items
            return sum(1 for p in pods if p.status.phase == "Running")

        wait_for(lambda: running() == REPLICAS, timeout=120, what="40 web pods running")
        assert cluesd.poll() is None
        machines = {m["name"]: m for m in sandbox.machines.list() if m["name"].startswith("wn-")}
        powered = sorted(n for n, m in machines.items() if m["power_ons"] > 0)
        assert len(powered) == NODES_NEEDED, powered
        status = apps.read_namespaced_deployment("web", "default").status
        assert status.available_replicas == REPLICAS

        apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 0}})

        def all_off() -> bool:
            ms = [m for m in sandbox.machines.list() if m["name"].startswith("wn-")]
            return all(m["state"] == "off" for m in ms)

        wait_for(all_off, timeout=120, what="every worker powered off again")
        machines = {m["name"]: m for m in sandbox.machines.list() if m["name"].startswith("wn-")}
        assert sum(m["power_ons"] for m in machines.values()) == NODES_NEEDED
        assert sum(m["power_offs"] for m in machines.values()) == NODES_NEEDED
        assert not core.list_namespaced_pod("default", label_selector="app=web").items
    finally:
        api.close()
