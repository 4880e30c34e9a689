"""How current the daemon's view of the cluster is, and what may be done on it.

The backend says how old its caches are: `data_age()` is 0 while every watch is up, the
seconds since the first one went down while any is down, and inf before the first sync (a
backend without `data_age` is current whenever `synced()` is true). From that and the
`max_data_age` setting:

- `pass_allowed()`: the daemon plans and advances timeouts only on data no older than the
  bound; past it a pass does nothing (timeouts freeze with the view: a node cannot be seen
  to boot or leave while the watch is down);
- `live()`: a new drain starts only while every watch is up;
- `too_old()`: the actuator's pre-call check, right before cordoning or evicting and right
  before the power-off call that ends a drain: None, or why not.

Each change between current, stale and beyond the bound is logged once. What the daemon
does with these answers is `daemon.py`'s and the actuator's business.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from clues_py.contracts import Backend

log = logging.getLogger("clues.daemon")


def data_age(backend: Backend) -> float:
    """Seconds since `backend`'s view was last known current (see the module docstring)."""
    age = getattr(backend, "data_age", None)
    if callable(age):
        return float(age())
    return 0.0 if backend.synced() else float("inf")


class Freshness:
    def __init__(self, backend: Backend, bound: Callable[[], float]) -> None:
        self._backend = backend
        self._bound = bound  # read at each check: a reload may change max_data_age
        self._lock = threading.Lock()
        self._state = "unsynced"  # unsynced | current | stale | too old

    def age(self) -> float:
        return data_age(self._backend)

    def live(self) -> bool:
        """Every watch is up: the view is as current as the watches make it."""
        return self._note(self.age()) == "current"

    def pass_allowed(self) -> bool:
        """The view is no older than `max_data_age`: planning and timeouts may run."""
        return self._note(self.age()) in ("current", "stale")

    def too_old(self) -> str | None:
        """None when a drain may go on now; else why not (for logs and action records)."""
        age = self.age()
        if self._note(age) in ("current", "stale"):
            return None
        if age == float("inf"):
            return "the cluster view is not synced yet"
        return f"cluster data is {age:.0f} s old (> max_data_age {self._bound():g} s)"

    def _note(self, age: float) -> str:
        if age == float("inf"):
            state = "unsynced"
        elif age <= 0.0:
            state = "current"
        elif age <= self._bound():
            state = "stale"
        else:
            state = "too old"
        with self._lock:
            old, self._state = self._state, state
        if state != old and old != "unsynced":
            if state == "too old":
                log.warning(
                    "cluster data older than max_data_age (%g s): no planning, drain or "
                    "power-off until the watch is back",
                    self._bound(),
                )
            elif state == "current" and old == "too old":
                log.info("cluster data current again: planning resumes")
        return state
