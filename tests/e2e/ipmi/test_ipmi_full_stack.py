"""cluesd with an `ipmi` template: pending pods -> BMC power on -> nodes join -> pods run ->
idle -> BMC soft power off. Everything real: the sandbox API server, two ipmi_sim BMCs on
127.0.0.1, ipmitool, cluesd (a `Service` in-process so the test can read its store); the
join agent plays the machines: chassis power 1 -> the node boots and registers, 0 -> it stops.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import base_config, pod_manifest, sandbox  # noqa: F401
from tests.e2e.join_agent import PollingAgent
from tests.tools import wait_for

from .conftest import USER, Bmc, start_bmc, stop_bmc

pytestmark = pytest.mark.e2e


class JoinAgent(PollingAgent):
    name = "ipmi-join-agent"
    interval = 0.05

    """Machine power (the chassis script's file) -> sandbox machine booting / stopping."""

    def __init__(self, cluster: Sandbox, bmcs: dict[str, Bmc]) -> None:
        self.sandbox, self.bmcs = cluster, bmcs
        self.joined: list[str] = []
        super().__init__()

    def step(self) -> None:
        machines = {m["name"]: m["state"] for m in self.sandbox.machines.list()}
        for name, bmc in self.bmcs.items():
            state = machines.get(name, "off")
            if bmc.power == "1" and state == "off":
                self.sandbox.machines.power_on(name, cpu="4", memory="8Gi", boot_seconds=0.2)
                self.joined.append(name)
            elif bmc.power == "0" and state in ("on", "booting"):
                self.sandbox.machines.power_off(name, shutdown_seconds=0.1)


def test_pending_pods_power_bmcs_on_and_idle_nodes_off(sandbox: Sandbox, tmp_path: Path) -> None:  # noqa: F811
    bmcs = {name: start_bmc(tmp_path, f"bmc-{name}") for name in ("wn-1", "wn-2")}
    raw = base_config(
        sandbox,
        tmp_path,
        # Not a timeout test: on a loaded machine a boot through ipmitool may take long,
        # and a boot timeout would add a retry the assertions below do not expect.
        boot_timeout=300,
        shutdown_timeout=300,
        power={
            "ipmi": {
                "kind": "ipmi",
                "defaults": {"host": "127.0.0.1", "user": USER},
                "nodes": {
                    name: {"port": b.port, "password_file": str(b.password_file)}
                    for name, b in bmcs.items()
                },
                "soft_timeout": 5,
                "poll_interval": 0.1,
            }
        },
    )
    raw["templates"][0].update(power="ipmi", nodes="wn-[1-2]")
    agent = JoinAgent(sandbox, bmcs).start()
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        # 6 pods of 1 cpu / 2Gi on 4-cpu / 8Gi nodes: both machines. They run until deleted,
        # so where they land does not depend on how fast each machine boots (with a
        # duration, a late second node could find the work done on the first).
        for i in range(6):
            sandbox.store.create("pods", pod_manifest(f"p{i}"), "default")
        wait_for(lambda: all(b.power == "1" for b in bmcs.values()), timeout=60)
        pods = lambda: sandbox.store.list("pods", "default")[0]  # noqa: E731
        wait_for(lambda: [p["status"].get("phase") for p in pods()] == ["Running"] * 6, timeout=60)
        assert {p["spec"]["nodeName"] for p in pods()} == {"wn-1", "wn-2"}
        for i in range(6):
            sandbox.store.delete("pods", f"p{i}", "default")
        states = lambda: {n["name"]: n["state"] for n in service.daemon.control.status()["nodes"]}  # noqa: E731
        # Idle for idle_time -> drained -> soft power off through the BMC -> off.
        wait_for(lambda: set(states().values()) == {"off"}, timeout=60)
        assert all(b.power == "0" for b in bmcs.values())
        for b in bmcs.values():
            assert "0x20 set power 1" in b.calls()
            assert "0x20 set shutdown 1" in b.calls()  # soft, and it was enough
        ids = {n["name"]: n["provider_id"] for n in service.daemon.control.status()["nodes"]}
        assert ids == {n: f"ipmi://127.0.0.1:{b.port}" for n, b in bmcs.items()}
        actions = service.daemon.store.actions(limit=50)
        assert sorted(a["kind"] for a in actions) == ["power_off"] * 2 + ["power_on"] * 2
        assert all(a["status"] == "ok" for a in actions), actions
        assert sorted(agent.joined) == ["wn-1", "wn-2"]
        assert agent.errors == []
    finally:
        service.stop()
        agent.stop()
        for b in bmcs.values():
            stop_bmc(b)
