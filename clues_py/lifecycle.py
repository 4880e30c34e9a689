"""Node lifecycle FSM: a pure transition table and `advance(node, fact, now, t)`.

A `Fact` is something that happened to one node: an action the daemon took
(POWER_ON_SENT, DRAIN_STARTED...), a failure it saw (POWER_ON_FAILED), what the
cluster or the provider shows (OBSERVED, PROVIDER_OFF/ON), the passing of time
(TICK) or an operator verb (RESET, ENABLE, DISABLE). `advance` looks the pair
(state, fact kind) up in `TABLE` and returns a `Transition` with the new node and
a human reason. Pairs missing from the table are no-ops (changed=False, same node).

This module does no I/O and never reads the clock: the daemon (or the simulator)
passes `now`, persists the new node (store) and performs the actions (actuator).
Timeouts, back-off and when the next TICK matters are `timeouts.py`'s (re-exported here).

Table (S = IDLE if the observation has no workload pods, else USED):

    state         fact            -> target (condition)
    OFF           POWER_ON_SENT   -> POWERING_ON (since=now)
    OFF           POWER_ON_FAILED -> ON_ERROR (attempts+1, retry_at=now+backoff)
    OFF           OBSERVED        -> S if Ready ("appeared without us: adopted")
    OFF           PROVIDER_ON     -> POWERING_ON ("running though we did not start it")
    POWERING_ON   OBSERVED        -> S if Ready (attempts reset)
    POWERING_ON   POWER_ON_FAILED -> ON_ERROR (attempts+1, retry_at)
    POWERING_ON   TICK            -> ON_ERROR once now >= since+boot
    POWERING_ON/OFF INTENT_RESUMED -> same state (since=now: a fresh timeout, no attempt)
    ON_ERROR      TICK            -> OFF once now >= retry_at and attempts < max_retries
                                     (else stays: "gave up after N failed power-ons")
    ON_ERROR      OBSERVED        -> S if Ready ("late boot: recovered")
    ON_ERROR      POWER_OFF_SENT  -> ON_ERROR (clean-up power-off; state kept)
    IDLE/USED     OBSERVED        -> S if Ready; UNKNOWN if NotReady/missing for
                                     unknown_grace since seen_ready_at
    IDLE/USED     TICK            -> UNKNOWN likewise
    IDLE/USED     DRAIN_STARTED   -> DRAINING (since=now)
    IDLE/USED/DRAINING/UNKNOWN PROVIDER_OFF -> OFF when the node is not Ready
    DRAINING      DRAIN_ABORTED   -> S
    DRAINING      TICK            -> S once now >= since+drain
    DRAINING      POWER_OFF_SENT  -> POWERING_OFF (only from a drain: a node back in service
                                     refuses it, and the provider is not called)
    POWERING_OFF  OBSERVED        -> OFF if missing (attempts reset)
    POWERING_OFF  PROVIDER_OFF    -> OFF (attempts reset)
    POWERING_OFF  TICK            -> OFF_ERROR once now >= since+shutdown
    IDLE/DRAINING/POWERING_OFF/UNKNOWN/OFF_ERROR POWER_OFF_FAILED -> OFF_ERROR (attempts+1)
    OFF_ERROR     OBSERVED        -> OFF if missing
    OFF_ERROR     PROVIDER_OFF    -> OFF
    OFF_ERROR     POWER_OFF_SENT  -> POWERING_OFF (retry; attempts kept)
    OFF_ERROR     TICK            -> stays (`retry_due` says when the daemon retries;
                                     after max_retries it gives up until RESET)
    ON_ERROR/OFF_ERROR PROVIDER_GONE -> OFF once given up (no instance of it is left)
    UNKNOWN       OBSERVED        -> S if Ready
    any           RESET           -> OFF if not Ready, else S (attempts=0, error cleared)
    any           ENABLE/DISABLE  -> same state, `enabled` toggled

OBSERVED always refreshes bookkeeping first, whatever the state: `observed`,
`seen_ready_at` (when Ready) and `last_used` (when workload pods run). `changed`
is True when anything but that bookkeeping changed. A caller that applies an observation
only when it changed calls `carry_forward` first (the old observation held until now), and
`tick_due` says from when a TICK can change a node, so it need not tick every node. The
timeouts, the back-off and `tick_due` live in `timeouts.py` (re-exported here).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from clues_py.model import ManagedNode, NodeObservation, NodeState
from clues_py.timeouts import Timeouts, backoff, retry_due, tick_due

__all__ = [
    "TABLE",
    "Fact",
    "FactKind",
    "Rule",
    "Timeouts",
    "Transition",
    "advance",
    "backoff",
    "carry_forward",
    "retry_due",
    "tick_due",
]

S = NodeState


class FactKind(enum.StrEnum):
    POWER_ON_SENT = "power_on_sent"
    POWER_ON_FAILED = "power_on_failed"
    DRAIN_STARTED = "drain_started"
    DRAIN_ABORTED = "drain_aborted"
    POWER_OFF_SENT = "power_off_sent"
    POWER_OFF_FAILED = "power_off_failed"
    OBSERVED = "observed"
    PROVIDER_OFF = "provider_off"
    PROVIDER_ON = "provider_on"
    # A step stored as sent was found made, or made again, after a restart (recovery.py).
    INTENT_RESUMED = "intent_resumed"
    # Reconciliation: no live instance is left of a node given up on.
    PROVIDER_GONE = "provider_gone"
    TICK = "tick"
    RESET = "reset"
    ENABLE = "enable"
    DISABLE = "disable"


@dataclass(frozen=True)
class Fact:
    kind: FactKind
    detail: str = ""
    # For OBSERVED: the node as the cluster shows it now; None = not registered.
    observation: NodeObservation | None = None


@dataclass(frozen=True)
class Transition:
    node: ManagedNode
    old: NodeState
    new: NodeState
    reason: str
    changed: bool


# A handler returns (new node, reason), or None when the fact changes nothing now.
_Out = tuple[ManagedNode, str] | None
Handler = Callable[[ManagedNode, Fact, float, Timeouts], _Out]


@dataclass(frozen=True)
class Rule:
    """One table entry: the states it may lead to and the function deciding which."""

    targets: frozenset[NodeState]
    handler: Handler


# --------------------------------------------------------------------------- helpers


def _serving_state(obs: NodeObservation | None) -> NodeState:
    return S.USED if obs is not None and obs.workload_pods else S.IDLE


def _ready(obs: NodeObservation | None) -> bool:
    return obs is not None and obs.ready


def _fail(
    node: ManagedNode, state: NodeState, error: str, now: float, t: Timeouts, what: str
) -> tuple[ManagedNode, str]:
    attempts = node.attempts + 1
    wait = backoff(attempts, t)
    new = node.with_(
        state=state, since=now, attempts=attempts, retry_at=now + wait, last_error=error
    )
    if attempts >= t.max_retries:
        tail = f"attempt {attempts} of {t.max_retries}: giving up until RESET"
    else:
        tail = f"attempt {attempts} of {t.max_retries}: retry in {wait:.0f} s"
    return new, f"{what}: {error} ({tail})"


def _to_serving(
    node: ManagedNode, now: float, reason: str, *, reset: bool = False
) -> tuple[ManagedNode, str]:
    state = _serving_state(node.observed)
    changes: dict[str, object] = {"state": state}
    if state != node.state:
        changes["since"] = now
    if reset:
        changes.update(attempts=0, retry_at=0.0, last_error="")
    return node.with_(**changes), reason


def _busy_word(node: ManagedNode) -> str:
    n = len(node.workload_pods)
    return f"{n} workload pod{'s' if n != 1 else ''}" if n else "no workload pods"


# --------------------------------------------------------------------------- handlers


def _power_on_sent(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    return node.with_(state=S.POWERING_ON, since=now), "power-on sent" + (
        f": {fact.detail}" if fact.detail else ""
    )


def _power_on_failed(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    return _fail(node, S.ON_ERROR, fact.detail or "power-on failed", now, t, "power-on failed")


def _adopt(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if not node.ready:
        return None
    return _to_serving(node, now, f"appeared without us: adopted ({_busy_word(node)})")


def _provider_on_while_off(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    return node.with_(state=S.POWERING_ON, since=now), (
        "provider reports it running though we did not start it; waiting for it to register"
    )


def _booted(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if not node.ready:
        return None
    return _to_serving(
        node, now, f"Ready after {now - node.since:.0f} s ({_busy_word(node)})", reset=True
    )


def _boot_timeout(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if now < node.since + t.boot:
        return None
    return _fail(node, S.ON_ERROR, f"not Ready after {t.boot:.0f} s", now, t, "boot timeout")


def _on_error_tick(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if node.attempts >= t.max_retries:
        return node, f"gave up after {node.attempts} failed power-ons; RESET to retry"
    if now < node.retry_at:
        return None
    return node.with_(state=S.OFF, since=now), (
        f"retry delay over after {node.attempts} failed power-on(s): eligible again"
    )


def _late_boot(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if not node.ready:
        return None
    return _to_serving(node, now, f"late boot: recovered ({_busy_word(node)})", reset=True)


def _cleanup_off(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    return node, "clean-up power-off of a failed node; state kept"


def _serving_observed(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if node.ready:
        new_state = _serving_state(node.observed)
        if new_state == node.state:
            return None
        if new_state == S.USED:
            return _to_serving(node, now, f"running {_busy_word(node)}")
        return _to_serving(node, now, "no workload pods left")
    return _maybe_unknown(node, fact, now, t)


def _maybe_unknown(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if node.ready or now - node.seen_ready_at < t.unknown_grace:
        return None
    what = "missing from the cluster" if node.observed is None else "NotReady"
    return node.with_(state=S.UNKNOWN, since=now), (
        f"{what} for {now - node.seen_ready_at:.0f} s >= unknown_grace {t.unknown_grace:.0f} s"
    )


def _drain_started(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    return node.with_(state=S.DRAINING, since=now), "drain started" + (
        f": {fact.detail}" if fact.detail else ""
    )


def _drain_aborted(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    return _to_serving(node, now, "drain aborted" + (f": {fact.detail}" if fact.detail else ""))


def _drain_timeout(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if now < node.since + t.drain:
        return None
    return _to_serving(node, now, f"drain not finished after {t.drain:.0f} s; back in service")


def _power_off_sent(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    return node.with_(state=S.POWERING_OFF, since=now), "power-off sent" + (
        f": {fact.detail}" if fact.detail else ""
    )


def _power_off_failed(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    return _fail(node, S.OFF_ERROR, fact.detail or "power-off failed", now, t, "power-off failed")


def _gone(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if node.observed is not None:
        return None
    return node.with_(state=S.OFF, since=now, attempts=0, retry_at=0.0, last_error=""), (
        "node gone from the cluster: off"
    )


def _provider_off(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    return node.with_(state=S.OFF, since=now, attempts=0, retry_at=0.0, last_error=""), (
        "provider reports it off"
    )


def _provider_off_unexpected(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if node.ready:
        return node, "provider reports it off but the cluster shows it Ready; ignored"
    return node.with_(state=S.OFF, since=now), "provider reports it off unexpectedly"


def _shutdown_timeout(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if now < node.since + t.shutdown:
        return None
    return _fail(
        node, S.OFF_ERROR, f"still present after {t.shutdown:.0f} s", now, t, "shutdown timeout"
    )


def _intent_resumed(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    return node.with_(since=now), "after a restart" + (f": {fact.detail}" if fact.detail else "")


def _gone_after_giving_up(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if node.attempts < t.max_retries or node.ready:
        return None
    new = node.with_(state=S.OFF, since=now, attempts=0, retry_at=0.0)
    return new, f"given up, and no instance of it is left: off ({fact.detail or 'provider'})"


def _off_error_tick(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if node.attempts >= t.max_retries:
        return node, f"gave up after {node.attempts} failed power-offs; RESET to retry"
    if now < node.retry_at:
        return None
    return node, "power-off retry due"


def _back(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if not node.ready:
        return None
    return _to_serving(node, now, f"Ready again ({_busy_word(node)})")


def _reset(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    state = _serving_state(node.observed) if node.ready else S.OFF
    new = node.with_(state=state, since=now, attempts=0, retry_at=0.0, last_error="")
    return new, f"reset by operator -> {state}" + (f": {fact.detail}" if fact.detail else "")


def _enable(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if node.enabled:
        return None
    return node.with_(enabled=True), "enabled by operator"


def _disable(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> _Out:
    if not node.enabled:
        return None
    return node.with_(enabled=False), "disabled by operator"


# --------------------------------------------------------------------------- the table

K = FactKind
_SERVING = frozenset({S.IDLE, S.USED})


def _rule(handler: Handler, *targets: NodeState | frozenset[NodeState]) -> Rule:
    flat: set[NodeState] = set()
    for x in targets:
        flat |= x if isinstance(x, frozenset) else {x}
    return Rule(frozenset(flat), handler)


_SPECIFIC: dict[tuple[NodeState, FactKind], Rule] = {
    (S.OFF, K.POWER_ON_SENT): _rule(_power_on_sent, S.POWERING_ON),
    (S.OFF, K.POWER_ON_FAILED): _rule(_power_on_failed, S.ON_ERROR),
    (S.OFF, K.OBSERVED): _rule(_adopt, _SERVING),
    (S.OFF, K.PROVIDER_ON): _rule(_provider_on_while_off, S.POWERING_ON),
    (S.POWERING_ON, K.OBSERVED): _rule(_booted, _SERVING),
    (S.POWERING_ON, K.POWER_ON_FAILED): _rule(_power_on_failed, S.ON_ERROR),
    (S.POWERING_ON, K.TICK): _rule(_boot_timeout, S.ON_ERROR),
    (S.POWERING_ON, K.INTENT_RESUMED): _rule(_intent_resumed, S.POWERING_ON),
    (S.ON_ERROR, K.TICK): _rule(_on_error_tick, S.OFF, S.ON_ERROR),
    (S.ON_ERROR, K.OBSERVED): _rule(_late_boot, _SERVING),
    (S.ON_ERROR, K.POWER_OFF_SENT): _rule(_cleanup_off, S.ON_ERROR),
    (S.DRAINING, K.DRAIN_ABORTED): _rule(_drain_aborted, _SERVING),
    (S.DRAINING, K.TICK): _rule(_drain_timeout, _SERVING),
    (S.DRAINING, K.POWER_OFF_SENT): _rule(_power_off_sent, S.POWERING_OFF),
    (S.DRAINING, K.PROVIDER_OFF): _rule(_provider_off_unexpected, S.OFF, S.DRAINING),
    (S.DRAINING, K.POWER_OFF_FAILED): _rule(_power_off_failed, S.OFF_ERROR),
    (S.IDLE, K.POWER_OFF_FAILED): _rule(_power_off_failed, S.OFF_ERROR),
    (S.POWERING_OFF, K.OBSERVED): _rule(_gone, S.OFF),
    (S.POWERING_OFF, K.PROVIDER_OFF): _rule(_provider_off, S.OFF),
    (S.POWERING_OFF, K.TICK): _rule(_shutdown_timeout, S.OFF_ERROR),
    (S.POWERING_OFF, K.INTENT_RESUMED): _rule(_intent_resumed, S.POWERING_OFF),
    (S.POWERING_OFF, K.POWER_OFF_FAILED): _rule(_power_off_failed, S.OFF_ERROR),
    (S.OFF_ERROR, K.OBSERVED): _rule(_gone, S.OFF),
    (S.OFF_ERROR, K.PROVIDER_OFF): _rule(_provider_off, S.OFF),
    (S.OFF_ERROR, K.POWER_OFF_SENT): _rule(_power_off_sent, S.POWERING_OFF),
    (S.OFF_ERROR, K.POWER_OFF_FAILED): _rule(_power_off_failed, S.OFF_ERROR),
    (S.OFF_ERROR, K.TICK): _rule(_off_error_tick, S.OFF_ERROR),
    (S.OFF_ERROR, K.PROVIDER_GONE): _rule(_gone_after_giving_up, S.OFF),
    (S.ON_ERROR, K.PROVIDER_GONE): _rule(_gone_after_giving_up, S.OFF),
    (S.UNKNOWN, K.OBSERVED): _rule(_back, _SERVING),
    (S.UNKNOWN, K.PROVIDER_OFF): _rule(_provider_off, S.OFF),
    (S.UNKNOWN, K.POWER_OFF_FAILED): _rule(_power_off_failed, S.OFF_ERROR),
}
for _st in (S.IDLE, S.USED):
    _SPECIFIC[(_st, K.OBSERVED)] = _rule(_serving_observed, _SERVING, S.UNKNOWN)
    _SPECIFIC[(_st, K.TICK)] = _rule(_maybe_unknown, S.UNKNOWN)
    _SPECIFIC[(_st, K.DRAIN_STARTED)] = _rule(_drain_started, S.DRAINING)
    _SPECIFIC[(_st, K.PROVIDER_OFF)] = _rule(_provider_off_unexpected, S.OFF, _st)
for _st in S:
    _SPECIFIC[(_st, K.RESET)] = _rule(_reset, S.OFF, _SERVING)
    _SPECIFIC[(_st, K.ENABLE)] = _rule(_enable, _st)
    _SPECIFIC[(_st, K.DISABLE)] = _rule(_disable, _st)

TABLE: Mapping[tuple[NodeState, FactKind], Rule] = dict(_SPECIFIC)


def _bookkeep(node: ManagedNode, obs: NodeObservation | None, now: float) -> ManagedNode:
    changes: dict[str, object] = {} if obs is node.observed else {"observed": obs}
    if obs is not None and obs.ready and node.seen_ready_at != now:
        changes["seen_ready_at"] = now
    if obs is not None and obs.workload_pods and node.last_used != now:
        changes["last_used"] = now
    return node.with_(**changes) if changes else node  # nothing new: no node to store again


def carry_forward(
    node: ManagedNode, now: float, coming: NodeObservation | None = None
) -> ManagedNode:
    """`node` as if its current observation had been applied again at `now`: for a caller
    that applies observations only when they change, the old one held until then (`node`
    itself when the observation `coming` next is that one: `advance` does the same)."""
    obs = node.observed
    if obs is None or obs is coming or not (obs.ready or obs.workload_pods):
        return node
    return _bookkeep(node, obs, now)


def advance(node: ManagedNode, fact: Fact, now: float, t: Timeouts) -> Transition:
    """Apply one fact to one node. Never raises for a fact that does not apply."""
    base = _bookkeep(node, fact.observation, now) if fact.kind is K.OBSERVED else node
    rule = TABLE.get((node.state, fact.kind))
    out = rule.handler(base, fact, now, t) if rule is not None else None
    if out is None:
        return Transition(
            base,
            node.state,
            node.state,
            f"{fact.kind} changes nothing in state {node.state}",
            False,
        )
    new, reason = out
    return Transition(new, node.state, new.state, reason, new != base)
