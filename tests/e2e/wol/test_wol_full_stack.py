"""cluesd with a `wol` template: pending pods -> magic packets on UDP 127.0.0.1 -> the machines
wake and join -> pods run -> idle -> the operator's off script -> nodes off. Everything real:
the sandbox API server, cluesd (a `Service` in-process so the test can read its store), the
UDP datagrams and scripts; the machines (tests/e2e/command/hardware.py) mark their state
file on when their MAC's magic packet arrives, and the join agent registers them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.e2e.command.hardware import StateFileJoinAgent, WolMachines
from tests.e2e.daemon.conftest import base_config, pod_manifest, sandbox  # noqa: F401
from tests.tools import wait_for

pytestmark = pytest.mark.e2e

MACS = {"wn-1": "52:54:00:aa:00:01", "wn-2": "52:54:00:aa:00:02", "wn-3": "52:54:00:aa:00:03"}


def test_pending_pods_wake_machines_and_idle_nodes_go_off(sandbox: Sandbox, tmp_path: Path) -> None:  # noqa: F811
    machines = WolMachines(tmp_path / "hw", MACS).start()
    raw = base_config(
        sandbox,
        tmp_path,
        power={
            "lan": {
                "kind": "wol",
                "macs": MACS,
                "broadcast": "127.0.0.1",
                "port": machines.port,
                "repeat": 2,
                "off_command": machines.off,
                "status_command": machines.status,
                "timeout": 10,
            }
        },
    )
    raw["templates"][0].update(power="lan", nodes="wn-[1-3]")
    agent = StateFileJoinAgent(sandbox, machines, list(MACS)).start()
    service = Service(config_from_dict(raw, source="test")).start()
    woken = ["wn-1", "wn-2"]
    try:
        # 6 pods of 1 cpu / 2Gi on 4-cpu / 8Gi nodes: two machines, the third stays asleep.
        for i in range(6):
            sandbox.store.create("pods", pod_manifest(f"p{i}", duration="1.5s"), "default")
        wait_for(lambda: all(machines.power(n) == "on" for n in woken), timeout=30)
        pods = lambda: sandbox.store.list("pods", "default")[0]  # noqa: E731
        wait_for(lambda: all(p["status"].get("phase") == "Succeeded" for p in pods()), timeout=30)
        assert {p["spec"]["nodeName"] for p in pods()} == set(woken)
        states = lambda: {n["name"]: n["state"] for n in service.daemon.control.status()["nodes"]}  # noqa: E731
        # Idle for idle_time -> drained -> off script -> the machine answers off -> off.
        wait_for(lambda: set(states().values()) == {"off"}, timeout=40)
        assert all(machines.power(n) == "off" for n in MACS)
        # Each wake is `repeat` datagrams of the right MAC, nothing else on the wire.
        assert sorted(machines.packets) == ["wn-1", "wn-1", "wn-2", "wn-2"]
        assert machines.junk == []
        assert sorted(machines.calls()) == ["off wn-1", "off wn-2", "on wn-1", "on wn-2"]
        ids = {n["name"]: n["provider_id"] for n in service.daemon.control.status()["nodes"]}
        assert {k: v for k, v in ids.items() if k in woken} == {
            n: f"wol://{MACS[n]}" for n in woken
        }
        actions = service.daemon.store.actions(limit=50)
        assert sorted((a["kind"], a["node"]) for a in actions) == [
            ("power_off", "wn-1"),
            ("power_off", "wn-2"),
            ("power_on", "wn-1"),
            ("power_on", "wn-2"),
        ]
        assert all(a["status"] == "ok" and a["reason"] for a in actions), actions
        assert sorted(agent.joined) == woken
        # The join agent stopped the machines the scripts switched off.
        up = lambda: {m["name"] for m in sandbox.machines.list() if m["state"] != "off"}  # noqa: E731
        wait_for(lambda: up() == {"master"})
        assert agent.errors == []
    finally:
        service.stop()
        agent.stop()
        machines.stop()
