"""The loop's wake-ups: no watch event may go without a pass (real threads, no clock
tricks; the only waits are "never happened" bounds)."""

from __future__ import annotations

import threading
import time

from clues_py.daemon.loop import Loop, Wakeup

NEVER = 10.0  # s: a pass that has not run by then is lost


class Host:
    """Nothing is ever due; the tick is short, so the loop keeps timing out."""

    def __init__(self, loop_tick: float = 0.01) -> None:
        self._tick = loop_tick
        self.passes = 0
        self.ran = threading.Event()
        self.during_pass: list[Loop] = []

    def now(self) -> float:
        return time.monotonic()

    def tick(self) -> float:
        return self._tick

    def next_due(self) -> float:
        return float("inf")

    def run_once(self) -> None:
        self.passes += 1
        for loop in self.during_pass:
            loop.wake()  # a watch event while the pass runs
        self.during_pass.clear()
        self.ran.set()

    def pass_failed(self) -> None:
        raise AssertionError("no pass fails here")


def _serve(loop: Loop) -> threading.Thread:
    t = threading.Thread(target=loop.serve_forever, daemon=True)
    t.start()
    return t


def test_a_wakeup_set_after_a_timed_out_wait_is_seen_by_the_next_wait() -> None:
    w = Wakeup()
    assert w.wait(0.01) is False
    w.set()
    assert w.is_set()
    assert w.wait(NEVER) is True
    assert not w.is_set() and w.wait(0.01) is False


class _LateSet(Wakeup):
    """An event that lands just as the first timed-out wait returns (the window in which
    threading.Event's wait-then-clear lost it)."""

    def __init__(self) -> None:
        super().__init__()
        self.landed = False

    def wait(self, timeout: float | None) -> bool:
        woke = super().wait(timeout)
        if not woke and not self.landed:
            self.landed = True
            self.set()
        return woke


def test_an_event_landing_as_the_wait_times_out_still_gets_a_pass() -> None:
    host = Host()
    loop = Loop(host)
    loop.wakeup = _LateSet()
    t = _serve(loop)
    try:
        assert host.ran.wait(NEVER), "the event that landed after a timeout got no pass"
        assert host.passes == 1
    finally:
        loop.stop()
        t.join(NEVER)


def test_an_event_during_a_pass_runs_one_more_pass() -> None:
    host = Host()
    loop = Loop(host)
    host.during_pass.append(loop)
    t = _serve(loop)
    try:
        loop.wake()
        deadline = time.monotonic() + NEVER
        while host.passes < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert host.passes == 2
    finally:
        loop.stop()
        t.join(NEVER)
    assert not t.is_alive()


def test_a_burst_of_wakeups_is_one_pass() -> None:
    host = Host(loop_tick=NEVER)
    loop = Loop(host)
    for _ in range(100):
        loop.wake()
    t = _serve(loop)
    try:
        assert host.ran.wait(NEVER)
        host.ran.clear()
        # Nothing else woke it: no second pass within a few debounce periods.
        assert not host.ran.wait(0.3)
        assert host.passes == 1
    finally:
        loop.stop()
        t.join(NEVER)
