"""cluesd: observe -> snapshot -> plan -> act -> record, on every cluster event and on a tick.

The daemon owns the managed nodes' lifecycle state (persisted in the store) and
is the only writer of it: facts from observations, from the actuator's worker
threads and from operators all go through `_apply`. Planning is delegated to the
pure planner, I/O to the actuator; this module only wires them together.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from clues_py.clock import Clock, WallClock
from clues_py.config.load import Config
from clues_py.contracts import Backend, PowerManager
from clues_py.daemon.actuator import Actuator
from clues_py.daemon.bus import (
    ActionFinished,
    ActionStarted,
    Bus,
    PassFinished,
    PlanEvent,
    TransitionEvent,
)
from clues_py.daemon.control import Control
from clues_py.daemon.estimator import DemandRecorder
from clues_py.daemon.freshness import Freshness
from clues_py.daemon.learned import DaemonSetOverhead, TemplateHealth
from clues_py.daemon.passes import PassLog
from clues_py.daemon.pipeline import build_pipeline, build_plugins, runtime_update, timeouts
from clues_py.daemon.reconciler import Reconciler
from clues_py.daemon.recovery import IntentRecovery
from clues_py.daemon.state import LastPlan, NodeSide, recover_nodes
from clues_py.lifecycle import (
    Fact,
    FactKind,
    Transition,
    advance,
    retry_due,
)
from clues_py.model import (
    ON_STATES,
    Action,
    ActionKind,
    ClusterSnapshot,
    Demand,
    ManagedNode,
    NodeState,
    Plan,
)
from clues_py.planner import (
    plan,
)
from clues_py.store import Store

log = logging.getLogger("clues.daemon")

# Coalesce bursts of watch events (one pod batch = hundreds of events) into one pass.
DEBOUNCE_SECONDS = 0.05
# Ask a provider whether a node is off at most this often per node.
DESCRIBE_INTERVAL = 2.0


class Daemon:
    def __init__(
        self,
        cfg: Config,
        *,
        clock: Clock | None = None,
        backend: Backend | None = None,
        power: Mapping[str, PowerManager] | None = None,
        store: Store | None = None,
        extras: Mapping[str, Any] | None = None,
        bus: Bus | None = None,
        inline_actions: bool = False,
    ) -> None:
        """`inline_actions`: run power operations in the caller's thread (the simulator's
        determinism); the daemon proper uses the worker pool."""
        self.cfg = cfg
        self.bus = bus or Bus()
        self.clock = clock or WallClock()
        self.templates = {t.name: t for t in cfg.templates}
        self.backend, self.power = build_plugins(cfg, self.templates, extras, backend, power)
        self.store = store or Store(cfg.daemon.state_db)
        self.timeouts = timeouts(cfg)
        self.policies = self._make_policies(cfg)
        self._lock = threading.RLock()
        self._nodes: dict[str, ManagedNode] = recover_nodes(self.store, cfg, self.clock.now())
        self._side: dict[str, NodeSide] = {name: NodeSide() for name in self._nodes}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last = LastPlan()
        self._last_scale_up = float(self.store.get_meta("last_scale_up", "-inf") or "-inf")
        self.freshness = Freshness(self.backend, lambda: self.cfg.max_data_age)
        self.actuator = Actuator(
            backend=self.backend,
            power=self.power,
            templates=self.templates,
            store=self.store,
            report=self._report,
            now=self.clock.now,
            workers=cfg.daemon.workers,
            bus=self.bus,
            inline=inline_actions,
            wake=self.wake,
            too_old=self.freshness.too_old,
        )
        # Nodes stored as POWERING_ON/OFF: ask the provider before any timeout runs.
        self.recovery = IntentRecovery(self, self.managed_nodes())
        # demand key -> when this daemon first saw it pending (explain)
        self._first_seen: dict[str, float] = {}
        # demand key -> when it started waiting: its creation time, or first sight if that is
        # missing or later (clock skew); the reaction-time metric starts here.
        self._waiting_since: dict[str, float] = {}
        self.pass_log = PassLog()
        # Learned per template: DaemonSet overhead, power-on back-off.
        self.ds_overhead = DaemonSetOverhead()
        self.template_health = TemplateHealth(lambda: self.timeouts)
        self.bus.subscribe(self.template_health.on_event)
        # When work arrives for each template and when it needs more nodes (break-even).
        self.demand = DemandRecorder()
        self.bus.subscribe(self.demand.on_event)
        self._admits = {t.name: (t.label_map, t.taints) for t in cfg.templates}
        # Status, verbs and explain for the API, the CLI and the metrics exporter.
        self.control = Control(self)
        self.passes = 0
        # Leader election (HA) replaces this; a non-leader observes and plans but never acts.
        self.is_leader: Callable[[], bool] = lambda: True
        # (interval seconds, task(now), next due) run from the loop, e.g. reconciliation.
        self._periodic: list[list[Any]] = []
        # Store vs providers' list_owned() vs cluster, at start-up and every reconcile_interval.
        self.reconciler = Reconciler(self)
        self.add_periodic(cfg.daemon.tick, self.reconciler.maybe_run)

    # ------------------------------------------------------------------ state

    def _apply(self, name: str, fact: Fact, now: float | None = None) -> Transition | None:
        with self._lock:
            node = self._nodes.get(name)
            if node is None:
                return None
            now = self.clock.now() if now is None else now
            tr = advance(node, fact, now, self.timeouts)
            if fact.kind == FactKind.OBSERVED and tr.new != tr.old and self.actuator.calling(name):
                # The provider call of this node's action has not returned: its outcome is
                # recorded first; the pass after it returns (it wakes us) applies this.
                tr = Transition(node, node.state, node.state, "", changed=False)
            new = tr.node
            if fact.kind == FactKind.OBSERVED:
                new = new.with_(observed=fact.observation)
            if fact.kind == FactKind.PROVIDER_ON and fact.detail and new.provider_id != fact.detail:
                new = new.with_(provider_id=fact.detail)
                self.store.save_node(new)
            self._nodes[name] = new
            if tr.changed:
                self._close_stranded_action(name, tr, now)
                self.store.save_transition(new, tr.old, tr.new, tr.reason, now)
                if tr.old != tr.new:
                    log.info("%s: %s -> %s (%s)", name, tr.old, tr.new, tr.reason)
                self._after_transition(node, tr, now)
                self.bus.publish(TransitionEvent(now, new, tr.old, tr.new, tr.reason))
            return tr

    def _close_stranded_action(self, name: str, tr: Transition, now: float) -> None:
        """A drain the FSM stops (timeout, new work) ends its power-off action before the
        node moves on; the actuator's own report, if any, then changes nothing."""
        action_id = self._side[name].action_id
        if action_id is None or tr.old != NodeState.DRAINING or tr.new not in ON_STATES:
            return
        self._side[name].action_id = None
        error = f"drain stopped: {tr.reason}"
        if self.store.finish_action(action_id, "failed", error, at=now):
            node = tr.node
            self.bus.publish(
                ActionFinished(now, action_id, "power_off", name, node.template, False, error)
            )

    def _after_transition(self, before: ManagedNode, tr: Transition, now: float) -> None:
        side = self._side[before.name]
        if tr.old == NodeState.DRAINING and tr.new in ON_STATES:
            side.drain_started = False
            side.uncordon = not self.actuator.uncordon(before.name)  # busy: after the op
        if tr.new in (NodeState.DRAINING, NodeState.OFF):
            side.uncordon = False  # a new drain cordons; an off node's Node object is gone
        if tr.new == NodeState.ON_ERROR and tr.old != NodeState.ON_ERROR:
            side.cleaned_up = False
        if tr.new == NodeState.OFF:
            side.drain_started = False
            side.action_id = None

    # Read-only views and the one write path, for collaborators (simulator, reconciler).

    @property
    def state_lock(self) -> threading.RLock:
        """Hold it to decide and apply facts atomically against the node states."""
        return self._lock

    def managed_nodes(self) -> dict[str, ManagedNode]:
        with self._lock:
            return dict(self._nodes)

    @property
    def last_scale_up(self) -> float:
        return self._last_scale_up

    def template_backoff(self) -> dict[str, float]:
        """template -> time until which provider errors keep it out of scale-up."""
        return self.template_health.backoff_until()

    @property
    def last_plan(self) -> LastPlan:
        return self._last

    def pending_since(self) -> dict[str, float]:
        """demand key -> when this daemon first saw it pending."""
        with self._lock:
            return dict(self._first_seen)

    def apply_fact(self, name: str, fact: Fact, now: float | None = None) -> Transition | None:
        """Advance one node's lifecycle with `fact`, persist it and publish the transition."""
        return self._apply(name, fact, now)

    def _report(self, name: str, fact: Fact) -> Transition | None:
        """Facts from actuator workers; wake the loop so the next step follows at once."""
        tr = self._apply(name, fact)
        self._wake.set()
        return tr

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ one pass

    def run_once(self) -> Plan | None:
        t_pass = time.perf_counter()
        now = self.clock.now()
        if not self.freshness.pass_allowed():
            return None
        obs = self.backend.observe(now)
        with self._lock:
            for name in list(self._nodes):
                self._apply(name, Fact(FactKind.OBSERVED, observation=obs.nodes.get(name)), now)
                if not self.recovery.holds(name):
                    self._apply(name, Fact(FactKind.TICK), now)
            leader = self.is_leader()
            if leader:
                self._drive_in_progress(now)
            managed = set(self._nodes)
            nodes = {n: (node.template, obs.nodes.get(n)) for n, node in self._nodes.items()}
            self.demand.observe(now, nodes, obs.pending, self._admits)
            snapshot = ClusterSnapshot(
                now=now,
                nodes=tuple(self._nodes[n] for n in sorted(self._nodes)),
                templates=self.ds_overhead.net_templates(self._nodes, obs, self.templates),
                demand=Demand(obs.pending, obs.hidden, obs.queues, obs.local_queues, obs.kueue),
                unmanaged=tuple(
                    o
                    for n, o in sorted(obs.nodes.items())
                    if n not in managed and o.ready and not o.unschedulable
                ),
                last_scale_up=self._last_scale_up,
                template_backoff=self.template_health.backoff_until(),
                pdbs=obs.pdbs,
                demand_history=self.demand.history(),
            )
        t0 = time.perf_counter()
        result = plan(snapshot, self.policies)
        seconds = time.perf_counter() - t0
        with self._lock:  # pending: pods, and hidden work counted as demand (decision 0015)
            seen, since = self._first_seen, self._waiting_since
            created = {p.key: p.created for p in obs.pending}
            created.update(
                (h.key, h.since or h.created) for h in obs.hidden if h.key in result.counted
            )
            for key, c in created.items():
                if key not in seen:
                    seen[key] = now
                    since[key] = c if 0 < c <= now else now
            for key in set(seen) - created.keys():
                del seen[key]
                since.pop(key, None)
            seen_now = dict(seen)
        self.bus.publish(PlanEvent(now, snapshot, result, seconds, seen_now))
        started = self._execute(result, now) if leader else 0
        if leader:
            self.actuator.sync_scale_down_taints(result.scale_down_candidates, obs, managed)
        with self._lock:
            self._last = LastPlan(
                at=now,
                plan=result,
                pending=len(obs.pending),
                pending_cpu=sum(p.requests.cpu_millis for p in obs.pending),
                pending_memory=sum(p.requests.memory_bytes for p in obs.pending),
                hidden=sum(result.counted.values()),
            )
        self.passes += 1
        self._finish_pass(t_pass, "full", len(snapshot.nodes) + len(obs.pending), started)
        return result

    def _finish_pass(self, t_pass: float, kind: str, changed: int, started: int) -> None:
        seconds = time.perf_counter() - t_pass
        rec = self.pass_log.record(seconds, kind, changed, started)
        self.bus.publish(PassFinished(rec.at, seconds, kind, changed))

    def _drive_in_progress(self, now: float) -> None:
        """Keep multi-step operations moving: recovery, drains, power-off checks, clean-up."""
        self.recovery.step(self._nodes, now)
        for name, node in self._nodes.items():
            side = self._side[name]
            if self.actuator.busy(name) or self.recovery.holds(name):
                continue
            if side.uncordon and node.state in ON_STATES:
                side.uncordon = not self.actuator.uncordon(name)
            elif node.state == NodeState.DRAINING:
                self.actuator.drain_step(node, side.action_id, first=not side.drain_started)
                side.drain_started = True
            elif node.state == NodeState.POWERING_OFF:
                if now - side.last_describe >= DESCRIBE_INTERVAL:
                    side.last_describe = now
                    self.actuator.check_off(node)
            elif node.state == NodeState.ON_ERROR and not side.cleaned_up:
                side.cleaned_up = True
                self.actuator.cleanup_failed_boot(node)
            elif node.state == NodeState.OFF_ERROR and retry_due(node, now, self.timeouts):
                tr = self._apply(name, Fact(FactKind.POWER_OFF_SENT, "retrying power-off"), now)
                if tr is not None and tr.new == NodeState.POWERING_OFF:
                    self.actuator.power_off(self._nodes[name], None)

    def _execute(self, result: Plan, now: float) -> int:
        started = 0
        live = self.freshness.live()  # a drain starts only while every watch is up
        for action in result.actions:
            if (live or action.kind == ActionKind.POWER_ON) and not self.actuator.busy(action.node):
                started += self.start_action(action, now) is not None
        self.actuator.update_requests(result.requests)  # ProvisioningRequests (decision 0015)
        return started

    def start_action(self, action: Action, now: float) -> int | None:
        """Record `action`, move the node's FSM first (the intent, decision 0002), then hand
        the provider call to the actuator. None when the FSM refuses it in this state."""
        with self._lock:
            if action.node not in self._nodes:
                return None
            action_id = self.store.add_action(
                now, action.kind.value, action.node, action.template, action.reason, action.policy
            )
            self._side[action.node].action_id = action_id
            log.info("%s %s: %s", action.kind.value, action.node, action.reason)
            waits = [self._waiting_since[k] for k in action.pods if k in self._waiting_since]
            self.bus.publish(ActionStarted(now, action_id, action, min(waits, default=None)))
            if action.kind == ActionKind.POWER_ON:
                fact, wanted = FactKind.POWER_ON_SENT, NodeState.POWERING_ON
            else:
                fact, wanted = FactKind.DRAIN_STARTED, NodeState.DRAINING
            tr = self._apply(action.node, Fact(fact, action.reason), now)
            if tr is None or tr.new != wanted:
                self.store.finish_action(action_id, "skipped", "not allowed in this state", now)
                return None
            node = self._nodes[action.node]
            if action.kind == ActionKind.POWER_ON:
                self._last_scale_up = now
                self.store.set_meta("last_scale_up", repr(now))
                self.actuator.power_on(node, action_id)
            else:
                self._side[action.node].drain_started = True
                self.actuator.drain_step(node, action_id, first=True)
            return action_id

    # ------------------------------------------------------------------ reload

    def _make_policies(self, cfg: Config) -> Any:
        return build_pipeline(cfg)

    def reload(self, cfg: Config) -> list[str]:
        """Apply what can change at runtime (RUNTIME_KEYS: planner settings and pipeline,
        timeouts, tick, log level) from `cfg`; raises ConfigError if the pipeline is invalid.

        Returns the config keys that differ but only take effect after a restart; those
        keep their running values, so `self.cfg` always describes what is in force.
        """
        new, restart, changed = runtime_update(self.cfg, cfg)
        policies = self._make_policies(new)
        with self._lock:
            self.cfg = new
            self.timeouts = timeouts(new)
            self.policies = policies
        log.info(
            "configuration reloaded from %s; changed: %s",
            cfg.source,
            ", ".join(changed) or "nothing",
        )
        self.wake()
        return restart

    # ------------------------------------------------------------------ loop

    def add_periodic(self, interval: float, task: Callable[[float], None]) -> None:
        """Run `task(now)` from the loop every `interval` seconds (first run at start-up)."""
        self._periodic.append([interval, task, float("-inf")])

    def _run_periodic(self) -> None:
        now = self.clock.now()
        for entry in self._periodic:
            interval, task, due = entry
            if now >= due:
                entry[2] = now + interval
                try:
                    task(now)
                except Exception:
                    log.exception("periodic task %r failed", task)

    def start(self) -> None:
        self.backend.start(self.wake)

    def serve_forever(self) -> None:
        """Run passes until `stop()`; a watch event wakes the loop, a tick bounds the wait."""
        while not self._stop.is_set():
            # Read every time: a config reload (SIGHUP) may change it. A hold ending
            # (plan.revisit_at) is planned at its time, not at the next tick.
            due = self._last.plan.revisit_at - self.clock.now()
            woke = self._wake.wait(timeout=max(0.0, min(self.cfg.daemon.tick, due)))
            if self._stop.is_set():
                break
            if woke:
                time.sleep(DEBOUNCE_SECONDS)
            self._wake.clear()
            try:
                self._run_periodic()
                self.run_once()
            except Exception:
                log.exception("planning pass failed; retrying on the next event or tick")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def close(self) -> None:
        """Finish in-flight operations, then release everything (SIGTERM path)."""
        self.actuator.shutdown(wait=True)
        self.backend.stop()
        for pm in self.power.values():
            try:
                pm.close()
            except Exception:
                log.exception("closing power manager failed")
        self.store.close()
