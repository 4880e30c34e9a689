"""Kubernetes Events on pods and nodes and the `clues-status` ConfigMap, written by a real
cluesd (in-process `Service`) into the sandbox API server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from plugins.backends.k8s_events import EventRecord, EventRecorder
from tests.e2e.daemon.conftest import base_config, pod_manifest
from tests.tools import wait_for

pytestmark = pytest.mark.e2e


def _events(sandbox: Sandbox, **match: str) -> list[dict[str, Any]]:
    out = []
    for ns in ("default", "kube-system"):
        for ev in sandbox.store.list("events", ns)[0]:
            obj = ev["involvedObject"]
            # kind/name/namespace are the involved object's; anything else the event's.
            if all((obj if k in obj else ev).get(k) == v for k, v in match.items()):
                out.append(ev)
    return out


def test_scale_up_events_on_pods_and_nodes_and_status_configmap(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    raw = base_config(sandbox, tmp_path)
    raw["daemon"]["metrics_listen"] = None
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        sandbox.store.create("pods", pod_manifest("p0", duration="0.5s"), "default")
        sandbox.store.create("pods", pod_manifest("huge", cpu="16"), "default")
        trig = wait_for(lambda: _events(sandbox, name="p0", reason="TriggeredScaleUp"))
        assert trig[0]["involvedObject"]["kind"] == "Pod"
        assert trig[0]["involvedObject"]["namespace"] == "default"
        assert trig[0]["source"]["component"] == "clues-py"
        assert trig[0]["message"] == "pod triggered scale-up: wn-1 (template wn)"
        assert trig[0]["count"] == 1 and trig[0]["firstTimestamp"] and trig[0]["lastTimestamp"]

        on = wait_for(lambda: _events(sandbox, kind="Node", name="wn-1", reason="PoweringOn"))
        assert on[0]["metadata"]["namespace"] == "default"
        assert on[0]["type"] == "Normal"

        # The huge pod is reported on every planning pass but gets one event, not one per pass.
        nt = wait_for(lambda: _events(sandbox, name="huge", reason="NotTriggerScaleUp"))
        assert "template" in nt[0]["message"] and nt[0]["message"].startswith(
            "pod didn't trigger scale-up: "
        )
        # ...and the idle node is powered off later (passes in between), with its own events.
        wait_for(lambda: _events(sandbox, name="wn-1", reason="PoweringOff"), timeout=30)
        assert len(_events(sandbox, name="huge", reason="NotTriggerScaleUp")) == 1
        # p0 triggered a scale-up (then waited for the boot): it never gets NotTriggerScaleUp.
        assert _events(sandbox, name="p0", reason="NotTriggerScaleUp") == []

        cm = wait_for(lambda: sandbox.store.get("configmaps", "clues-status", "kube-system"))
        assert "managed nodes" in cm["data"]["status"]
        summary = json.loads(cm["data"]["summary.json"])
        assert summary["nodes"]["managed"] == 4
        assert cm["metadata"]["annotations"]["clues-py.io/last-updated"].endswith("Z")
        assert service.recorder is not None and service.recorder.failed == 0
    finally:
        service.stop()


def test_repeated_event_is_aggregated_with_count_and_last_timestamp(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    kubeconfig = sandbox.write_kubeconfig(str(tmp_path / "kubeconfig"))
    api = k8s_config.new_client_from_config(config_file=kubeconfig)
    clock = iter([1_000_000.0, 1_000_060.0, 1_000_120.0, 1_000_180.0])
    rec = EventRecorder(api, wall=lambda: next(clock))
    try:
        failed = EventRecord("Node", "", "wn-2", "PowerOnFailed", "quota exceeded", "Warning")
        rec.write_event(failed)
        rec.write_event(failed)
        rec.write_event(failed)
        rec.write_event(EventRecord("Node", "", "wn-2", "PowerOnFailed", "other", "Warning"))
        events = _events(sandbox, name="wn-2", reason="PowerOnFailed")
        by_msg = {e["message"]: e for e in events}
        assert set(by_msg) == {"quota exceeded", "other"}
        agg = by_msg["quota exceeded"]
        assert agg["count"] == 3
        assert agg["firstTimestamp"] == "1970-01-12T13:46:40Z"
        assert agg["lastTimestamp"] == "1970-01-12T13:48:40Z"
        assert agg["type"] == "Warning" and agg["reportingComponent"] == "clues-py"
        # An aggregated event that expired (deleted) is written anew rather than failing.
        sandbox.store.delete("events", agg["metadata"]["name"], "default")
        rec._wall = lambda: 1_000_240.0
        rec.write_event(failed)
        again = [e for e in _events(sandbox, name="wn-2") if e["message"] == "quota exceeded"]
        assert [e["count"] for e in again] == [1]
    finally:
        api.close()


def test_a_slow_or_dead_api_never_blocks_the_bus(tmp_path: Path) -> None:
    """Nothing listens on the server address: writes fail in the writer thread, the bus
    listener only queues (and drops when full)."""
    cfg = k8s.Configuration()
    cfg.host = "http://127.0.0.1:1"
    rec = EventRecorder(k8s.ApiClient(cfg), max_queue=5)
    for i in range(50):
        rec._put(EventRecord("Node", "", f"n{i}", "PoweringOn", "x"))
    assert rec.dropped == 45
    rec.start()
    wait_for(lambda: rec.failed == 5)
    rec.stop()
    assert rec.written == 0
