"""Test-only fault injection: cluesd kills itself with SIGKILL at a named point.

Set `CLUES_TEST_CRASH_AT=POINT[,POINT...]` in cluesd's environment (tests and
`bench/chaos.py` only; never in production: nothing else reads it) and the process sends
itself SIGKILL the first time it reaches one of the points, exactly as `kill -9` from
outside would, but at a moment no outside observer can hit reliably:

- `power_on_sent`: the POWERING_ON intent is stored, the provider's power_on not called;
- `power_on_called`: power_on returned, its outcome (the provider id) not recorded;
- `power_off_sent`: the POWERING_OFF intent is stored, the provider's power_off not called;
- `drain_started`: the DRAINING state is stored, the node not cordoned yet.

The actuator calls `crash_point()` at those places; with the variable unset it costs one
frozenset lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "CLUES_TEST_CRASH_AT"
POINTS = frozenset({"power_on_sent", "power_on_called", "power_off_sent", "drain_started"})
_ARMED = frozenset(p.strip() for p in os.environ.get(ENV, "").split(",") if p.strip())


def crash_point(point: str) -> None:
    """SIGKILL this process now if `point` is armed (see the module docstring)."""
    if point in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
