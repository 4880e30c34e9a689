"""Prometheus metrics for cluesd: a bus listener plus a scrape-time collector, and its HTTP listener.

`DaemonMetrics` owns one `CollectorRegistry` per daemon (never the process-global one,
so tests and simulations can run several daemons side by side). Two sources feed it:

* bus events (`clues_py.daemon.bus`), for everything that happens between scrapes: power
  actions and their results, boot, reaction and planning durations, errors, and the
  node-seconds each template has been powered;
* `daemon.control.status()` read at scrape time, for what *is*: nodes by state, pending
  demand, leader status.

`MetricsServer` serves `/metrics` on its own TCP listener (`daemon.metrics_listen`):
Prometheus cannot scrape the API's unix socket, and keeping /metrics off the API port
means it never needs the API token. Dashboards and alert rules that read these names
live in etc/grafana and etc/prometheus; docs/operations.md lists every metric.
Label values are bounded: node states, template names from the config, action kinds
and results, and a fixed set of error kinds (never node or pod names).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_wsgi_server
from prometheus_client.registry import Collector

from clues_py import __version__
from clues_py.daemon.bus import (
    ActionCalled,
    ActionFinished,
    ActionStarted,
    Bus,
    PassFinished,
    PlanEvent,
    TransitionEvent,
)
from clues_py.model import ActionKind, NodeState, NodeTemplate

log = logging.getLogger("clues.metrics")

# A node costs power (and money) in every state but these two: OFF is off, and an
# ON_ERROR node has been (or is being) cleaned up by a power-off.
UNPOWERED = frozenset({NodeState.OFF, NodeState.ON_ERROR})
RESULTS = ("ok", "failed")
ERROR_KINDS = (
    "power_on_failed",
    "power_off_failed",
    "boot_timeout",
    "shutdown_timeout",
    "node_lost",
    "other",
)
# Cloud VMs boot in 30 s..5 min, bare metal over IPMI up to ~15 min; the sandbox in a second.
BOOT_BUCKETS = (1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800)
REACTION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
PLAN_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
CALL_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class StatusSource(Protocol):
    def status(self) -> dict[str, Any]: ...


class DaemonLike(Protocol):
    """What the exporter reads of `clues_py.daemon.daemon.Daemon` (a stub in unit tests)."""

    bus: Bus
    templates: dict[str, NodeTemplate]
    is_leader: Callable[[], bool]

    @property
    def control(self) -> StatusSource: ...


class DaemonMetrics:
    """All clues_* metrics of one daemon; `close()` unsubscribes from its bus."""

    def __init__(self, daemon: DaemonLike, now: Callable[[], float]) -> None:
        self._daemon = daemon
        self._now = now
        self._lock = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.power_on = Counter(
            "clues_power_on",
            "Power-on calls to a power manager, by template and result (ok, failed).",
            ["template", "result"],
            registry=r,
        )
        self.power_off = Counter(
            "clues_power_off",
            "Power-off operations (drain + provider call), by template and result (ok, failed).",
            ["template", "result"],
            registry=r,
        )
        self.errors = Counter(
            "clues_errors",
            "Failures by kind: " + ", ".join(ERROR_KINDS) + ".",
            ["kind"],
            registry=r,
        )
        self.transitions = Counter(
            "clues_node_transitions",
            "Lifecycle state changes of managed nodes.",
            ["from_state", "to_state"],
            registry=r,
        )
        self.boot = Histogram(
            "clues_boot_duration_seconds",
            "Time from power-on request until the node is Ready in the cluster.",
            ["template"],
            buckets=BOOT_BUCKETS,
            registry=r,
        )
        self.reaction = Histogram(
            "clues_scale_up_reaction_seconds",
            "Time from the creation of pending demand (its creationTimestamp, or first sight "
            "when that is missing or later) until the power-on call for it was made.",
            buckets=REACTION_BUCKETS,
            registry=r,
        )
        self.plan_duration = Histogram(
            "clues_plan_duration_seconds",
            "Wall time of plan() alone in one pass (no I/O); see clues_pass_duration_seconds.",
            buckets=PLAN_BUCKETS,
            registry=r,
        )
        self.pass_duration = Histogram(
            "clues_pass_duration_seconds",
            "Wall time of one whole pass of the loop (observe, lifecycle, plan, act, record), "
            "by kind: full (everything re-planned) or incremental (only what changed).",
            ["kind"],
            buckets=PLAN_BUCKETS,
            registry=r,
        )
        self.call_duration = Histogram(
            "clues_power_call_duration_seconds",
            "Time a power manager call took, by action kind.",
            ["kind"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        # Series that exist before the first event, so rate()/increase() see the first one.
        for t in daemon.templates:
            for result in RESULTS:
                self.power_on.labels(t, result)
                self.power_off.labels(t, result)
            self.boot.labels(t)
        for kind in ERROR_KINDS:
            self.errors.labels(kind)
        for kind in (ActionKind.POWER_ON.value, ActionKind.POWER_OFF.value):
            self.call_duration.labels(kind)
        for kind in ("full", "incremental"):
            self.pass_duration.labels(kind)

        self._boot_started: dict[str, float] = {}  # node -> when it entered POWERING_ON
        # power-on action id -> when its demand started waiting (until its call is made)
        self._waiting: dict[int, float] = {}
        self._hidden = (0, 0.0, 0.0)  # pods, cpu cores, memory bytes (last PlanEvent)
        # Powered node-seconds: closed intervals per template + open ones per node.
        self._powered_total: dict[str, float] = dict.fromkeys(daemon.templates, 0.0)
        self._powered_since: dict[str, tuple[str, float]] = {}
        self._powered_emitted: dict[str, float] = {}
        start = now()
        for n in daemon.control.status()["nodes"]:
            if NodeState(n["state"]) not in UNPOWERED:
                self._powered_since[n["name"]] = (n["template"], start)
            if n["state"] == NodeState.POWERING_ON:
                self._boot_started[n["name"]] = start

        self.registry.register(_StatusCollector(self))
        self._unsubscribe = daemon.bus.subscribe(self.on_event)

    def close(self) -> None:
        self._unsubscribe()

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)

    # ------------------------------------------------------------------ events

    def on_event(self, event: object) -> None:
        # Listeners run in the publisher's thread: the loop and actuator workers.
        with self._lock:
            if isinstance(event, TransitionEvent):
                self._on_transition(event)
            elif isinstance(event, ActionStarted):
                self._on_started(event)
            elif isinstance(event, ActionCalled):
                self._on_called(event)
            elif isinstance(event, PassFinished):
                self.pass_duration.labels(event.kind).observe(event.seconds)
            elif isinstance(event, ActionFinished):
                self._on_finished(event)
            elif isinstance(event, PlanEvent):
                self._on_plan(event)

    def _on_transition(self, e: TransitionEvent) -> None:
        name, template = e.node.name, e.node.template
        if e.old != e.new:
            self.transitions.labels(e.old.value, e.new.value).inc()
        if e.new == NodeState.POWERING_ON and e.old != NodeState.POWERING_ON:
            self._boot_started[name] = e.at
        elif e.old == NodeState.POWERING_ON and e.new != NodeState.POWERING_ON:
            started = self._boot_started.pop(name, None)
            if started is not None and e.new in (NodeState.IDLE, NodeState.USED):
                self.boot.labels(template).observe(max(0.0, e.at - started))
        if e.old != e.new:
            if e.new == NodeState.ON_ERROR and e.reason.startswith("boot timeout"):
                self.errors.labels("boot_timeout").inc()
            elif e.new == NodeState.OFF_ERROR and e.reason.startswith("shutdown timeout"):
                self.errors.labels("shutdown_timeout").inc()
            elif e.new == NodeState.UNKNOWN:
                self.errors.labels("node_lost").inc()
        was = e.old not in UNPOWERED
        now_powered = e.new not in UNPOWERED
        if was and not now_powered:
            tpl, since = self._powered_since.pop(name, (template, e.at))
            self._powered_total[tpl] = self._powered_total.get(tpl, 0.0) + max(0.0, e.at - since)
        elif now_powered and name not in self._powered_since:
            self._powered_since[name] = (template, e.at)

    def _on_started(self, e: ActionStarted) -> None:
        if e.action.kind == ActionKind.POWER_ON and e.demand_since is not None:
            self._waiting[e.action_id] = e.demand_since

    def _on_called(self, e: ActionCalled) -> None:
        since = self._waiting.pop(e.action_id, None) if e.action_id is not None else None
        if since is not None:
            self.reaction.observe(max(0.0, e.at - since))

    def _on_finished(self, e: ActionFinished) -> None:
        if e.action_id is not None:
            self._waiting.pop(e.action_id, None)  # vetoed before its call: no reaction
        result = "ok" if e.ok else "failed"
        counter = {"power_on": self.power_on, "power_off": self.power_off}.get(e.kind)
        if counter is None:
            if not e.ok:
                self.errors.labels("other").inc()
            return
        counter.labels(e.template, result).inc()
        if e.seconds > 0 or e.ok:
            self.call_duration.labels(e.kind).observe(e.seconds)
        if not e.ok:
            self.errors.labels(f"{e.kind}_failed").inc()

    def _on_plan(self, e: PlanEvent) -> None:
        self.plan_duration.observe(e.seconds)
        # Hidden work the planner counted as demand (decision 0015), with what each pod asks.
        per_pod = {h.key: h.per_pod for h in e.snapshot.demand.hidden}
        counted = [(n, per_pod[k]) for k, n in e.plan.counted.items() if k in per_pod]
        self._hidden = (
            sum(n for n, _ in counted),
            sum(n * r.cpu_millis for n, r in counted) / 1000.0,
            float(sum(n * r.memory_bytes for n, r in counted)),
        )

    # ------------------------------------------------------------------ scrape

    def powered_seconds(self) -> dict[str, float]:
        """Node-seconds powered per template so far; never decreases between calls."""
        now = self._now()
        with self._lock:
            out = dict(self._powered_total)
            for tpl, since in self._powered_since.values():
                out[tpl] = out.get(tpl, 0.0) + max(0.0, now - since)
            for tpl, v in out.items():
                # A wall clock stepped backwards must not make a counter go down.
                out[tpl] = self._powered_emitted[tpl] = max(v, self._powered_emitted.get(tpl, 0.0))
            return out

    def hidden_demand(self) -> tuple[int, float, float]:
        with self._lock:
            return self._hidden


class _StatusCollector(Collector):
    """Gauges read from `daemon.control.status()` when Prometheus scrapes."""

    def __init__(self, metrics: DaemonMetrics) -> None:
        self._m = metrics

    def describe(self) -> Iterable[Metric]:
        # Names only: saves a status() call when the collector is registered.
        return list(self._families({"nodes": [], "pending": {}, "unplaceable": {}}, False))

    def collect(self) -> Iterable[Metric]:
        d = self._m._daemon
        try:
            status = d.control.status()
            leader = bool(d.is_leader())
        except Exception:
            log.exception("reading daemon status for /metrics failed")
            return []
        return list(self._families(status, leader))

    def _families(self, status: dict[str, Any], leader: bool) -> Iterator[Metric]:
        templates = list(self._m._daemon.templates)
        nodes = GaugeMetricFamily(
            "clues_nodes",
            "Managed nodes by lifecycle state and template.",
            labels=["state", "template"],
        )
        counts = {(s.value, t): 0 for s in NodeState for t in templates}
        for n in status["nodes"]:
            key = (n["state"], n["template"])
            counts[key] = counts.get(key, 0) + 1
        for (state, tpl), v in sorted(counts.items()):
            nodes.add_metric([state, tpl], v)
        yield nodes

        pending = status["pending"]
        h_pods, h_cpu, h_mem = self._m.hidden_demand()
        demand = [
            ("clues_demand_pods", "Pods waiting for capacity", pending.get("pods", 0), h_pods),
            (
                "clues_demand_cpu_cores",
                "CPU requested by demand waiting for capacity",
                pending.get("cpu", 0) / 1000.0,
                h_cpu,
            ),
            (
                "clues_demand_memory_bytes",
                "Memory requested by demand waiting for capacity",
                float(pending.get("memory", 0)),
                h_mem,
            ),
        ]
        for name, doc, pending_v, hidden_v in demand:
            g = GaugeMetricFamily(
                name,
                doc + " (source=pending: Pending pods; hidden: suspended Jobs, queued workloads).",
                labels=["source"],
            )
            g.add_metric(["pending"], pending_v)
            g.add_metric(["hidden"], hidden_v)
            yield g
        yield GaugeMetricFamily(
            "clues_unplaceable_demands",
            "Pending pods or hidden demands that no template can host.",
            value=len(status["unplaceable"]),
        )
        yield GaugeMetricFamily(
            "clues_waiting_demands",
            "Pending pods / hidden demands already covered (free room, booting nodes, grace).",
            value=len(status.get("waiting", {})),
        )
        powered = CounterMetricFamily(
            "clues_node_powered_seconds",
            "Node-seconds spent powered (any state but off and on_error), by template.",
            labels=["template"],
        )
        for tpl, seconds in sorted(self._m.powered_seconds().items()):
            powered.add_metric([tpl], seconds)
        yield powered
        yield GaugeMetricFamily(
            "clues_leader", "1 if this daemon is the leader (acts), 0 if it only observes.",
            value=1 if leader else 0,
        )  # fmt: skip
        synced = GaugeMetricFamily(
            "clues_backend_synced", "1 once the backend's caches reflect the cluster."
        )
        synced.add_metric([], 1 if status.get("synced") else 0)
        yield synced
        info = GaugeMetricFamily(
            "clues_build_info", "Always 1; labels carry the running version.", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info


class MetricsServer:
    """`/metrics` over HTTP on HOST:PORT (port 0 picks a free one; see `.address`)."""

    def __init__(self, metrics: DaemonMetrics, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        self._host = host.strip("[]")
        self._port = int(port)
        self._metrics = metrics
        self._httpd: Any = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        if self._httpd is None:
            return f"{self._host}:{self._port}"
        host, port = self._httpd.server_address[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def start(self) -> MetricsServer:
        self._httpd, self._thread = start_wsgi_server(
            self._port, self._host, registry=self._metrics.registry
        )
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
