"""`HeapSettler`: a full pass puts the live objects out of the collector's sight; an
incremental pass leaves the collector alone. `StartupHeap`: the collector paused until
cluesd's first pass (a virtual clock for the pause limit).

Nothing is faked: the real `gc` module. Each test puts the collector back as it found it
(enabled, nothing frozen)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from clues_py.daemon.bus import Bus, PassFinished
from clues_py.daemon.heap import (
    RUN_YOUNG_THRESHOLD,
    HeapSettler,
    StartupHeap,
    settled_run,
    trim_heap,
)


def test_full_passes_freeze_the_heap_and_incremental_ones_do_not() -> None:
    bus = Bus()
    settler = HeapSettler().attach(bus)
    try:
        bus.publish(PassFinished(1.0, 0.001, "incremental", 1))
        assert settler.freezes == 0
        bus.publish(PassFinished(2.0, 0.3, "full", 5000))
        assert settler.freezes == 1
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process keeps its own collector policy


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.unfreeze()
    if was:
        gc.enable()


def test_paused_until_the_first_pass_then_collected_frozen_and_back() -> None:
    now = [0.0]
    heap = StartupHeap(limit=600.0, clock=lambda: now[0])
    assert not gc.isenabled()
    cycle: list[object] = []
    cycle.append(cycle)  # cyclic garbage made during start-up
    del cycle
    now[0] = 599.0
    assert heap.settle(started=False) is False and not gc.isenabled()
    assert heap.settle(started=True) is True
    assert gc.isenabled() and heap.settled
    assert gc.get_freeze_count() > 0  # the survivors are skipped by later collections
    assert heap.settle(started=True) is True  # once


def test_the_limit_brings_the_collector_back_without_a_pass() -> None:
    now = [0.0]
    heap = StartupHeap(limit=10.0, clock=lambda: now[0])
    now[0] = 10.0
    assert heap.settle(started=False) is True and gc.isenabled()


def test_restore_when_start_up_ends_early_neither_collects_nor_freezes() -> None:
    gc.unfreeze()
    heap = StartupHeap()
    heap.restore()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert heap.settle(started=True) is True and gc.get_freeze_count() == 0


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    heap = StartupHeap()
    heap.settle(started=True)
    assert not gc.isenabled()


def test_trim_heap_runs_on_glibc() -> None:
    assert isinstance(trim_heap(), bool)


def test_a_settled_run_freezes_after_full_passes_and_gives_everything_back() -> None:
    bus = Bus()
    with settled_run(bus):
        assert gc.get_freeze_count() > 0  # the start-up heap (imports, the scenario)
        young = [[i] for i in range(1000)]
        frozen = gc.get_freeze_count()
        bus.publish(PassFinished(1.0, 0.01, "incremental", 1))
        assert gc.get_freeze_count() == frozen
        bus.publish(PassFinished(2.0, 0.3, "full", 250))
        assert gc.get_freeze_count() >= frozen + len(young)
    assert gc.get_freeze_count() == 0
    bus.publish(PassFinished(3.0, 0.3, "full", 250))  # no longer listening
    assert gc.get_freeze_count() == 0
    # A cycle that becomes garbage after a freeze is out of the collector's sight until
    # the run ends (a finished simulation is such a cycle): then it is collected.
    with settled_run(bus):
        box = _Box()
        gone = weakref.ref(box)
        bus.publish(PassFinished(4.0, 0.3, "full", 250))
        del box
        gc.collect()
        assert gone() is not None
    assert gone() is None


class _Box:
    def __init__(self) -> None:
        self.me = self


def test_a_settled_run_collects_the_young_less_often_and_puts_the_thresholds_back() -> None:
    before = gc.get_threshold()
    with settled_run(Bus()):
        assert gc.get_threshold() == (max(before[0], RUN_YOUNG_THRESHOLD), *before[1:])
    assert gc.get_threshold() == before
    gc.set_threshold(RUN_YOUNG_THRESHOLD * 2, *before[1:])  # a caller's higher one is kept
    try:
        with settled_run(Bus()):
            assert gc.get_threshold()[0] == RUN_YOUNG_THRESHOLD * 2
    finally:
        gc.set_threshold(*before)
