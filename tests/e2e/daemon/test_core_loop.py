"""The core loop end to end: pending pods -> nodes powered on -> pods run -> idle -> nodes off.

cluesd runs in-process here (a `Service`, same code as the `cluesd` binary) so the test can
read its store; the CLI and process-level behaviour are in test_cluesd_process.py.
"""

from __future__ import annotations

from pathlib import Path

from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from clues_py.store import Store
from tests.tools import wait_for

from .conftest import base_config, pod_manifest


def _states(service: Service) -> dict[str, str]:
    return {n["name"]: n["state"] for n in service.daemon.control.status()["nodes"]}


def _machines(sandbox: Sandbox) -> dict[str, str]:
    return {m["name"]: m["state"] for m in sandbox.machines.list() if m["name"].startswith("wn-")}


def test_burst_powers_on_what_it_needs_then_everything_off(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cfg = config_from_dict(base_config(sandbox, tmp_path), source="test")
    service = Service(cfg).start()
    try:
        # 6 pods of 1 cpu / 2Gi on 4-cpu / 8Gi nodes: two nodes, not three, not four.
        for i in range(6):
            sandbox.store.create("pods", pod_manifest(f"p{i}", duration="1.5s"), "default")
        wait_for(lambda: sum(1 for s in _states(service).values() if s in ("idle", "used")) == 2)
        pods = lambda: sandbox.store.list("pods", "default")[0]  # noqa: E731
        wait_for(lambda: all(p["status"].get("phase") == "Succeeded" for p in pods()), timeout=30)
        assert {p["spec"]["nodeName"] for p in pods()} <= {"wn-1", "wn-2", "wn-3", "wn-4"}
        # Idle for idle_time -> drained, powered off, Node objects gone.
        wait_for(lambda: set(_states(service).values()) == {"off"}, timeout=30)
        wait_for(
            lambda: sandbox.store.list("nodes")[0] and len(sandbox.store.list("nodes")[0]) == 1
        )
        actions = service.daemon.store.actions(limit=100)
        ons = [a for a in actions if a["kind"] == "power_on"]
        offs = [a for a in actions if a["kind"] == "power_off"]
        assert len(ons) == 2, ons
        assert len(offs) == 2, offs
        assert all(a["status"] == "ok" for a in ons + offs)
        assert all(a["reason"] for a in ons + offs)
        assert "pending pod" in ons[0]["reason"]
        assert "idle" in offs[0]["reason"]
    finally:
        service.stop()


def test_pod_that_fits_no_template_is_reported_not_powered(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cfg = config_from_dict(base_config(sandbox, tmp_path), source="test")
    service = Service(cfg).start()
    try:
        sandbox.store.create("pods", pod_manifest("huge", cpu="16"), "default")
        status = wait_for(
            lambda: (s := service.daemon.control.status())["unplaceable"] and s, timeout=10
        )
        assert "default/huge" in status["unplaceable"]
        assert "template" in status["unplaceable"]["default/huge"]
        assert set(_states(service).values()) == {"off"}
        assert _machines(sandbox) == {}
        assert service.daemon.store.actions(limit=10) == []
    finally:
        service.stop()


def test_daemonset_pods_do_not_keep_a_node_on(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.store.create(
        "daemonsets",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "exporter", "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": {"app": "exporter"}},
                "template": {
                    "metadata": {"labels": {"app": "exporter"}},
                    "spec": {
                        "tolerations": [{"operator": "Exists"}],
                        "containers": [
                            {"name": "e", "image": "x", "resources": {"requests": {"cpu": "10m"}}}
                        ],
                    },
                },
            },
        },
        "kube-system",
    )
    cfg = config_from_dict(base_config(sandbox, tmp_path), source="test")
    service = Service(cfg).start()
    try:
        sandbox.store.create("pods", pod_manifest("short", duration="0.5s"), "default")
        wait_for(lambda: "used" in _states(service).values() or "idle" in _states(service).values())
        # The DaemonSet put a pod on the new node; it must not count as work.
        wait_for(
            lambda: any(
                p["spec"].get("nodeName", "").startswith("wn-")
                for p in sandbox.store.list("pods", "kube-system")[0]
            )
        )
        # ...but its requests are learned as per-node overhead for packing new nodes.
        # (learned once the daemon observes the pod on the node: a Ready node seen before it
        # arrived gave an overhead of zero)
        learned = service.daemon.ds_overhead.by_template
        overhead = wait_for(lambda: (o := learned.get("wn")) is not None and o.pods and o)
        assert (overhead.cpu_millis, overhead.pods) == (10, 1)
        wait_for(lambda: set(_states(service).values()) == {"off"}, timeout=30)
    finally:
        service.stop()


def test_state_survives_a_restart_without_duplicate_power_ons(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    raw = base_config(sandbox, tmp_path)
    raw["templates"][0]["boot_seconds"] = 3.0  # long enough to restart mid-boot
    cfg = config_from_dict(raw, source="test")
    service = Service(cfg).start()
    for i in range(5):
        sandbox.store.create("pods", pod_manifest(f"p{i}"), "default")
    wait_for(lambda: list(_states(service).values()).count("powering_on") == 2)
    service.stop()

    # The store alone says what was going on.
    store = Store(tmp_path / "clues.db")
    saved = {n: node.state.value for n, node in store.load_nodes().items()}
    store.close()
    assert sorted(saved.values()).count("powering_on") == 2

    service = Service(config_from_dict(raw, source="test")).start()
    try:
        assert list(_states(service).values()).count("powering_on") == 2
        wait_for(lambda: list(_states(service).values()).count("used") == 2, timeout=20)
        # Booting capacity absorbed the demand across the restart: still exactly two machines.
        assert len(_machines(sandbox)) == 2
        ons = [a for a in service.daemon.store.actions(limit=100) if a["kind"] == "power_on"]
        assert len(ons) == 2
    finally:
        service.stop()


def test_boot_that_never_joins_is_retried_then_given_up(sandbox: Sandbox, tmp_path: Path) -> None:
    raw = base_config(
        sandbox,
        tmp_path,
        boot_timeout=1.0,
        max_retries=2,
        retry_backoff=0.6,  # > shutdown_seconds: the clean-up power-off completes first
        power={"sim": {"kind": "sim", "url": sandbox.url, "failure_rate": 1.0}},
    )
    raw["templates"][0]["nodes"] = "wn-1"
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        sandbox.store.create("pods", pod_manifest("waiting"), "default")
        wait_for(
            lambda: (
                (n := service.daemon.control.status()["nodes"][0])["state"] == "on_error"
                and n["attempts"] >= 2
            ),
            timeout=20,
        )
        # Gave up: stays in error, no endless loop of power-ons, and the machine is not left on.
        ons_before = len(
            [a for a in service.daemon.store.actions(limit=100) if a["kind"] == "power_on"]
        )
        assert ons_before == 2
        wait_for(lambda: _machines(sandbox).get("wn-1") in (None, "off", "stopping"), timeout=10)
        service.daemon.run_once()
        assert service.daemon.control.status()["nodes"][0]["state"] == "on_error"
        assert "not Ready after" in service.daemon.control.status()["nodes"][0]["last_error"]
        # An operator reset makes it eligible again.
        service.daemon.control.node_op("resetstate", "wn-1")
        assert service.daemon.control.status()["nodes"][0]["state"] == "off"
        assert service.daemon.control.status()["nodes"][0]["attempts"] == 0
    finally:
        service.stop()


def test_operator_verbs(sandbox: Sandbox, tmp_path: Path) -> None:
    service = Service(
        config_from_dict(base_config(sandbox, tmp_path, idle_time=60), source="test")
    ).start()
    try:
        d = service.daemon
        assert d.control.node_op("poweron", "wn-3")["state"] == "powering_on"
        wait_for(lambda: _states(service)["wn-3"] == "idle")
        d.control.node_op("disable", "wn-1")
        assert not [n for n in d.control.status()["nodes"] if n["name"] == "wn-1"][0]["enabled"]
        # A disabled node is never chosen, even with demand.
        for i in range(5):
            sandbox.store.create("pods", pod_manifest(f"q{i}"), "default")
        wait_for(lambda: _states(service)["wn-2"] in ("powering_on", "idle", "used"))
        assert _states(service)["wn-1"] == "off"
        # Operator power-off of an idle node: drained, powered off, Node gone.
        d.control.node_op("enable", "wn-1")
        wait_for(
            lambda: all(
                p["status"].get("phase") == "Running"
                for p in sandbox.store.list("pods", "default")[0]
            )
        )
        # Operator power-off of a used node: its pods are evicted first, then it goes off.
        assert _states(service)["wn-3"] == "used"
        d.control.node_op("poweroff", "wn-3")
        wait_for(lambda: _states(service)["wn-3"] == "off", timeout=15)
        assert "wn-3" not in {n["metadata"]["name"] for n in sandbox.store.list("nodes")[0]}
        assert not [
            p
            for p in sandbox.store.list("pods", "default")[0]
            if p["spec"].get("nodeName") == "wn-3"
        ]
        # Verbs that make no sense in a state are refused with a reason.
        import pytest

        with pytest.raises(ValueError, match="only an off node"):
            d.control.node_op("poweron", "wn-2")
        with pytest.raises(KeyError):
            d.control.node_op("poweron", "nope")
    finally:
        service.stop()
