"""Clocks: wall time for the daemon, a virtual one for the simulator and the tests."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class VirtualClock:
    """Time moves only when `advance` is called; `sleep` advances it (single-threaded sim)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        # No lock: reading one float is atomic, and writers only move it forward (the
        # simulator reads it hundreds of thousands of times per simulated hour).
        return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += max(seconds, 0.0)
            return self._now

    def set(self, t: float) -> None:
        with self._lock:
            self._now = max(self._now, t)

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


class ScaledClock:
    """Wall time running `speed` times faster from `start` (for `clues demo --speed`)."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        self.speed = speed
        self._t0 = time.monotonic()
        self._start = time.time() if start is None else start

    def now(self) -> float:
        return self._start + (time.monotonic() - self._t0) * self.speed

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self.speed)
