"""Reconciliation of nodes the daemon has given up on, against moto and the sandbox.

The store is left as three crashes during power-off used to leave it (decision 0017's
context): wn-1 `off_error` after max_retries ("giving up until RESET") while its VM runs,
and wn-2 `on_error` after max_retries with no VM at all. cluesd (in-process Service, real
libcloud, moto, sandbox, EventRecorder, hooks) must terminate wn-1's VM at once, with the
`on_terminate` hook and an `InstanceTerminated` Event, and then return both nodes to `off`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.model import ManagedNode, NodeState
from clues_py.sandbox import Sandbox
from clues_py.store import Store
from plugins.power.libcloud import TAG_CLUSTER, TAG_NODE, TAG_TEMPLATE
from tests.tools import wait_for

from .cloud import MotoCloud
from .conftest import JoinAgent, cloud_config


def _events(sandbox: Sandbox, name: str, reason: str) -> list[dict[str, Any]]:
    return [
        ev
        for ev in sandbox.store.list("events", "default")[0]
        if ev["involvedObject"].get("name") == name and ev.get("reason") == reason
    ]


def test_a_vm_of_a_node_given_up_on_is_terminated_and_the_node_returns_to_off(
    sandbox: Sandbox, tmp_path: Path, moto_cloud: MotoCloud, cluster: str, agent: JoinAgent
) -> None:
    raw = cloud_config(sandbox, tmp_path, moto_cloud, cluster, nodes="wn-[1-2]",
                       reconcile_interval=1.0, max_retries=3)  # fmt: skip
    seen = tmp_path / "terminated.env"
    raw["hooks"] = {
        "on_terminate": {
            "command": f"env > {seen}.tmp && mv {seen}.tmp {seen}",
            "shell": True,
        }
    }
    vm = moto_cloud.create_raw(
        "wn-1", {TAG_CLUSTER: cluster, TAG_NODE: "wn-1", TAG_TEMPLATE: "wn", "Name": "wn-1"}
    )
    # Its kubelet registered before cluesd starts, as it had before the crashes.
    names = lambda: {n["metadata"]["name"] for n in sandbox.store.list("nodes")[0]}  # noqa: E731
    wait_for(lambda: "wn-1" in names(), what="wn-1 registered")
    with Store(raw["daemon"]["state_db"]) as store:
        gave_up = {"attempts": 3, "since": time.time(), "last_error": "shutdown timeout"}
        store.save_node(
            ManagedNode("wn-1", "wn", NodeState.OFF_ERROR, provider_id=vm, **gave_up)  # type: ignore[arg-type]
        )
        store.save_node(ManagedNode("wn-2", "wn", NodeState.ON_ERROR, **gave_up))  # type: ignore[arg-type]
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        wait_for(lambda: moto_cloud.state_of(vm) == "terminated", timeout=60,
                 what="the VM of the node given up on terminated")  # fmt: skip
        nodes = service.daemon.control.nodes
        states = lambda: {n["name"]: (n["state"], n["attempts"]) for n in nodes()}  # noqa: E731
        wait_for(lambda: states() == {"wn-1": ("off", 0), "wn-2": ("off", 0)}, timeout=60,
                 what="both nodes back to off")  # fmt: skip
        wait_for(seen.exists, what="the on_terminate hook ran")
        env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
        assert (env["CLUES_EVENT"], env["CLUES_NODE"], env["CLUES_PROVIDER_ID"]) == (
            "on_terminate", "wn-1", vm,
        )  # fmt: skip
        assert "given up until RESET" in env["CLUES_REASON"]
        ev = wait_for(lambda: _events(sandbox, "wn-1", "InstanceTerminated"), what="event")
        assert ev[0]["type"] == "Warning" and vm in ev[0]["message"]
        why = service.daemon.store.decisions(key="reconcile:wn-2")[0]["reason"]
        assert why.startswith("off: no instance of wn-2 is left"), why
    finally:
        service.stop()
