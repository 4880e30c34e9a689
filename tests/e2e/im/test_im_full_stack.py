"""cluesd with an `im` template: pending pods -> IM VMs added -> nodes join -> pods run ->
idle -> VMs removed from IM. Everything real: sandbox API server, IM server, cluesd (a
`Service` in-process so the test can read its store); the join agent plays the VMs."""

from __future__ import annotations

from pathlib import Path

import pytest

from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import base_config, pod_manifest
from tests.tools import wait_for

from .conftest import BASE_RADL, RECIPE, IMClient, IMServer, JoinAgent

pytestmark = pytest.mark.e2e


def test_pending_pods_become_im_vms_and_idle_vms_are_removed(
    im_server: IMServer, sandbox: Sandbox, auth_file: Path, tmp_path: Path
) -> None:
    recipe = tmp_path / "wn.radl"
    recipe.write_text(RECIPE)
    state_file = tmp_path / "im-infid"
    raw = base_config(
        sandbox,
        tmp_path,
        power={
            "im": {
                "kind": "im",
                "url": im_server.url,
                "auth_file": str(auth_file),
                "base_radl": BASE_RADL,
                "state_file": str(state_file),
                "recipes": {"wn": str(recipe)},
                "poll_interval": 0.1,
            }
        },
    )
    raw["templates"][0]["power"] = "im"
    client = IMClient(im_server.url)

    def infid() -> str:
        return state_file.read_text().strip() if state_file.exists() else ""

    agent = JoinAgent(client, sandbox, infid).start()
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        # 6 pods of 1 cpu / 2Gi on 4-cpu / 8Gi nodes: two VMs, not three, not four.
        for i in range(6):
            sandbox.store.create("pods", pod_manifest(f"p{i}", duration="1.5s"), "default")
        vms = wait_for(lambda: len(v := client.vms(infid())) == 2 and v, timeout=30)
        assert sorted(name for name, _ in vms.values()) == ["wn-1", "wn-2"]
        pods = lambda: sandbox.store.list("pods", "default")[0]  # noqa: E731
        wait_for(lambda: all(p["status"].get("phase") == "Succeeded" for p in pods()), timeout=30)
        assert {p["spec"]["nodeName"] for p in pods()} == {"wn-1", "wn-2"}
        # The daemon recorded IM's ids for the nodes it powered on.
        ids = {
            n["name"]: n.get("provider_id", "") for n in service.daemon.control.status()["nodes"]
        }
        assert {ids["wn-1"], ids["wn-2"]} == {f"im://{infid()}/{v}" for v in vms}

        # Idle for idle_time -> drained, VM removed from IM, node off, Node object gone.
        wait_for(lambda: client.vms(infid()) == {}, timeout=30)
        states = lambda: {n["name"]: n["state"] for n in service.daemon.control.status()["nodes"]}  # noqa: E731
        wait_for(lambda: set(states().values()) == {"off"}, timeout=30)
        wait_for(
            lambda: [n["metadata"]["name"] for n in sandbox.store.list("nodes")[0]] == ["master"]
        )
        actions = service.daemon.store.actions(limit=100)
        assert sorted((a["kind"], a["node"], a["status"]) for a in actions) == [
            ("power_off", "wn-1", "ok"),
            ("power_off", "wn-2", "ok"),
            ("power_on", "wn-1", "ok"),
            ("power_on", "wn-2", "ok"),
        ]
        assert agent.seen == set(vms) and agent.errors == []
    finally:
        service.stop()
        agent.stop()
