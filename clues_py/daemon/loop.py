"""When cluesd runs a pass: on events, when something falls due, and periodic tasks.

`Loop` waits on the daemon's wake-up event (watch changes, actuator reports, operator
verbs) or until `next_due()` (lifecycle timeouts, plan revisits, in-progress steps, the
backend's deadlines), bounded by the tick; a burst of events is coalesced into one pass.
A wake-up with nothing due and no event runs the periodic tasks only (reconciliation):
a quiet cluster costs no planning. What a pass does is `daemon.py`'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("clues.daemon")

# Coalesce bursts of watch events (one pod batch = hundreds of events) into one pass.
DEBOUNCE_SECONDS = 0.05


class Wakeup:
    """A wake-up flag that a wait takes atomically. `threading.Event`'s wait-then-clear
    loses a set() that lands between a timed-out wait and the clear(): the watch event
    behind it then got no pass until something else happened (seconds, or never on a
    quiet cluster). Here a set() after the wait returned stays set for the next one."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._flag = False

    def set(self) -> None:
        with self._cond:
            self._flag = True
            self._cond.notify_all()

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None) -> bool:
        """Wait until set or `timeout`; True (and the flag taken) when it was set."""
        with self._cond:
            if not self._flag:
                self._cond.wait(timeout)
            woke, self._flag = self._flag, False
            return woke

    def take(self) -> None:
        """Drop a pending wake-up: the pass about to run covers what set it."""
        with self._cond:
            self._flag = False


class LoopHost(Protocol):
    def now(self) -> float: ...
    def tick(self) -> float: ...
    def next_due(self) -> float: ...
    def run_once(self) -> Any: ...
    def pass_failed(self) -> None: ...


class Loop:
    def __init__(self, host: LoopHost) -> None:
        self._host = host
        self.wakeup = Wakeup()
        self.stop_event = threading.Event()
        # (interval seconds, task(now), next due) run from the loop, e.g. reconciliation.
        self._periodic: list[list[Any]] = []

    def add_periodic(self, interval: float, task: Callable[[float], None]) -> None:
        """Run `task(now)` from the loop every `interval` seconds (first run at start-up)."""
        self._periodic.append([interval, task, float("-inf")])

    def run_periodic(self) -> None:
        now = self._host.now()
        for entry in self._periodic:
            interval, task, due = entry
            if now >= due:
                entry[2] = now + interval
                try:
                    task(now)
                except Exception:
                    log.exception("periodic task %r failed", task)

    def serve_forever(self) -> None:
        """Run passes until stopped: when an event wakes the loop or something falls due;
        the tick (read every time: a reload may change it) bounds the wait for periodic tasks."""
        h = self._host
        while not self.stop_event.is_set():
            wait = max(DEBOUNCE_SECONDS, h.next_due() - h.now())
            woke = self.wakeup.wait(timeout=min(h.tick(), wait))
            if self.stop_event.is_set():
                break
            if woke:
                time.sleep(DEBOUNCE_SECONDS)
                # The burst's later events are this pass's too: it observes after them. One
                # set after this take() runs one more pass, never none.
                self.wakeup.take()
            try:
                self.run_periodic()
                if woke or h.next_due() <= h.now():
                    h.run_once()
            except Exception:
                h.pass_failed()
                log.exception("planning pass failed; retrying on the next event or tick")

    def wake(self) -> None:
        self.wakeup.set()

    def stop(self) -> None:
        self.stop_event.set()
        self.wakeup.set()
