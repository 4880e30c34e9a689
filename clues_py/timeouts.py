"""Lifecycle timing: timeouts, retry back-off, and when a node's next timeout falls due.

`Timeouts` holds the limits the FSM (`lifecycle.py`) applies on TICK facts; `backoff` and
`retry_due` say when a node in an *_ERROR state may be retried; `tick_due` says when a TICK
can next change a node, so the daemon can sleep until then instead of ticking blindly.
Pure: no I/O, no clock (`now` and the node's own times are passed in). The transitions
themselves are `lifecycle.py`'s; it re-exports these names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clues_py.model import ManagedNode, NodeState, due_at

S = NodeState
_SERVING = frozenset({S.IDLE, S.USED})


@dataclass(frozen=True)
class Timeouts:
    boot: float = 600
    drain: float = 300
    shutdown: float = 300
    max_retries: int = 3
    backoff_base: float = 30
    backoff_max: float = 900
    # How long a node that was Ready may be NotReady or missing before it is UNKNOWN.
    unknown_grace: float = 60


def backoff(attempts: int, t: Timeouts) -> float:
    """Delay before retry number `attempts` (1-based): base * 2**(attempts-1), capped."""
    if attempts <= 0:
        return 0.0
    # Cap the exponent too so that huge attempt counts cannot overflow.
    return float(min(t.backoff_max, t.backoff_base * 2 ** min(attempts - 1, 62)))


def retry_due(node: ManagedNode, now: float, t: Timeouts) -> bool:
    """True when an *_ERROR node may be retried now (the daemon re-sends the power action)."""
    return node.attempts < t.max_retries and now >= node.retry_at


def tick_due(node: ManagedNode, t: Timeouts) -> float:
    """The earliest time at which a TICK can change `node` (inf: never, until another fact).

    Before it, `advance(node, TICK, now, t)` changes nothing; from it on, it does.
    """
    s = node.state
    if s is S.POWERING_ON:
        return node.since + t.boot
    if s is S.DRAINING:
        return node.since + t.drain
    if s is S.POWERING_OFF:
        return node.since + t.shutdown
    if s is S.ON_ERROR:
        return node.retry_at if node.attempts < t.max_retries else math.inf
    if s in _SERVING and not node.ready:
        return due_at(node.seen_ready_at, t.unknown_grace)
    return math.inf
