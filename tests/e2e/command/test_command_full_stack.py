"""cluesd with a `command` template: pending pods -> the operator's on script -> nodes join ->
pods run -> idle -> off script -> nodes off. Everything real: the sandbox API server, cluesd
(a `Service` in-process so the test can read its store) and the shell scripts it runs; the
join agent plays the machines: a state file saying on -> the node boots and registers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import base_config, pod_manifest, sandbox  # noqa: F401
from tests.tools import wait_for

from .hardware import CommandMachines, StateFileJoinAgent

pytestmark = pytest.mark.e2e

NODES = ["wn-1", "wn-2"]


def test_pending_pods_run_scripts_on_and_idle_nodes_off(sandbox: Sandbox, tmp_path: Path) -> None:  # noqa: F811
    machines = CommandMachines(tmp_path / "hw")
    raw = base_config(
        sandbox,
        tmp_path,
        power={
            "pdu": {
                "kind": "command",
                "on_command": machines.on,
                "off_command": machines.off,
                "status_command": machines.status,
                "timeout": 10,
            }
        },
    )
    raw["templates"][0].update(power="pdu", nodes="wn-[1-3]")
    agent = StateFileJoinAgent(sandbox, machines, [*NODES, "wn-3"]).start()
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        # 6 pods of 1 cpu / 2Gi on 4-cpu / 8Gi nodes: two machines, the third stays off.
        for i in range(6):
            sandbox.store.create("pods", pod_manifest(f"p{i}", duration="1.5s"), "default")
        wait_for(lambda: all(machines.power(n) == "on" for n in NODES), timeout=30)
        pods = lambda: sandbox.store.list("pods", "default")[0]  # noqa: E731
        wait_for(lambda: all(p["status"].get("phase") == "Succeeded" for p in pods()), timeout=30)
        assert {p["spec"]["nodeName"] for p in pods()} == set(NODES)
        states = lambda: {n["name"]: n["state"] for n in service.daemon.control.status()["nodes"]}  # noqa: E731
        # Idle for idle_time -> drained -> off script -> the status script says off -> off.
        wait_for(lambda: set(states().values()) == {"off"}, timeout=40)
        assert all(machines.power(n) == "off" for n in NODES)
        assert machines.power("wn-3") == "off"
        assert sorted(machines.calls()) == ["off wn-1", "off wn-2", "on wn-1", "on wn-2"]
        ids = {n["name"]: n["provider_id"] for n in service.daemon.control.status()["nodes"]}
        assert {k: v for k, v in ids.items() if k in NODES} == {n: f"command://{n}" for n in NODES}
        actions = service.daemon.store.actions(limit=50)
        assert sorted((a["kind"], a["node"]) for a in actions) == [
            ("power_off", "wn-1"),
            ("power_off", "wn-2"),
            ("power_on", "wn-1"),
            ("power_on", "wn-2"),
        ]
        assert all(a["status"] == "ok" and a["reason"] for a in actions), actions
        assert sorted(agent.joined) == NODES
        # The join agent stopped the machines the scripts switched off.
        up = lambda: {m["name"] for m in sandbox.machines.list() if m["state"] != "off"}  # noqa: E731
        wait_for(lambda: up() == {"master"})
        assert agent.errors == []
    finally:
        service.stop()
        agent.stop()
