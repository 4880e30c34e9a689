"""Actuator: the sole caller of power managers and of the backend's write verbs.

It runs node operations on a bounded thread pool, at most one at a time per node, and
reports what happened as lifecycle facts through a callback (the daemon applies them to
the FSM and the store). It decides nothing: which node to power and when is the
planner's job, timeouts are the FSM's. A drain evicts only the pods the node had when it
was decided; a pod bound since (before the cordon) is new work and aborts it (decision 0021).

Action records: an action becomes `running` when its operation starts on a worker and
`ok`/`failed` when the provider call returns, always recorded before the fact that moves the
node on is reported. While a provider power call is in flight, `calling(node)` is true and
the daemon holds observations that would move the node on (a machine seen gone before its
power-off call has returned), so no node is `off` with its action unfinished.

Stale data: right before cordoning or evicting, and right before the power-off call that
ends a drain, `too_old()` (`clues_py.daemon.freshness`) is asked; while the cluster view is
older than `max_data_age` the drain waits where it is. `faults.crash_point` marks where
tests may make the process die (test-only).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial

from clues_py.contracts import (
    SCALE_DOWN_TAINT,
    Backend,
    Observation,
    PluginError,
    PowerManager,
    PowerState,
)
from clues_py.daemon.bus import ActionCalled, ActionFinished, Bus, InstanceTerminated
from clues_py.daemon.faults import crash_point
from clues_py.lifecycle import Fact, FactKind, Transition
from clues_py.model import ManagedNode, NodeState, NodeTemplate, RequestUpdate
from clues_py.redact import SCRUBBER
from clues_py.store import Store

log = logging.getLogger("clues.actuator")

# (node name, fact) -> the transition it made (None: unknown node); thread-safe, daemon's.
FactSink = Callable[[str, Fact], Transition | None]


class Actuator:
    def __init__(
        self,
        *,
        backend: Backend,
        power: Mapping[str, PowerManager],
        templates: Mapping[str, NodeTemplate],
        store: Store,
        report: FactSink,
        now: Callable[[], float],
        workers: int = 8,
        bus: Bus | None = None,
        inline: bool = False,
        wake: Callable[[], None] | None = None,
        too_old: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._bus = bus or Bus()
        # Inline: run every operation in the caller's thread (the simulator's determinism).
        self._inline = inline
        self._backend = backend
        self._power = power
        self._templates = templates
        self._store = store
        self._report = report
        self._now = now
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clues-act")
        self._busy: dict[str, Future[None]] = {}
        self._calling: set[str] = set()  # nodes whose provider power call has not returned
        self._wake = wake  # tells the daemon a call returned (held observations can apply)
        self._too_old = too_old  # None, or why the cluster view is too old to drain on
        self._lock = threading.Lock()
        self._closed = False
        # Operator pre-hooks (clues_py.daemon.hooks.Hooks.pre): (event, node, reason) -> veto message
        # or None. Run on the worker thread right before the provider call.
        self.pre_hook: Callable[[str, ManagedNode, str], str | None] | None = None

    # ------------------------------------------------------------------ bookkeeping

    def busy(self, node: str) -> bool:
        with self._lock:
            fut = self._busy.get(node)
            return fut is not None and not fut.done()

    def calling(self, node: str) -> bool:
        """A provider power call for `node` is in flight (its outcome is not recorded yet)."""
        with self._lock:
            return node in self._calling

    @contextmanager
    def _provider_call(self, node: str) -> Iterator[None]:
        with self._lock:
            self._calling.add(node)
        try:
            yield
        finally:
            with self._lock:
                self._calling.discard(node)

    def _running(self, action_id: int | None, at: float) -> None:
        if action_id is not None:
            self._store.finish_action(action_id, "running", at=at)

    def _called(self, action_id: int | None, node: ManagedNode, kind: str) -> float:
        """Publish that the provider call of an action is being made now; return the time."""
        at = self._now()
        self._bus.publish(ActionCalled(at, action_id, kind, node.name, node.template))
        return at

    def in_flight(self) -> int:
        with self._lock:
            return sum(1 for f in self._busy.values() if not f.done())

    def _submit(self, node: str, what: str, fn: Callable[[], None]) -> bool:
        """Run `fn` for `node` unless an operation on it is still running."""
        with self._lock:
            if self._closed:
                return False
            fut = self._busy.get(node)
            if fut is not None and not fut.done():
                return False

            def run() -> None:
                try:
                    fn()
                except Exception:  # a bug in us or a plugin must not kill the worker
                    log.exception("%s %s: unexpected error", what, node)

            if not self._inline:
                self._busy[node] = self._pool.submit(run)
                return True
        run()  # outside the lock: the operation reports facts that may submit more work
        return True

    def _pm(self, node: ManagedNode) -> PowerManager:
        return self._power[self._templates[node.template].power]

    def _finish(
        self,
        action_id: int | None,
        node: ManagedNode,
        kind: str,
        status: str,
        error: str = "",
        started: float | None = None,
    ) -> None:
        now = self._now()
        error = SCRUBBER.scrub(error)
        if action_id is not None and not self._store.finish_action(action_id, status, error, now):
            return  # already final (a drain the FSM stopped): reported then, not again
        self._bus.publish(
            ActionFinished(
                at=now,
                action_id=action_id,
                kind=kind,
                node=node.name,
                template=node.template,
                ok=status == "ok",
                error=error,
                seconds=max(0.0, now - started) if started is not None else 0.0,
            )
        )

    # ------------------------------------------------------------------ operations

    def power_on(self, node: ManagedNode, action_id: int | None) -> bool:
        """The FSM already says POWERING_ON (intent is recorded before the call)."""
        template = self._templates[node.template]

        def op() -> None:
            t0 = self._now()
            self._running(action_id, t0)
            veto = self._pre("pre_power_on", node)
            if veto:
                self._finish(action_id, node, "power_on", "failed", veto, t0)
                self._report(node.name, Fact(FactKind.POWER_ON_FAILED, detail=veto))
                return
            with self._provider_call(node.name):
                crash_point("power_on_sent")
                t0 = self._called(action_id, node, "power_on")
                try:
                    provider_id = self._pm(node).power_on(node, template)
                    crash_point("power_on_called")
                except Exception as exc:
                    msg = _error_text(exc)
                    log.warning("power on %s failed: %s", node.name, msg)
                    self._finish(action_id, node, "power_on", "failed", msg, t0)
                    fact = Fact(FactKind.POWER_ON_FAILED, detail=msg)
                else:
                    log.info("power on %s: requested (provider id %s)", node.name, provider_id)
                    self._finish(action_id, node, "power_on", "ok", started=t0)
                    fact = Fact(FactKind.PROVIDER_ON, detail=provider_id)
            self._report(node.name, fact)

        return self._submit(node.name, "power on", op)

    def drain_step(
        self, node: ManagedNode, action_id: int | None, first: bool, may_evict: frozenset[str]
    ) -> bool:
        """Cordon (first time), evict what can go, and power off once the node is empty;
        a pod not in `may_evict` (bound since the decision) aborts the drain instead."""

        def op() -> None:
            self._running(action_id, self._now())
            if self._stale("drain", node):
                return
            try:
                if first:
                    crash_point("drain_started")
                    self._backend.cordon(node.name, True)
                result = self._backend.drain(node.name, may_evict)
            except Exception as exc:
                msg = _error_text(exc)
                log.warning("drain %s failed: %s", node.name, msg)
                self._abort_drain(node, action_id, msg)
                return
            if result.arrived:  # the transition's log line says which pods
                self._abort_drain(node, action_id, f"new work: {', '.join(result.arrived)}")
                return
            if not result.done:
                if result.blocked:
                    log.info(
                        "drain %s: waiting; blocked: %s",
                        node.name,
                        "; ".join(f"{k}: {v}" for k, v in sorted(result.blocked.items())),
                    )
                return
            if self._stale("power off", node):
                return
            veto = self._pre("pre_power_off", node)
            if veto:  # the operator said no: back in service, as after a failed drain
                self._abort_drain(node, action_id, veto)
                return
            self._power_off_now(node, action_id, Fact(FactKind.POWER_OFF_SENT, detail="drained"))

        return self._submit(node.name, "drain", op)

    def _abort_drain(self, node: ManagedNode, action_id: int | None, why: str) -> None:
        """The drain's power-off action fails and the node goes back in service, uncordoned."""
        self._finish(action_id, node, "power_off", "failed", why)
        self._report(node.name, Fact(FactKind.DRAIN_ABORTED, detail=why))
        self._uncordon(node.name)

    def power_off(self, node: ManagedNode, action_id: int | None) -> bool:
        """Power off without draining (retry from OFF_ERROR, clean-up of a failed boot)."""
        return self._submit(node.name, "power off", lambda: self._power_off_now(node, action_id))

    def _power_off_now(
        self, node: ManagedNode, action_id: int | None, sent: Fact | None = None
    ) -> None:
        """The provider's power-off; `sent` (POWER_OFF_SENT) is reported inside the call's
        window, so an observation of the machine going away waits for its outcome."""
        t0 = self._now()
        self._running(action_id, t0)
        fact: Fact | None = None
        with self._provider_call(node.name):
            if sent is not None:
                tr = self._report(node.name, sent)
                if tr is None or tr.new != NodeState.POWERING_OFF:
                    # The node moved on while it drained (drain timeout, new work): the FSM
                    # refused a power-off that belongs to a drain that is over, so the
                    # provider must not get it (it would stop a node back in service).
                    why = f"not powered off: the node is {tr.new.value if tr else 'gone'}"
                    log.info("power off %s: %s", node.name, why)
                    self._finish(action_id, node, "power_off", "failed", why, t0)
                    return
            crash_point("power_off_sent")
            t0 = self._called(action_id, node, "power_off")
            try:
                self._pm(node).power_off(node)
            except Exception as exc:
                msg = _error_text(exc)
                log.warning("power off %s failed: %s", node.name, msg)
                self._finish(action_id, node, "power_off", "failed", msg, t0)
                fact = Fact(FactKind.POWER_OFF_FAILED, detail=msg)
            else:
                log.info("power off %s: requested", node.name)
                self._finish(action_id, node, "power_off", "ok", started=t0)
        if fact is not None:
            self._report(node.name, fact)
        elif self._wake is not None:
            self._wake()

    def _stale(self, what: str, node: ManagedNode) -> bool:
        why = self._too_old()
        if why:
            log.info("%s %s: waiting: %s", what, node.name, why)
        return why is not None

    def ask(self, node: ManagedNode, answer: Callable[[PowerState | None], None]) -> bool:
        """Ask the provider what `node` is now; `answer(state)`, None when it cannot say."""

        def op() -> None:
            state: PowerState | None
            try:
                state = self._pm(node).describe(node)
            except Exception as exc:
                log.warning("describe %s failed: %s", node.name, _error_text(exc))
                state = None
            answer(state)

        return self._submit(node.name, "describe", op)

    def check_off(self, node: ManagedNode) -> bool:
        """Ask the provider whether a node we are powering off is off; then forget its Node."""

        def op() -> None:
            try:
                state = self._pm(node).describe(node)
            except Exception as exc:
                log.warning("describe %s failed: %s", node.name, _error_text(exc))
                return
            if state == PowerState.OFF:
                try:
                    self._backend.delete_node(node.name)
                except Exception as exc:
                    log.warning("delete Node %s failed: %s", node.name, _error_text(exc))
                    return
                self._report(node.name, Fact(FactKind.PROVIDER_OFF, detail="provider reports off"))

        return self._submit(node.name, "check off", op)

    def cleanup_failed_boot(self, node: ManagedNode) -> bool:
        """A node that never became Ready must not keep running (and costing) unaccounted."""

        def op() -> None:
            try:
                self._pm(node).power_off(node)
                self._backend.delete_node(node.name)
                log.info("clean-up of failed boot %s: powered off", node.name)
            except Exception as exc:
                log.warning("clean-up of failed boot %s failed: %s", node.name, _error_text(exc))

        return self._submit(node.name, "clean-up", op)

    def terminate(self, power: str, node: str, provider_id: str, reason: str) -> bool:
        """Reconciliation: end one owned instance by id (duplicate, orphan); reports no fact.

        Keyed apart from the node's own operations, so ending a duplicate never waits for,
        or blocks, the node it duplicates.
        """
        pm = self._power.get(power)
        fn = getattr(pm, "terminate", None)
        if fn is None:
            log.warning("cannot terminate %s (%s): power manager %r has no terminate()",
                        provider_id, node, power)  # fmt: skip
            return False

        def op() -> None:
            try:
                fn(provider_id)
                log.info("terminated %s (node %s): %s", provider_id, node, reason)
                self._bus.publish(InstanceTerminated(self._now(), node, provider_id, reason))
            except Exception as exc:
                log.warning("terminate %s (node %s) failed: %s", provider_id, node,
                            _error_text(exc))  # fmt: skip

        return self._submit(f"instance:{provider_id}", "terminate", op)

    def _pre(self, event: str, node: ManagedNode) -> str | None:
        if self.pre_hook is None:
            return None
        try:
            return self.pre_hook(event, node, "")
        except Exception as exc:  # a broken hook runner must not wedge the node
            log.exception("%s hook for %s: unexpected error", event, node.name)
            return f"{event} hook error: {_error_text(exc)}"

    def update_requests(self, updates: Iterable[RequestUpdate]) -> None:
        """Set conditions on ProvisioningRequests through the backend, off the loop; one
        write per request at a time (the next pass asks again if one did not land)."""
        write = getattr(self._backend, "update_request", None)  # optional backend verb
        if write is None:
            return
        for update in updates:
            key = f"provisioningrequest:{update.namespace}/{update.name}"
            self._submit(key, "update", partial(_write_request, write, key, update))

    def sync_scale_down_taints(
        self, candidates: Mapping[str, str], obs: Observation, nodes: Iterable[str]
    ) -> set[str]:
        """Keep the PreferNoSchedule scale-down taint on exactly the plan's candidates among
        the Ready managed `nodes` (an optional backend verb: without it, nothing happens).
        Returns the nodes it could not look after now (an operation on them still runs)."""
        fn = getattr(self._backend, "set_scale_down_taint", None)
        later: set[str] = set()
        if fn is None:
            return later
        for node in nodes:
            o = obs.nodes.get(node)
            if o is None or not o.ready:
                continue
            has = any(
                t.key == SCALE_DOWN_TAINT.key and t.effect == SCALE_DOWN_TAINT.effect
                for t in o.taints
            )
            if has == (node in candidates):
                continue
            if self.busy(node) or not self._submit(
                node, "taint", partial(self._set_taint, fn, node, not has)
            ):
                later.add(node)
        return later

    @staticmethod
    def _set_taint(fn: Callable[[str, bool], None], node: str, present: bool) -> None:
        try:
            fn(node, present)
        except Exception as exc:
            log.warning("%s %s failed: %s", "taint" if present else "untaint", node,
                        _error_text(exc))  # fmt: skip

    def uncordon(self, node: str) -> bool:
        return self._submit(node, "uncordon", lambda: self._uncordon(node))

    def _uncordon(self, node: str) -> None:
        try:
            self._backend.cordon(node, False)
        except Exception as exc:
            log.warning("uncordon %s failed: %s", node, _error_text(exc))

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work; by default let in-flight operations finish (SIGTERM)."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)


def _write_request(write: Callable[[RequestUpdate], None], key: str, update: RequestUpdate) -> None:
    try:
        write(update)
    except Exception as exc:  # logged: the next pass asks again
        log.warning("%s: set %s: %s", key, update.type, _error_text(exc))


def _error_text(exc: BaseException) -> str:
    # Errors are stored, served by the API and become Kubernetes Events: no secret in them.
    if isinstance(exc, PluginError):
        return SCRUBBER.scrub(str(exc))
    return SCRUBBER.scrub(f"{type(exc).__name__}: {exc}")
