"""In-process event bus: what the daemon did, for metrics, Kubernetes Events, hooks and logs.

The daemon and the actuator publish typed events; listeners (metrics exporter,
Kubernetes event recorder, operator hooks...) subscribe without the daemon
knowing them. Listeners run synchronously in the publisher's thread, so they
must be quick and must not raise (an exception is logged and swallowed: a
broken exporter must never stop a power action).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clues_py.model import Action, ClusterSnapshot, ManagedNode, NodeState, Plan

log = logging.getLogger("clues.bus")


@dataclass(frozen=True)
class TransitionEvent:
    at: float
    node: ManagedNode  # after the transition
    old: NodeState
    new: NodeState
    reason: str


@dataclass(frozen=True)
class ActionStarted:
    at: float
    action_id: int
    action: Action
    # Power-on for demand: when the oldest of its pods was created (or first seen, if the
    # creation time is missing or later), for the reaction-time metric. None otherwise.
    demand_since: float | None = None


@dataclass(frozen=True)
class ActionCalled:
    """The actuator is about to make the provider call of an action (its time is the call's)."""

    at: float
    action_id: int | None
    kind: str  # power_on | power_off
    node: str
    template: str


@dataclass(frozen=True)
class ActionFinished:
    at: float
    action_id: int | None
    kind: str  # power_on | power_off | cleanup | ...
    node: str
    template: str
    ok: bool
    error: str = ""
    seconds: float = 0.0  # how long the provider call took


@dataclass(frozen=True)
class InstanceTerminated:
    """Reconciliation ended an owned instance (duplicate, orphan, or of a node given up on)."""

    at: float
    node: str  # the node name the instance is tagged with (may be unknown to the config)
    provider_id: str
    reason: str


@dataclass(frozen=True)
class PlanEvent:
    at: float
    snapshot: ClusterSnapshot
    plan: Plan
    seconds: float  # wall time of plan()
    # demand key -> when the daemon first saw it (for reaction-time metrics)
    first_seen: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PassFinished:
    """One pass of the loop ended (see `clues_py.daemon.passes`)."""

    at: float
    seconds: float  # wall time of the whole pass: observe, FSM, plan, act, record
    kind: str  # full | incremental
    changed: int


Event = (
    TransitionEvent
    | ActionStarted
    | ActionCalled
    | ActionFinished
    | InstanceTerminated
    | PlanEvent
    | PassFinished
)
Listener = Callable[[Any], None]


class Bus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on %s", listener, type(event).__name__)
