"""clues_py.metrics against a stub daemon: bus events in, Prometheus exposition out.

The stub has what the exporter reads of a real Daemon (bus, templates, status(),
is_leader); events are real bus events built from real model values, and the
exposition is parsed back with prometheus_client's own parser. No sleeps: time is a
VirtualClock.
"""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from clues_py import __version__
from clues_py.clock import VirtualClock
from clues_py.daemon.bus import (
    ActionCalled,
    ActionFinished,
    ActionStarted,
    Bus,
    PassFinished,
    PlanEvent,
    TransitionEvent,
)
from clues_py.metrics import DaemonMetrics, MetricsServer
from clues_py.model import Action, ActionKind, ManagedNode, NodeState, Plan
from tests.factories import make_hidden, make_pod, make_snapshot, make_template


class StubDaemon:
    def __init__(self, nodes: dict[str, tuple[str, NodeState]]) -> None:
        self.bus = Bus()
        self.templates = {"wn": make_template("wn"), "gpu": make_template("gpu")}
        self.nodes = nodes
        self.leader = True
        self.is_leader = lambda: self.leader
        self.pending = {"pods": 0, "cpu": 0, "memory": 0, "hidden": 0}
        self.unplaceable: dict[str, str] = {}
        self.control = self  # the real daemon's control surface is a separate object

    def status(self) -> dict[str, Any]:
        return {
            "nodes": [
                {"name": n, "template": t, "state": s.value} for n, (t, s) in self.nodes.items()
            ],
            "pending": self.pending,
            "unplaceable": self.unplaceable,
            "synced": True,
        }

    def move(self, at: float, name: str, new: NodeState, reason: str = "test") -> None:
        template, old = self.nodes[name]
        self.nodes[name] = (template, new)
        node = ManagedNode(name=name, template=template, state=new, since=at)
        self.bus.publish(TransitionEvent(at, node, old, new, reason))


def samples(m: DaemonMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(m.exposition().decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m: DaemonMetrics, name: str, **labels: str) -> float:
    return samples(m)[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(1000.0)


@pytest.fixture
def daemon() -> StubDaemon:
    return StubDaemon(
        {
            "wn-1": ("wn", NodeState.OFF),
            "wn-2": ("wn", NodeState.OFF),
            "gpu-1": ("gpu", NodeState.IDLE),
        }
    )


def test_nodes_by_state_and_template_are_read_at_scrape_time(
    daemon: StubDaemon, clock: VirtualClock
) -> None:
    m = DaemonMetrics(daemon, clock.now)
    assert value(m, "clues_nodes", state="off", template="wn") == 2
    assert value(m, "clues_nodes", state="idle", template="gpu") == 1
    # Every state x template exists (zero-filled), so graphs have no gaps.
    assert value(m, "clues_nodes", state="draining", template="wn") == 0
    daemon.nodes["wn-1"] = ("wn", NodeState.USED)
    assert value(m, "clues_nodes", state="off", template="wn") == 1
    assert value(m, "clues_nodes", state="used", template="wn") == 1
    names = {k[0] for k in samples(m)}
    assert len([k for k in samples(m) if k[0] == "clues_nodes"]) == len(NodeState) * 2
    assert {"clues_build_info", "clues_leader", "clues_backend_synced"} <= names
    assert value(m, "clues_build_info", version=__version__) == 1


def test_power_actions_boot_and_reaction_time(daemon: StubDaemon, clock: VirtualClock) -> None:
    m = DaemonMetrics(daemon, clock.now)
    assert value(m, "clues_power_on_total", template="wn", result="ok") == 0
    pods = (make_pod("a"), make_pod("b"))
    snap = make_snapshot(pending=list(pods), now=1000.0)
    daemon.bus.publish(
        PlanEvent(1003.0, snap, Plan(), 0.002, {"default/a": 1000.0, "default/b": 1001.0})
    )
    action = Action(ActionKind.POWER_ON, "wn-1", "wn", "2 pending pods", "scale_up", ("default/a",))
    # Reaction runs from when the demand started waiting (pod created at 1000.0) to the call.
    daemon.bus.publish(ActionStarted(1003.0, 1, action, demand_since=1000.0))
    daemon.move(1003.0, "wn-1", NodeState.POWERING_ON)
    daemon.bus.publish(ActionCalled(1003.5, 1, "power_on", "wn-1", "wn"))
    daemon.bus.publish(ActionFinished(1004.0, 1, "power_on", "wn-1", "wn", True, seconds=0.5))
    daemon.move(1063.0, "wn-1", NodeState.IDLE)
    assert value(m, "clues_power_on_total", template="wn", result="ok") == 1
    assert value(m, "clues_power_on_total", template="wn", result="failed") == 0
    assert value(m, "clues_scale_up_reaction_seconds_count") == 1
    assert value(m, "clues_scale_up_reaction_seconds_sum") == pytest.approx(3.5)
    assert value(m, "clues_boot_duration_seconds_count", template="wn") == 1
    assert value(m, "clues_boot_duration_seconds_sum", template="wn") == pytest.approx(60.0)
    assert value(m, "clues_boot_duration_seconds_bucket", template="wn", le="45.0") == 0
    assert value(m, "clues_boot_duration_seconds_bucket", template="wn", le="60.0") == 1
    assert value(m, "clues_plan_duration_seconds_count") == 1
    assert value(m, "clues_power_call_duration_seconds_sum", kind="power_on") == 0.5
    # A boot for no demand (operator, keep_free) has no reaction time.
    operator = Action(ActionKind.POWER_ON, "wn-2", "wn", "operator request", "operator")
    daemon.bus.publish(ActionStarted(1100.0, 2, operator))
    daemon.bus.publish(ActionCalled(1100.5, 2, "power_on", "wn-2", "wn"))
    assert value(m, "clues_scale_up_reaction_seconds_count") == 1
    assert value(m, "clues_node_transitions_total", from_state="off", to_state="powering_on") == 1


def test_failures_count_as_errors_by_kind(daemon: StubDaemon, clock: VirtualClock) -> None:
    m = DaemonMetrics(daemon, clock.now)
    daemon.move(10.0, "wn-1", NodeState.POWERING_ON)
    daemon.bus.publish(ActionFinished(11.0, 1, "power_on", "wn-1", "wn", False, "quota", 1.0))
    daemon.move(11.0, "wn-1", NodeState.ON_ERROR, "power-on failed: quota")
    daemon.move(12.0, "wn-2", NodeState.POWERING_ON)
    daemon.move(700.0, "wn-2", NodeState.ON_ERROR, "boot timeout: not Ready after 600 s")
    daemon.move(800.0, "gpu-1", NodeState.UNKNOWN, "NotReady")
    daemon.bus.publish(ActionFinished(801.0, None, "cleanup", "wn-2", "wn", False, "x"))
    assert value(m, "clues_power_on_total", template="wn", result="failed") == 1
    assert value(m, "clues_errors_total", kind="power_on_failed") == 1
    assert value(m, "clues_errors_total", kind="boot_timeout") == 1
    assert value(m, "clues_errors_total", kind="node_lost") == 1
    assert value(m, "clues_errors_total", kind="other") == 1
    assert value(m, "clues_errors_total", kind="power_off_failed") == 0
    # A failed boot is not a boot: nothing observed.
    assert value(m, "clues_boot_duration_seconds_count", template="wn") == 0


def test_node_seconds_powered_by_template(daemon: StubDaemon, clock: VirtualClock) -> None:
    m = DaemonMetrics(daemon, clock.now)  # gpu-1 is on since the exporter started (t=1000)
    clock.advance(10)
    daemon.move(1010.0, "wn-1", NodeState.POWERING_ON)
    clock.advance(30)  # 1040
    daemon.move(1040.0, "wn-1", NodeState.IDLE)
    clock.advance(60)  # 1100
    assert value(m, "clues_node_powered_seconds_total", template="wn") == pytest.approx(90.0)
    assert value(m, "clues_node_powered_seconds_total", template="gpu") == pytest.approx(100.0)
    daemon.move(1100.0, "wn-1", NodeState.DRAINING)
    daemon.move(1105.0, "wn-1", NodeState.POWERING_OFF)
    daemon.move(1120.0, "wn-1", NodeState.OFF)
    clock.advance(500)  # off nodes add nothing
    assert value(m, "clues_node_powered_seconds_total", template="wn") == pytest.approx(110.0)


def test_demand_gauges_pending_and_hidden(daemon: StubDaemon, clock: VirtualClock) -> None:
    m = DaemonMetrics(daemon, clock.now)
    daemon.pending = {"pods": 3, "cpu": 2500, "memory": 3 * 2**30, "hidden": 8}
    daemon.unplaceable = {"default/huge": "fits no template"}
    hidden = [make_hidden("wl-a", 8, cpu="500m", mem="1Gi"), make_hidden("paused", 4, kind="Job")]
    snap = make_snapshot(hidden=hidden, now=1000.0)
    # Only what the planner counted is hidden demand (the paused Job is not).
    plan = Plan(counted={"workload:default/wl-a": 8}, held={"job:default/paused": "paused"})
    daemon.bus.publish(PlanEvent(1000.0, snap, plan, 0.001, {}))
    assert value(m, "clues_demand_pods", source="pending") == 3
    assert value(m, "clues_demand_cpu_cores", source="pending") == 2.5
    assert value(m, "clues_demand_memory_bytes", source="pending") == 3 * 2**30
    assert value(m, "clues_demand_pods", source="hidden") == 8
    assert value(m, "clues_demand_cpu_cores", source="hidden") == 4.0
    assert value(m, "clues_demand_memory_bytes", source="hidden") == 8 * 2**30
    assert value(m, "clues_unplaceable_demands") == 1
    assert value(m, "clues_waiting_demands") == 0
    daemon.leader = False
    assert value(m, "clues_leader") == 0


def test_registries_are_per_daemon_and_close_unsubscribes(clock: VirtualClock) -> None:
    a, b = StubDaemon({"wn-1": ("wn", NodeState.OFF)}), StubDaemon({"wn-1": ("wn", NodeState.OFF)})
    ma, mb = DaemonMetrics(a, clock.now), DaemonMetrics(b, clock.now)
    a.bus.publish(ActionFinished(1.0, 1, "power_on", "wn-1", "wn", True))
    assert value(ma, "clues_power_on_total", template="wn", result="ok") == 1
    assert value(mb, "clues_power_on_total", template="wn", result="ok") == 0
    ma.close()
    a.bus.publish(ActionFinished(2.0, 2, "power_on", "wn-1", "wn", True))
    assert value(ma, "clues_power_on_total", template="wn", result="ok") == 1


def test_server_serves_the_registry_on_loopback(daemon: StubDaemon, clock: VirtualClock) -> None:
    m = DaemonMetrics(daemon, clock.now)
    server = MetricsServer(m, "127.0.0.1:0").start()
    try:
        host, port = server.address.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        with urllib.request.urlopen(f"http://{server.address}/metrics", timeout=5) as resp:
            body = resp.read().decode()
            assert resp.headers["Content-Type"].startswith("text/plain")
        assert 'clues_nodes{state="off",template="wn"} 2.0' in body
    finally:
        server.stop()


def test_metrics_listen_config_key() -> None:
    from clues_py.config.load import ConfigError, parse_config

    assert parse_config("{}").daemon.metrics_listen == "127.0.0.1:9484"
    assert parse_config("daemon: {metrics_listen: null}").daemon.metrics_listen is None
    assert parse_config("daemon: {metrics_listen: '[::1]:0'}").daemon.metrics_listen == "[::1]:0"
    with pytest.raises(ConfigError) as err:
        parse_config("daemon:\n  metrics_listen: unix:/run/x.sock\n", "c.yaml")
    assert "c.yaml:2:19: daemon.metrics_listen: not a TCP listen address" in str(err.value)


def test_pass_duration_by_kind(daemon: StubDaemon, clock: VirtualClock) -> None:
    m = DaemonMetrics(daemon, clock.now)
    assert value(m, "clues_pass_duration_seconds_count", kind="incremental") == 0
    daemon.bus.publish(PassFinished(1000.0, 0.25, "full", 5000))
    daemon.bus.publish(PassFinished(1001.0, 0.004, "incremental", 1))
    daemon.bus.publish(PassFinished(1002.0, 0.006, "incremental", 2))
    assert value(m, "clues_pass_duration_seconds_count", kind="full") == 1
    assert value(m, "clues_pass_duration_seconds_sum", kind="full") == pytest.approx(0.25)
    assert value(m, "clues_pass_duration_seconds_count", kind="incremental") == 2
    assert value(m, "clues_pass_duration_seconds_bucket", kind="incremental", le="0.005") == 1
