"""Action records follow the provider call, and are final before the node moves on.

A power manager that is slow to return after the machine has already changed (IPMI polls
the BMC until it reports off) must not leave a node `off` with its action still pending:
the action is `running` while the call is in flight, `ok` once it returns, and the node
reaches `off` only after that. The power manager here is the real `sim` one, with a gate
the test opens after the call has done its work; the sandbox is the cluster.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from clues_py.config.load import config_from_dict
from clues_py.contracts import PluginContext
from clues_py.daemon.service import Service
from clues_py.model import ManagedNode, NodeTemplate
from clues_py.sandbox import Sandbox
from plugins.power.sim import SimPowerManager
from tests.tools import passes_later, wait_for

from .conftest import base_config, pod_manifest


class SlowToReturn(SimPowerManager):
    """`sim`, but each call returns only when the test opens its gate (work done before)."""

    def __init__(self, config: Any, context: PluginContext) -> None:
        super().__init__(config, context)
        self.gates = {"power_on": threading.Event(), "power_off": threading.Event()}
        self.done = {"power_on": threading.Event(), "power_off": threading.Event()}

    def power_on(self, node: ManagedNode, template: NodeTemplate) -> str:
        provider_id = super().power_on(node, template)
        self.done["power_on"].set()
        self.gates["power_on"].wait(60)
        return provider_id

    def power_off(self, node: ManagedNode) -> None:
        super().power_off(node)
        self.done["power_off"].set()
        self.gates["power_off"].wait(60)


def test_actions_are_running_during_the_call_and_final_before_the_node_moves_on(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    raw = base_config(sandbox, tmp_path)
    raw["templates"][0]["nodes"] = "wn-1"
    cfg = config_from_dict(raw, source="test")
    pm = SlowToReturn(SimPowerManager.Config(url=sandbox.url), PluginContext("e2e", "sim"))
    service = Service(cfg, power={"sim": pm}).start()
    daemon = service.daemon
    store = daemon.store
    node = lambda: daemon.control.status()["nodes"][0]  # noqa: E731

    def seen_by_two_passes(check: Any) -> None:
        """Wait until the daemon's backend observes `check`, then for two passes after it."""
        wait_for(lambda: check(daemon.backend.observe(daemon.clock.now()).nodes.get("wn-1")))
        passes_later(daemon, 2)

    try:
        sandbox.store.create("pods", pod_manifest("p", duration="0.5s"), "default")
        assert pm.done["power_on"].wait(30)
        # The machine boots and its Node registers Ready while the call has not returned.
        wait_for(
            lambda: any(n["metadata"]["name"] == "wn-1" for n in sandbox.store.list("nodes")[0])
        )
        (on,) = store.actions(limit=10)
        assert (on["kind"], on["status"], on["finished_at"]) == ("power_on", "running", None)
        assert node()["state"] == "powering_on"
        pm.gates["power_on"].set()
        wait_for(lambda: node()["state"] in ("idle", "used"), timeout=30)
        assert store.actions(limit=10)[0]["status"] == "ok"

        # Idle -> drained -> power-off: the machine is gone before the call returns.
        assert pm.done["power_off"].wait(30)
        seen_by_two_passes(lambda o: o is None)
        off = store.actions(limit=10)[0]
        assert (off["kind"], off["status"], off["finished_at"]) == ("power_off", "running", None)
        assert node()["state"] == "powering_off"
        pm.gates["power_off"].set()
        wait_for(lambda: node()["state"] == "off", timeout=30)
        off = store.actions(limit=10)[0]
        assert off["status"] == "ok"
        to_off = [t for t in store.transitions(node="wn-1", limit=20) if t["new"] == "off"]
        assert off["finished_at"] <= to_off[0]["at"]
    finally:
        for gate in pm.gates.values():
            gate.set()
        service.stop()
