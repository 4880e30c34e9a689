"""cluesd: observe -> snapshot -> plan -> act -> record, on cluster events and when due.

The daemon owns the managed nodes' lifecycle state (persisted in the store) and
is the only writer of it: facts from observations, from the actuator's worker
threads and from operators all go through `_apply`. Planning is delegated to the
pure planner, I/O to the actuator; this module only wires them together.

A pass costs what changed (decision 0020): the backend says which nodes and demand
changed since the last pass, only those get an OBSERVED fact, only nodes whose timeout
fell due (`tick_due`) get a TICK, the snapshot (`view.py`) and the planner's indexes
(`PlanMemo`) are updated in place, and a tick with nothing due runs no pass at all. A full
pass (start-up, relist, reload, every RESYNC_SECONDS) re-examines everything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from clues_py.clock import Clock, WallClock
from clues_py.config.load import Config
from clues_py.contracts import Backend, Changes, Observation, PowerManager
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
from clues_py.daemon.deadlines import Deadlines
from clues_py.daemon.freshness import Freshness
from clues_py.daemon.learned import DaemonSetOverhead, TemplateHealth
from clues_py.daemon.loop import Loop
from clues_py.daemon.passes import PassLog
from clues_py.daemon.pipeline import build_pipeline, build_plugins, runtime_update, timeouts
from clues_py.daemon.reconciler import Reconciler
from clues_py.daemon.recovery import ASK_INTERVAL, IntentRecovery
from clues_py.daemon.state import LastPlan, NodeSide, recover_nodes
from clues_py.daemon.view import ClusterView, observe
from clues_py.lifecycle import Fact, FactKind, Transition, advance, carry_forward
from clues_py.model import ON_STATES, Action, ActionKind, ManagedNode, NodeState, Plan
from clues_py.planner import PlanMemo, plan
from clues_py.store import Store

log = logging.getLogger("clues.daemon")

# Re-plan everything from scratch at least this often, whatever changed (a safety net).
RESYNC_SECONDS = 600.0


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
        """`inline_actions`: run power operations, and record decisions, in the caller's
        thread (the simulator's determinism); the daemon proper uses the worker pool."""
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
        self.loop = Loop(self)
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
        self.pass_log = PassLog()
        # The next snapshot, kept between passes; the planner's indexes likewise.
        self._view = ClusterView(self._nodes, self.templates)
        self._memo = PlanMemo()
        self._deadlines = Deadlines(self._nodes, self._side, self.recovery.holds)
        for name, node in self._nodes.items():
            self._track(name, node)
        self._full_next = True  # the next pass re-examines everything
        self._reobserve: set[str] = set()  # observations held back while a call ran
        self._taint_later: set[str] = set()  # scale-down taints left for a later pass
        self._owed = False  # a pass was refused on stale data
        self.full_passes = False  # every pass full (tests compare both ways; debugging)
        self._last_full = float("-inf")
        self._last_pass = float("-inf")
        self._backend_due = 0.0  # when the backend's view may change with no event
        # Learned per template: power-on back-off (DaemonSet overhead: `ds_overhead`).
        self.template_health = TemplateHealth(lambda: self.timeouts)
        self.bus.subscribe(self.template_health.on_event)
        # When work arrives for each template and when it needs more nodes (break-even).
        self.bus.subscribe(self._view.demand.on_event)
        # Status, verbs and explain for the API, the CLI and the metrics exporter.
        self.control = Control(self, inline=inline_actions)
        self.passes = 0
        # Leader election (HA) replaces this; a non-leader observes and plans but never acts.
        self.is_leader: Callable[[], bool] = lambda: True
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
                self._reobserve.add(name)
            new = tr.node
            if fact.kind == FactKind.OBSERVED and new.observed is not fact.observation:
                new = new.with_(observed=fact.observation)
            if fact.kind == FactKind.PROVIDER_ON and fact.detail and new.provider_id != fact.detail:
                new = new.with_(provider_id=fact.detail)
                self.store.save_node(new)
            if new is not node:
                self._set_node(name, new)
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
            if side.uncordon:
                self._deadlines.uncordon_later(before.name)
        if tr.new in (NodeState.DRAINING, NodeState.OFF):
            side.uncordon = False  # a new drain cordons; an off node's Node object is gone
        if tr.new == NodeState.ON_ERROR and tr.old != NodeState.ON_ERROR:
            side.cleaned_up = False
        if tr.new == NodeState.OFF:
            side.drain_started = False
            side.action_id = None

    def _set_node(self, name: str, node: ManagedNode) -> None:
        """The one place `_nodes` changes: keeps the due times and the snapshot in step."""
        self._nodes[name] = node
        self._track(name, node)

    def _track(self, name: str, node: ManagedNode) -> None:
        self._deadlines.track(name, node, self.timeouts)
        self._view.touch(name)

    # Read-only views and the one write path, for collaborators (simulator, reconciler).

    @property
    def ds_overhead(self) -> DaemonSetOverhead:
        """DaemonSet overhead learned per template (subtracted from new nodes' room)."""
        return self._view.ds_overhead

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
            return dict(self._view.first_seen)

    def apply_fact(self, name: str, fact: Fact, now: float | None = None) -> Transition | None:
        """Advance one node's lifecycle with `fact`, persist it and publish the transition."""
        return self._apply(name, fact, now)

    def _report(self, name: str, fact: Fact) -> Transition | None:
        """Facts from actuator workers; wake the loop so the next step follows at once."""
        tr = self._apply(name, fact)
        self.loop.wake()
        return tr

    def wake(self) -> None:
        self.loop.wake()

    # ------------------------------------------------------------------ one pass

    def run_once(self) -> Plan | None:
        t_pass = time.perf_counter()
        now = self.clock.now()
        if not self.freshness.pass_allowed():
            self._owed = True  # wake-ups consumed on stale data: pass once it is current
            return None
        self._owed = False
        obs, changes = observe(self.backend, now)
        self._backend_due = changes.revisit_at
        with self._lock:
            full = changes.full or self._full_next or self.full_passes
            full = full or now - self._last_full >= RESYNC_SECONDS
            if full:
                self._full_next, self._last_full = False, now
                self._memo = PlanMemo()  # a full pass re-plans from scratch
                changes = Changes(full=True, revisit_at=changes.revisit_at)
            with self.store.batch():  # this pass's observed transitions: one commit
                examined = self._observe_nodes(now, obs, changes)
                for name in self._deadlines.ticks_due(now):
                    if not self.recovery.holds(name):  # its timeout waits for recovery
                        self._apply(name, Fact(FactKind.TICK), now)
            leader = self.is_leader()
            if leader:
                self.recovery.step(self._nodes, now)
                self._deadlines.drive(now, self.actuator, self._apply, self.timeouts)
            snapshot = self._view.snapshot(
                now,
                self._nodes,
                obs,
                changes,
                last_scale_up=self._last_scale_up,
                template_backoff=self.template_health.backoff_until(),
            )
        t0 = time.perf_counter()
        result = plan(snapshot, self.policies, self._memo)
        seconds = time.perf_counter() - t0
        with self._lock:  # pending: pods, and hidden work counted as demand (decision 0015)
            self._view.follow_counted(now, obs.hidden, result.counted)
            seen = self._view.pending_since()
        self.bus.publish(PlanEvent(now, snapshot, result, seconds, seen))
        started = self._execute(result, now) if leader else 0
        if leader:
            self._sync_taints(result, obs, changes)
        with self._lock:
            self._last = LastPlan(at=now, plan=result, demand=snapshot.demand)
            self._last_pass = now
        self.passes += 1
        examined += len(snapshot.demand.pods) if full else len(changes.pending)
        self._finish_pass(t_pass, "full" if full else "incremental", examined, started)
        return result

    def _observe_nodes(self, now: float, obs: Observation, changes: Changes) -> int:
        """Apply OBSERVED to the nodes whose observation changed (all, in a full pass)."""
        again, self._reobserve = self._reobserve, set()
        if changes.full:
            names = list(self._nodes)
        else:
            names = sorted((changes.nodes & self._nodes.keys()) | again)
        for name in names:
            node = self._nodes[name]
            o = obs.nodes.get(name)
            if not changes.full and o is node.observed and name not in again:
                continue
            carried = carry_forward(node, now, o)  # the old observation held until now
            if carried is not node:
                self._set_node(name, carried)
            self._apply(name, Fact(FactKind.OBSERVED, observation=o), now)
        return len(names)

    def _sync_taints(self, result: Plan, obs: Observation, changes: Changes) -> None:
        """The scale-down taint on exactly the plan's candidates: looked at on the nodes whose
        observation or candidacy changed, and those left last time (busy), all when full."""
        new, old = result.scale_down_candidates, self._last.plan.scale_down_candidates
        names = set(self._nodes) if changes.full else changes.nodes | (new.keys() ^ old.keys())
        look = (names | self._taint_later) & self._nodes.keys()
        self._taint_later = self.actuator.sync_scale_down_taints(new, obs, look)

    def next_due(self) -> float:
        """When a pass could decide something new with no event (timeouts, plan revisits,
        steps of drains and power-offs, the backend's own deadlines, the resync)."""
        if not self.freshness.pass_allowed():
            return self.clock.now() + self.cfg.daemon.tick  # a watch coming back wakes us
        if self._owed:
            return self._last_pass
        with self._lock:
            tick, last = self.cfg.daemon.tick, self._last_pass
            nodes = self._deadlines.next_due(self.actuator.busy, self.timeouts, last, tick)
            asks = self._last_pass + ASK_INTERVAL if self.recovery.held() else float("inf")
            revisit = self._last.plan.revisit_at  # at the plan's own time: "any time"
            revisit = revisit if revisit > last else last + tick
            return min(nodes, asks, revisit, self._backend_due, self._last_full + RESYNC_SECONDS)

    def _finish_pass(self, t_pass: float, kind: str, changed: int, started: int) -> None:
        seconds = time.perf_counter() - t_pass
        rec = self.pass_log.record(seconds, kind, changed, started)
        self.bus.publish(PassFinished(rec.at, seconds, kind, changed))

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
            since = self._view.waiting_since
            waits = [since[k] for k in action.pods if k in since]
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
                may_evict = self._side[action.node].start_drain(node)
                self.actuator.drain_step(node, action_id, True, may_evict)
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
            for name, node in self._nodes.items():
                self._track(name, node)  # timeouts may have changed the due times
            self._full_next = True
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
        self.loop.add_periodic(interval, task)

    def start(self) -> None:
        self.backend.start(self.wake)

    def serve_forever(self) -> None:
        self.loop.serve_forever()

    def stop(self) -> None:
        self.loop.stop()

    # LoopHost
    def now(self) -> float:
        return self.clock.now()

    def tick(self) -> float:
        return self.cfg.daemon.tick

    def pass_failed(self) -> None:
        self._full_next = True  # start over from a clean slate

    def close(self) -> None:
        """Finish in-flight operations, then release everything (SIGTERM path)."""
        self.actuator.shutdown(wait=True)
        self.control.recorder.stop()
        self.backend.stop()
        for pm in self.power.values():
            try:
                pm.close()
            except Exception:
                log.exception("closing power manager failed")
        self.store.close()
