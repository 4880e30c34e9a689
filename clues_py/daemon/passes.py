"""A record of the daemon's recent passes: how long each took, what kind it was, what it saw.

The loop calls `PassLog.record` at the end of every pass; operators (`GET /v1/passes`,
`clues_pass_duration_seconds`) and `bench/bench_scale.py` read it. A pass is `full` when it
re-planned everything (start-up, reload, relist, periodic resync) and `incremental` when it
re-planned only what changed since the last one; `changed` counts the nodes and demand
units it re-examined. Wall-clock times, so figures from different processes compare;
nothing here decides anything.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

RECENT = 512  # passes kept for the API


@dataclass(frozen=True, slots=True)
class PassRecord:
    at: float  # wall time when the pass ended
    seconds: float  # wall time the whole pass took
    kind: str  # full | incremental
    changed: int  # nodes + demand units re-examined (full: all of them)
    actions: int  # actions the pass started


class PassLog:
    def __init__(self, wall: Any = time.time) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._recent: deque[PassRecord] = deque(maxlen=RECENT)
        self.started_at = wall()
        self.first_pass_at: float | None = None
        self.first_pass = threading.Event()  # set once the first pass is recorded
        self.counts = {"full": 0, "incremental": 0}

    def record(self, seconds: float, kind: str, changed: int, actions: int) -> PassRecord:
        rec = PassRecord(self._wall(), seconds, kind, changed, actions)
        with self._lock:
            self._recent.append(rec)
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if self.first_pass_at is None:
                self.first_pass_at = rec.at
                self.first_pass.set()
        return rec

    def report(self) -> dict[str, Any]:
        """Counts, start-up time and per-kind median/max of the recent passes, plus the list."""
        with self._lock:
            recent = list(self._recent)
            counts = dict(self.counts)
            first = self.first_pass_at
        out: dict[str, Any] = {
            "started_at": self.started_at,
            "first_pass_at": first,
            "first_pass_seconds": None if first is None else round(first - self.started_at, 4),
            "counts": counts,
        }
        for kind in ("full", "incremental"):
            xs = [r.seconds for r in recent if r.kind == kind]
            out[kind] = (
                {"median_s": statistics.median(xs), "max_s": max(xs), "n": len(xs)} if xs else None
            )
        out["recent"] = [
            {"at": r.at, "seconds": r.seconds, "kind": r.kind, "changed": r.changed,
             "actions": r.actions}
            for r in recent
        ]  # fmt: skip
        return out
