"""The discrete-event simulator: the real `Daemon` against a virtual sandbox, on a virtual clock.

One `Simulation` builds a virtual `Sandbox` (no HTTP), the real `Daemon` with an
in-process `SandboxBackend`, `DirectSimPower` and an in-memory store, and an
inline (synchronous) actuator, then steps time from one interesting instant to
the next: a job submission, a sandbox timer (boot/shutdown done, pod finished), a
daemon deadline (idle expiry, FSM timeouts, retries, back-off) or a safety tick.
At each instant it settles the sandbox and runs daemon passes while anything the
daemon sees has changed, as the real daemon does on watch events. Policy modes:
`event` (the daemon's own behaviour) and `poll` (passes only on a fixed period,
like the original CLUES). Queued jobs (`kueue` section, `queues.py`) go through the
sandbox's mini-Kueue, as OSCAR's do through Kueue. Metrics come from the store's
transitions through `clues_py.outcome.summarize`; reporting is `report.py`'s.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clues_py.clock import VirtualClock
from clues_py.config.load import Config, config_from_dict, merge_overrides
from clues_py.daemon.bus import PlanEvent, TransitionEvent
from clues_py.daemon.daemon import Daemon
from clues_py.model import NodeState
from clues_py.outcome import JobTiming, summarize
from clues_py.sandbox import VIRTUAL_EPOCH, Sandbox
from clues_py.sim.backend import DirectSimPower, SandboxBackend
from clues_py.sim.queues import kueue_objects
from clues_py.sim.scenario import JobSpec, Scenario
from clues_py.sim.workload import base_config, job_manifest, job_name
from clues_py.store import Store

# Deadlines are hit a hair late so `now - since >= limit` holds despite float rounding.
_EPS = 1e-6
# Passes at one instant before we assume the daemon and sandbox ping-pong forever.
_MAX_PASSES_PER_INSTANT = 200
DESCRIBE_INTERVAL = 2.0  # the daemon's throttle on provider polls while powering off
# Deadlines further than this (e.g. the always-on baseline's idle_time) never come.
FOREVER = 1e9  # about 31 years: longer than any trace, shorter than report.NEVER
# States with no deadline of their own: what changes them is an event (a pod, a plan).
_UNTIMED = frozenset({NodeState.OFF, NodeState.USED})


@dataclass
class SimResult:
    metrics: dict[str, Any]
    label: str
    # (t, {state: count}) after every change, t in scenario seconds
    node_series: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    # (t, pending pods, pending cores, hidden pods) at every daemon pass
    demand_series: list[tuple[float, int, float, int]] = field(default_factory=list)
    passes: int = 0
    steps: int = 0
    end: float = 0.0


@dataclass
class _JobTrack:
    spec: JobSpec
    submitted: float | None = None
    started_pods: set[str] = field(default_factory=set)
    started: float | None = None
    finished: float | None = None


class Simulation:
    """One run of one scenario under one configuration; `run()` once."""

    def __init__(
        self,
        scenario: Scenario,
        overrides: dict[str, Any] | None = None,
        *,
        label: str = "clues-py",
        mode: str = "event",
        poll_period: float = 5.0,
        safety_tick: float = 300.0,
        initially_on_all: bool = False,
        progress: Callable[[float, float], None] | None = None,
    ) -> None:
        if mode not in ("event", "poll"):
            raise ValueError(f"mode must be 'event' or 'poll', got {mode!r}")
        self.scenario = scenario
        self.label = label
        self.mode = mode
        self.poll_period = poll_period
        self.safety_tick = safety_tick
        self.progress = progress
        self.t0 = VIRTUAL_EPOCH
        data = merge_overrides(base_config(scenario), scenario.config)
        data = merge_overrides(data, overrides or {})
        self.cfg: Config = config_from_dict(data, source=f"<scenario {scenario.name}>")
        self.initially_on = {
            g.name: (g.count if initially_on_all else g.initially_on) for g in scenario.node_groups
        }
        self.clock = VirtualClock(self.t0)
        self.sandbox = Sandbox(
            virtual=True,
            serve_http=False,
            clock=self.clock,
            pod_start_seconds=0.0,
            kill_seconds=0.0,
            events=False,
            # Nothing watches a simulation's store (no HTTP, subscribers only): a short
            # history frees each old version soon, while it is still in the CPU's cache.
            history=64,
            share_strings=False,  # its objects live for one job: interning costs, saves little
        )
        self.backend = SandboxBackend(self.sandbox, pending_grace=self.cfg.pending_grace)
        templates = {t.name: t for t in self.cfg.templates}
        self.power = DirectSimPower(
            self.sandbox,
            templates,
            cluster_name=self.cfg.cluster_name,
            failure_rates={g.name: g.boot_failure_rate for g in scenario.node_groups},
            seed=scenario.seed,
        )
        self.daemon = Daemon(
            self.cfg,
            clock=self.clock,
            backend=self.backend,
            power={"sim": self.power},
            store=Store(":memory:"),
            inline_actions=True,
        )
        d = self.daemon
        self.jobs: dict[str, _JobTrack] = {job_name(j.id): _JobTrack(j) for j in scenario.jobs}
        self._states: dict[str, str] = {n: "off" for t in self.cfg.templates for n in t.node_names}
        self._counts: dict[str, int] = {"off": len(self._states)}
        # Nodes in a state with a deadline of its own (not off, not used): the only ones
        # `_deadlines` looks at, so a step costs what is in progress, not the cluster size.
        self._timed: set[str] = set()
        self._namespaces: set[str] = set()
        self.result = SimResult(metrics={}, label=label)
        d.bus.subscribe(self._on_bus)
        self.backend.listeners.append(self._on_store)

    # ------------------------------------------------------------------ observation hooks

    def _rel(self) -> float:
        return self.clock.now() - self.t0

    def _on_bus(self, event: object) -> None:
        if isinstance(event, TransitionEvent) and event.old != event.new:
            name, new = event.node.name, event.new.value
            old = self._states.get(name)
            self._states[name] = new
            counts = self._counts
            if old is not None:
                counts[old] -= 1
                if not counts[old]:
                    del counts[old]
            counts[new] = counts.get(new, 0) + 1
            if event.new in _UNTIMED:
                self._timed.discard(name)
            else:
                self._timed.add(name)
            self.result.node_series.append((event.at - self.t0, dict(counts)))
        elif isinstance(event, PlanEvent):
            demand = event.snapshot.demand
            cores = sum(p.requests.cpu_millis for p in demand.pods) / 1000.0
            cores += sum(h.per_pod.cpu_millis * h.count for h in demand.hidden) / 1000.0
            hidden = sum(h.count for h in demand.hidden)
            self.result.demand_series.append((event.at - self.t0, len(demand.pods), cores, hidden))

    def _on_store(self, kind: str, resource: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        if resource == "pods" and kind != "DELETED":
            job = self.jobs.get((meta.get("labels") or {}).get("job-name", ""))
            phase = (obj.get("status") or {}).get("phase")
            if job is not None and job.started is None and phase in ("Running", "Succeeded"):
                job.started_pods.add(meta.get("name", ""))
                if len(job.started_pods) >= job.spec.pods:
                    job.started = self._rel()
        elif resource == "jobs" and kind != "DELETED":
            job = self.jobs.get(meta.get("name", ""))
            conds = (obj.get("status") or {}).get("conditions") or []
            complete = any(c.get("type") == "Complete" and c.get("status") == "True" for c in conds)
            if job is not None and job.finished is None and complete:
                job.finished = self._rel()

    # ------------------------------------------------------------------ time

    def _deadlines(self) -> list[float]:
        """Instants at which a pass could decide something new without any cluster change."""
        d = self.daemon
        cfg = self.cfg
        out: list[float] = []
        nodes = d.managed_nodes()
        for name in self._timed:
            n = nodes[name]
            s = n.state
            if s == NodeState.IDLE and n.enabled:
                out.append(max(n.since, n.last_used) + cfg.idle_time)
                out.append(d.last_scale_up + cfg.scale_down_delay)
            elif s == NodeState.POWERING_ON:
                out.append(n.since + cfg.boot_timeout)
            elif s == NodeState.DRAINING:
                out.append(n.since + cfg.drain_timeout)
            elif s == NodeState.POWERING_OFF:
                out.append(n.since + cfg.shutdown_timeout)
                if self.sandbox.machines.state(name) in ("off", "unknown"):
                    # Off but not yet seen off: the daemon polls the provider at most this often.
                    out.append(self.clock.now() + DESCRIBE_INTERVAL)
            elif s in (NodeState.ON_ERROR, NodeState.OFF_ERROR):
                out.append(n.retry_at)
        out.extend(d.template_backoff().values())
        last = d.last_plan
        # A revisit at the plan's own time means "any time" (a policy that declares none):
        # the daemon then plans again on its next tick.
        out.append(last.plan.revisit_at if last.plan.revisit_at > last.at else last.at + d.tick())
        return [t + _EPS for t in out if t - self.t0 < FOREVER]

    def _grid(self, t: float) -> float:
        """Poll mode: the first polling instant at or after `t`."""
        k = math.ceil((t - self.t0) / self.poll_period - 1e-9)
        return self.t0 + k * self.poll_period

    # ------------------------------------------------------------------ workload

    def _submit_due(self, now: float, queue: deque[JobSpec]) -> bool:
        submitted = False
        while queue and self.t0 + queue[0].submit <= now + 1e-9:
            job = queue.popleft()
            if job.namespace not in self._namespaces:  # nothing deletes them: ask once
                self.sandbox.ensure_namespace(job.namespace)
                self._namespaces.add(job.namespace)
            self.sandbox.store.create("jobs", job_manifest(job), job.namespace)
            self.jobs[job_name(job.id)].submitted = now
            submitted = True
        return submitted

    def _create_queues(self) -> None:
        """The scenario's Kueue objects, before the first job (the mini-Kueue wakes up)."""
        if self.scenario.kueue is None:
            return
        for resource, obj in kueue_objects(self.scenario.kueue):
            ns = obj["metadata"].get("namespace")
            if ns:
                self.sandbox.ensure_namespace(ns)
            self.sandbox.store.create(resource, obj, ns)

    def _power_on_initial(self) -> None:
        for t in self.cfg.templates:
            for name in t.node_names[: self.initially_on.get(t.name, 0)]:
                self.sandbox.machines.power_on(
                    name,
                    cpu=str(t.resources.cpu_millis) + "m",
                    memory=str(t.resources.memory_bytes),
                    gpus=t.resources.gpus,
                    pods=t.resources.pods or 110,
                    labels={**t.label_map, "clues-py.io/template": t.name},
                    taints=[{"key": x.key, "value": x.value, "effect": x.effect} for x in t.taints],
                    boot_seconds=0.0,
                )

    # ------------------------------------------------------------------ main loop

    def run(self) -> SimResult:
        sb, d, be = self.sandbox, self.daemon, self.backend
        sb.start()
        self._power_on_initial()
        self._create_queues()
        sb.advance_to(self.t0)
        d.start()
        queue = deque(self.scenario.jobs)
        until = self.t0 + self.scenario.until if self.scenario.until is not None else math.inf
        horizon = self.t0 + max((j.submit for j in queue), default=0.0)
        poll = self.mode == "poll"
        now = self.t0
        last_pass = -math.inf
        self._submit_due(now, queue)
        while True:
            sb.settle()
            due = any(t <= now for t in self._deadlines())
            if poll:
                run_pass = abs(self._grid(now) - now) < 1e-9 and (be.dirty or due)
            else:
                run_pass = be.dirty or due or now - last_pass >= self.safety_tick
            count = 0
            while run_pass and count < _MAX_PASSES_PER_INSTANT:
                be.dirty = False
                d.run_once()
                self.result.passes += 1
                count += 1
                last_pass = now
                sb.settle()
                run_pass = be.dirty and not poll
            self.result.steps += 1
            if self.progress is not None:
                self.progress(now - self.t0, max(min(until, horizon) - self.t0, 1.0))
            # ---- the next interesting instant
            future = [t for t in self._deadlines() if t > now]
            cands: list[float] = []
            if queue:
                cands.append(self.t0 + queue[0].submit)
            timer = sb.runtime.next_timer()
            if timer is not None:
                cands.append(max(timer, now))
            if poll:
                g = self._grid(now)
                next_grid = g if g > now + 1e-9 else self._grid(now + self.poll_period)
                if be.dirty:
                    cands.append(next_grid)
                cands.extend(max(self._grid(t), next_grid) for t in future)
            else:
                cands.extend(future)
            if not cands:
                break
            nxt = min(cands)
            if not poll and math.isfinite(last_pass):
                nxt = min(nxt, max(last_pass + self.safety_tick, now))
            if nxt > until:
                break
            sb.advance_to(nxt)
            now = nxt
            self._submit_due(now, queue)
        if math.isfinite(until) and until > now:
            sb.advance_to(until)
            now = until
        self.result.end = now - self.t0
        self.result.metrics = self._metrics(now)
        be.stop()
        d.control.recorder.stop()
        d.store.close()
        sb.stop()
        return self.result

    def _metrics(self, end: float) -> dict[str, Any]:
        store = self.daemon.store
        rows = store.transitions(limit=10_000_000)
        transitions = [dict(r, at=float(r["at"]) - self.t0) for r in rows]
        actions = store.actions(limit=10_000_000)
        timings = [
            JobTiming(
                submit=t.spec.submit,
                started=t.started,
                finished=t.finished,
                core_seconds=t.spec.cores * t.spec.pods * t.spec.duration,
            )
            for t in self.jobs.values()
        ]
        return summarize(
            name=self.scenario.name,
            transitions=transitions,
            power_on_actions=sum(
                1 for a in actions if a["kind"] == "power_on" and a["status"] == "ok"
            ),
            power_off_actions=sum(
                1 for a in actions if a["kind"] == "power_off" and a["status"] == "ok"
            ),
            jobs=timings,
            templates={t.name: t for t in self.cfg.templates},
            node_template={n: t.name for t in self.cfg.templates for n in t.node_names},
            start=0.0,
            end=end - self.t0,
        )
