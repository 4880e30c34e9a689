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

Start-up (`StartupHeap`, decision 0023): the initial sync allocates millions of small
containers (parsed JSON, then the converted pods that stay), and each burst set the
collector off over the growing cache: at 150,000 pods it more than doubled the CPU of the
list. So cluesd pauses the collector from process start until its first pass (or
`PAUSE_LIMIT`), then collects once, freezes the survivors, and returns freed memory to the
OS (glibc `malloc_trim`, `trim_heap`).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from clues_py.daemon.bus import Bus, PassFinished

log = logging.getLogger("clues.daemon")

__all__ = [
    "PAUSE_LIMIT",
    "RUN_YOUNG_THRESHOLD",
    "HeapSettler",
    "StartupHeap",
    "settled_run",
    "trim_heap",
]


class HeapSettler:
    """Freezes the heap after each full pass (the first one included; `StartupHeap` then
    finishes start-up with a full collection and a trim)."""

    def __init__(self, collect_young: bool = True) -> None:
        self.freezes = 0
        # Collect the young generations before each freeze, so that no cycle that is garbage
        # already is frozen for good (off only where the freezes end with the process's run:
        # `settled_run`).
        self.collect_young = collect_young

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
        if self.collect_young:
            gc.collect(1)
        gc.freeze()
        self.freezes += 1
        if log.isEnabledFor(logging.DEBUG):  # counting walks every frozen object
            log.debug(
                "heap settled in %.3f s: %d objects out of the collector's sight",
                time.perf_counter() - t0,
                gc.get_freeze_count(),
            )


# `settled_run`'s threshold for collecting the youngest generation (CPython's default: 700).
RUN_YOUNG_THRESHOLD = 10_000

# The collector comes back this long after start-up even if no pass ran (a cluster that
# cannot be listed must not grow cyclic garbage forever).
PAUSE_LIMIT = 600.0


def trim_heap() -> bool:
    """Return freed heap memory to the OS (glibc `malloc_trim(0)`); False where unavailable."""
    try:
        # The process's own symbols: libc is loaded already (find_library would fork ldconfig).
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False  # not glibc (musl, macOS): nothing to do
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))


class StartupHeap:
    """Pauses the cyclic collector now; `settle()` brings it back once start-up is over."""

    def __init__(
        self, limit: float = PAUSE_LIMIT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._deadline = clock() + limit
        self._was_enabled = gc.isenabled()
        self.settled = False
        gc.disable()

    def settle(self, started: bool) -> bool:
        """Once `started` (the first pass ended) or the limit passed: collect, freeze the
        survivors, re-enable the collector and trim the heap. True once done; idempotent."""
        if self.settled:
            return True
        if not started and self._clock() < self._deadline:
            return False
        self.settled = True
        t0 = time.perf_counter()
        freed = gc.collect()
        gc.freeze()
        if self._was_enabled:
            gc.enable()
        trimmed = trim_heap()
        log.debug(
            "start-up heap settled in %.2f s: %d cyclic objects freed, %d frozen, trimmed: %s",
            time.perf_counter() - t0,
            freed,
            gc.get_freeze_count(),
            trimmed,
        )
        return True

    def restore(self) -> None:
        """The collector as it was, without collecting or freezing (start-up ended early)."""
        if not self.settled:
            self.settled = True
            if self._was_enabled:
                gc.enable()


@contextmanager
def settled_run(bus: Bus) -> Iterator[None]:
    """Run a whole daemon inside a process that does nothing else (`clues sim`): the heap
    is frozen now and after each full pass, so collections scan only what is new; at the
    end everything goes back to the collector, which frees what the run left in cycles (a
    finished simulation is one). Unlike cluesd's settler it does not collect before each
    freeze: the daemon leaves almost no cycles (decision 0030), and what a freeze keeps is
    freed at the end of the run, not after cluesd's months. The youngest generation is
    collected every `RUN_YOUNG_THRESHOLD` allocations instead of 700: most of a pass's and a
    write's objects are gone by then, so far fewer are scanned (decision 0031)."""
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], RUN_YOUNG_THRESHOLD), *thresholds[1:])
    unsubscribe = bus.subscribe(HeapSettler(collect_young=False).on_event)
    try:
        yield
    finally:
        unsubscribe()
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        gc.collect()
