"""Garbage collection for a process that holds a large, long-lived cluster cache (cluesd).

At 5,000 nodes / 150,000 pods the watch caches, the observations and the managed nodes are
about a million objects that live as long as the process. CPython's cycle collector scans
all of them each time a quarter more have survived since its last full collection; a full
pass (a new state for every node) sets one off, and it cost as much as the pass itself
(~250 ms), at a moment no one chooses (an incremental pass, a pod's reaction time).

After each full pass `HeapSettler` collects the young generations and then moves every
object alive into the permanent generation (`gc.freeze`): those objects are still freed as
soon as nothing refers to them, but later collections only scan what was created since.
A reference cycle that was already garbage in the old generation at that moment is never
collected; the old generation is collected often and cheaply between full passes (it only
holds what survived since the last freeze), so that stays small. Only the cluesd process
installs it (`service.main`): the collector is process-wide, and a library user or a test
process keeps its own policy. Nothing here knows what a pass does.
"""

from __future__ import annotations

import gc
import logging
import time

from clues_py.daemon.bus import Bus, PassFinished

log = logging.getLogger("clues.daemon")

__all__ = ["HeapSettler"]


class HeapSettler:
    def __init__(self) -> None:
        self.freezes = 0

    def attach(self, bus: Bus) -> HeapSettler:
        bus.subscribe(self.on_event)
        return self

    def on_event(self, event: object) -> None:
        if isinstance(event, PassFinished) and event.kind == "full":
            self.settle()

    def settle(self) -> None:
        """Collect the young generations, then put every live object out of the collector's
        sight (called from the loop thread, between passes)."""
        t0 = time.perf_counter()
        gc.collect(1)
        gc.freeze()
        self.freezes += 1
        log.debug(
            "heap settled in %.3f s: %d objects out of the collector's sight",
            time.perf_counter() - t0,
            gc.get_freeze_count(),
        )
