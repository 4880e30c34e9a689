"""libcloud end to end: moto EC2 (127.0.0.1), the sandbox API server, cluesd, a join agent.

Faked: the cloud (moto) and Kubernetes (the sandbox). The `JoinAgent` thread stands in
for what user data does on a real instance (kubeadm join): once moto reports an instance
of our cluster running, it boots the sandbox machine of the tagged node name (the Node
registers after a short boot); when the instance is terminated or stopped it shuts the
machine down (the Node goes away). It also records, at every poll, how many live
instances each node name has, so tests can assert there never was a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clues_py.sandbox import Sandbox
from clues_py.sandbox.machines import MachineError
from plugins.power.libcloud import TAG_NODE, TAG_TEMPLATE
from tests.e2e.daemon.conftest import base_config, pod_manifest, sandbox  # noqa: F401
from tests.e2e.join_agent import PollingAgent

from .cloud import MotoCloud, moto_cloud, unique_cluster  # noqa: F401


class JoinAgent(PollingAgent):
    def __init__(
        self,
        cloud: MotoCloud,
        sb: Sandbox,
        cluster: str,
        boot_seconds: float = 0.3,
    ) -> None:
        self.cloud, self.sandbox, self.cluster = cloud, sb, cluster
        self.boot_seconds = boot_seconds
        self.never_join: set[str] = set()  # node names whose instances never join
        self.max_live: dict[str, int] = {}  # node name -> most live instances seen at once
        self.joined: set[str] = set()
        super().__init__()

    def step(self) -> None:
        live: dict[str, int] = {}
        running: dict[str, str] = {}
        for inst in self.cloud.instances(self.cluster):
            tags = inst.extra.get("tags") or {}
            name = tags.get(TAG_NODE, "")
            if str(inst.state) in ("pending", "running"):
                live[name] = live.get(name, 0) + 1
            if str(inst.state) == "running":
                running[name] = tags.get(TAG_TEMPLATE, "")
        for name, count in live.items():
            self.max_live[name] = max(self.max_live.get(name, 0), count)
        machines = {m["name"]: m["state"] for m in self.sandbox.machines.list()}
        for name in running:
            if name in self.never_join or not name or machines.get(name) in ("on", "booting"):
                continue
            try:
                self.sandbox.machines.power_on(
                    name, cpu="4", memory="8Gi", boot_seconds=self.boot_seconds
                )
                self.joined.add(name)
            except MachineError:
                pass  # still stopping from the previous instance: next poll
        for name, state in machines.items():
            if name in self.joined and name not in live and state in ("on", "booting"):
                self.sandbox.machines.power_off(name, shutdown_seconds=0.0)


@pytest.fixture
def cluster() -> str:
    return unique_cluster("e2e")


@pytest.fixture
def agent(moto_cloud: MotoCloud, sandbox: Sandbox, cluster: str) -> Iterator[JoinAgent]:  # noqa: F811
    a = JoinAgent(moto_cloud, sandbox, cluster).start()
    try:
        yield a
    finally:
        a.stop()


def cloud_config(
    sandbox: Sandbox,  # noqa: F811
    tmp: Path,
    cloud: MotoCloud,
    cluster: str,
    nodes: str = "wn-[1-4]",
    **overrides: Any,
) -> dict[str, Any]:
    raw = base_config(sandbox, tmp, cluster_name=cluster, **overrides)
    raw["daemon"]["metrics_listen"] = None
    raw["power"] = {"cloud": {"kind": "libcloud", **cloud.options()}}
    raw["templates"] = [
        {
            "name": "wn",
            "power": "cloud",
            "nodes": nodes,
            "cpu": 4,
            "memory": "8Gi",
            "boot_seconds": 0.3,
            "shutdown_seconds": 0.2,
        }
    ]
    return raw
