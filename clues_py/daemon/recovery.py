"""Crash recovery: resolve the power steps a previous run stored as sent but may not have made.

Decision 0002 stores the intent (POWERING_ON / POWERING_OFF) before the provider call, so
a run that dies between the two leaves a node whose call may never have been made. Waiting
for its boot or shutdown timeout would count our own crash as a provider failure (an
attempt, template back-off) and leave a VM running or a pod pending meanwhile. Instead,
every node stored in one of those states at start-up is *held*: the daemon runs none of its
timeouts, and the provider is asked (`describe`, through the actuator) what really
happened; `reconcile.resolve_intent` then says

- RESUME: the call was made; the step goes on with a fresh timeout (INTENT_RESUMED);
- REISSUE: it was not; the call is made again as a new action (policy `recovery`), with a
  fresh timeout and no attempt counted;
- ASK_AGAIN: the provider cannot tell (error, unknown, still stopping): ask again later.

A node the cluster moves on meanwhile (it turns Ready, or its Node goes away) is released
untouched. This module only sequences; it runs from the daemon's loop, on the leader, in
passes on current data (`Daemon.run_once`). See decision 0017.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Protocol

from clues_py.contracts import PowerState
from clues_py.daemon.bus import ActionStarted, Bus
from clues_py.daemon.host import DaemonHost
from clues_py.daemon.reconcile import Resolution, resolve_intent
from clues_py.lifecycle import Fact, FactKind
from clues_py.model import Action, ActionKind, ManagedNode, NodeState

log = logging.getLogger("clues.recovery")

SENT_STATES = frozenset({NodeState.POWERING_ON, NodeState.POWERING_OFF})
# Ask a provider that could not answer again after this long.
ASK_INTERVAL = 2.0
POLICY = "recovery"


class RecoveryHost(DaemonHost, Protocol):
    """What recovery needs of the daemon beyond `DaemonHost`."""

    @property
    def bus(self) -> Bus: ...


class IntentRecovery:
    def __init__(self, host: RecoveryHost, stored: dict[str, ManagedNode]) -> None:
        """`stored`: the nodes as the store had them at start-up."""
        self._host = host
        self._lock = threading.Lock()
        # node -> the state it was stored in; removed once resolved or released
        self._held = {n: node.state for n, node in stored.items() if node.state in SENT_STATES}
        self._answers: dict[str, PowerState | None] = {}
        self._asked_at: dict[str, float] = {}
        if self._held:
            log.info(
                "stored as sent when the last run stopped, asking the provider before any "
                "timeout runs: %s",
                ", ".join(f"{n} ({s.value})" for n, s in sorted(self._held.items())),
            )

    def holds(self, name: str) -> bool:
        """The node's stored step is not resolved yet: run none of its timeouts."""
        with self._lock:
            return name in self._held

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._held)

    def _answer(self, name: str, state: PowerState | None) -> None:
        with self._lock:
            if name in self._held:
                self._answers[name] = state
        self._host.wake()

    def step(self, nodes: dict[str, ManagedNode], now: float) -> None:
        """Ask, or act on an answer, for every held node not busy (under the daemon's lock)."""
        with self._lock:
            held = dict(self._held)
        actuator = self._host.actuator
        for name, stored in sorted(held.items()):
            node = nodes.get(name)
            if node is None or node.state != stored:
                self._release(name, f"now {node.state.value}" if node else "no longer managed")
                continue
            if actuator.busy(name):
                continue
            with self._lock:
                answered = name in self._answers
                power = self._answers.pop(name, None)
            if not answered:
                if now - self._asked_at.get(name, float("-inf")) >= ASK_INTERVAL:
                    self._asked_at[name] = now
                    actuator.ask(node, functools.partial(self._answer, name))
                continue
            resolution, why = resolve_intent(stored, power)
            if resolution == Resolution.ASK_AGAIN:
                log.info("%s: %s; asking again", name, why)
                continue
            self._release(name, "")
            self._resume(node, resolution, why, now)

    def _release(self, name: str, why: str) -> None:
        with self._lock:
            self._held.pop(name, None)
            self._answers.pop(name, None)
        self._asked_at.pop(name, None)
        if why:
            log.info("%s: released from recovery: %s", name, why)

    def _resume(self, node: ManagedNode, resolution: Resolution, why: str, now: float) -> None:
        host = self._host
        log.info("%s: %s", node.name, why)
        tr = host.apply_fact(node.name, Fact(FactKind.INTENT_RESUMED, why), now)
        if resolution != Resolution.REISSUE or tr is None:
            return
        node = tr.node
        on = node.state == NodeState.POWERING_ON
        kind = ActionKind.POWER_ON if on else ActionKind.POWER_OFF
        action_id = host.store.add_action(now, kind.value, node.name, node.template, why, POLICY)
        host.bus.publish(
            ActionStarted(now, action_id, Action(kind, node.name, node.template, why, POLICY))
        )
        if on:
            host.actuator.power_on(node, action_id)
        else:
            host.actuator.power_off(node, action_id)
