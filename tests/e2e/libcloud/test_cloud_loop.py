"""cluesd (in-process Service) + libcloud + moto + sandbox: scale up, down, fall back, reconcile."""

from __future__ import annotations

from pathlib import Path

from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.tools import wait_for

from .cloud import MotoCloud
from .conftest import JoinAgent, cloud_config, pod_manifest


def _states(service: Service) -> dict[str, str]:
    return {n["name"]: n["state"] for n in service.daemon.control.status()["nodes"]}


def _pods(sandbox: Sandbox) -> list[dict]:
    return sandbox.store.list("pods", "default")[0]


def test_pending_pods_start_instances_that_are_terminated_when_idle(
    sandbox: Sandbox, tmp_path: Path, moto_cloud: MotoCloud, cluster: str, agent: JoinAgent
) -> None:
    raw = cloud_config(sandbox, tmp_path, moto_cloud, cluster)
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        for i in range(6):  # 1 cpu / 2Gi each on 4 cpu / 8Gi nodes: two instances
            sandbox.store.create("pods", pod_manifest(f"p{i}", duration="1.5s"), "default")
        live = wait_for(lambda: len(moto_cloud.live(cluster)) == 2 and moto_cloud.live(cluster))
        wait_for(lambda: all(p["status"].get("phase") == "Succeeded" for p in _pods(sandbox)), 30)
        used = {p["spec"]["nodeName"] for p in _pods(sandbox)}
        assert used == set(live)
        nodes = {n["name"]: n for n in service.daemon.control.status()["nodes"]}
        assert {n: nodes[n]["provider_id"] for n in live} == {n: ids[0] for n, ids in live.items()}
        # Idle -> drained -> terminated; moto says so.
        wait_for(lambda: set(_states(service).values()) == {"off"}, timeout=30)
        wait_for(lambda: moto_cloud.live(cluster) == {})
        ids = {i for v in live.values() for i in v}
        assert {moto_cloud.state_of(i) for i in ids} == {"terminated"}
        actions = service.daemon.store.actions(limit=50)
        assert sorted(a["kind"] for a in actions) == ["power_off"] * 2 + ["power_on"] * 2
        assert all(a["status"] == "ok" for a in actions)
        assert max(agent.max_live.values()) == 1
    finally:
        service.stop()


def test_template_whose_cloud_calls_fail_backs_off_and_the_next_template_is_used(
    sandbox: Sandbox, tmp_path: Path, moto_cloud: MotoCloud, cluster: str, agent: JoinAgent
) -> None:
    raw = cloud_config(sandbox, tmp_path, moto_cloud, cluster, retry_backoff=60.0,
                       retry_backoff_max=120.0)  # fmt: skip
    raw["power"]["badcloud"] = {
        "kind": "libcloud",
        **moto_cloud.options(subnet="subnet-doesnotexist"),
    }
    raw["templates"].insert(
        0,
        {"name": "big", "power": "badcloud", "nodes": "big-[1-2]", "cpu": 4,
         "memory": "8Gi", "priority": 10},
    )  # fmt: skip
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        sandbox.store.create("pods", pod_manifest("a", cpu="3"), "default")
        wait_for(lambda: _states(service).get("wn-1") in ("idle", "used"), timeout=30)
        wait_for(lambda: all(p["spec"].get("nodeName") == "wn-1" for p in _pods(sandbox)))
        states = _states(service)
        assert states["big-1"] == "on_error"
        assert states["big-2"] == "off"  # the template is in back-off: not tried again
        failed = [a for a in service.daemon.store.actions(limit=50) if a["status"] == "failed"]
        assert [(a["node"], a["kind"]) for a in failed] == [("big-1", "power_on")]
        assert "power.badcloud" in failed[0]["error"] and "big-1" in failed[0]["error"]
        assert set(moto_cloud.live(cluster)) == {"wn-1"}
        assert "AKID" not in failed[0]["error"] and "secret" not in failed[0]["error"]
    finally:
        service.stop()


def test_reconciliation_adopts_ours_cleans_orphans_and_leaves_foreign_alone(
    sandbox: Sandbox, tmp_path: Path, moto_cloud: MotoCloud, cluster: str, agent: JoinAgent
) -> None:
    def ours(node: str) -> dict[str, str]:
        return {"clues-py.io/cluster": cluster, "clues-py.io/node": node,
                "clues-py.io/template": "wn"}  # fmt: skip

    # Made behind the daemon's back (as a crashed daemon or an operator would leave them).
    adopted = moto_cloud.create_raw("wn-2", ours("wn-2"))
    dup_a = moto_cloud.create_raw("wn-3", ours("wn-3"))
    dup_b = moto_cloud.create_raw("wn-3", ours("wn-3"))
    ghost = moto_cloud.create_raw("ghost-1", ours("ghost-1"))
    agent.never_join.add("wn-4")
    stuck = moto_cloud.create_raw("wn-4", ours("wn-4"))
    foreign = moto_cloud.create_raw("not-ours", {"clues-py.io/node": "wn-1", "Name": "x"})
    wait_for(lambda: {"wn-2", "wn-3"} <= {n["metadata"]["name"] for n in
                                          sandbox.store.list("nodes")[0]})  # fmt: skip

    raw = cloud_config(sandbox, tmp_path, moto_cloud, cluster, reconcile_interval=0.5,
                       boot_timeout=3, idle_time=30)  # fmt: skip
    # The adopted nodes must stay on while they are checked: idle_time alone decides
    # (break-even would power each off 0.5 s after it idles, maybe before the other is).
    raw["policies"] = [
        "scale_up", "min_nodes", "pack_down", {"kind": "idle_off", "break_even": False}, "limits"
    ]  # fmt: skip
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        wait_for(lambda: moto_cloud.state_of(ghost) == "terminated")
        wait_for(lambda: len(moto_cloud.live(cluster).get("wn-3", [])) == 1)
        wait_for(lambda: _states(service)["wn-2"] == "idle" and _states(service)["wn-3"] == "idle")
        nodes = {n["name"]: n for n in service.daemon.control.status()["nodes"]}
        assert nodes["wn-2"]["provider_id"] == adopted
        assert nodes["wn-3"]["provider_id"] in (dup_a, dup_b)
        assert moto_cloud.live(cluster)["wn-3"] == [nodes["wn-3"]["provider_id"]]
        # Never joined: gone after boot_timeout; the node is not left on.
        wait_for(lambda: moto_cloud.state_of(stuck) == "terminated", timeout=20)
        wait_for(lambda: _states(service)["wn-4"] in ("off", "on_error"))
        status = service.daemon.control.status()
        assert status["unmanaged_nodes"] == ["master"]
        assert status["reconcile"]["runs"] >= 2
        decisions = service.daemon.store.decisions(limit=50)
        text = " ".join(d["reason"] for d in decisions)
        assert "ghost-1" in text and "duplicate" in text
        assert moto_cloud.state_of(foreign) == "running"  # not tagged with our cluster
    finally:
        service.stop()
        moto_cloud.driver().destroy_node(
            next(n for n in moto_cloud.driver().list_nodes(ex_node_ids=[foreign]))
        )
