"""`HeapSettler`: a full pass puts the live objects out of the collector's sight; an
incremental pass leaves the collector alone."""

from __future__ import annotations

import gc

from clues_py.daemon.bus import Bus, PassFinished
from clues_py.daemon.heap import HeapSettler


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
