"""The pending-pod side of the cluster cache: which unbound pods are demand, kept sorted.

A candidate (an unbound, alive, ungated, Pending pod; `PodRecord.pending_candidate`) is
demand once the scheduler has marked it Unschedulable or once it is older than the grace
period. `PendingSet` keeps the demand pods sorted by (created, namespace, name) as pods come
and go, moves candidates in when their grace runs out (a heap of creation times), and
journals what entered, changed or left since the journal was last taken, so a caller can
follow the demand without rereading it. Every update is O(log n) plus a list insert; the
sorted tuple is rebuilt (one C-level copy) only after a change. No locking: `k8s_cache`
calls it under its own lock. What a pod is, and when it is a candidate, is `k8s_convert`'s.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left

from clues_py.model import PodInfo

from .k8s_pods import PodRecord

_SortKey = tuple[float, str, str]


def _sort_key(info: PodInfo) -> _SortKey:
    return (info.created, info.namespace, info.name)


class PendingSet:
    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._candidates: dict[str, PodRecord] = {}
        self._in: dict[str, tuple[_SortKey, PodInfo]] = {}  # key -> demand pod
        self._order: list[_SortKey] = []  # sorted; parallel to _infos
        self._infos: list[PodInfo] = []
        self._waiting: list[tuple[float, str]] = []  # (created, key), lazily pruned
        self._tuple: tuple[PodInfo, ...] | None = ()
        self._now = float("-inf")
        # key -> its PodInfo now (entered or changed) or None (left), since the last take
        self.journal: dict[str, PodInfo | None] = {}

    # ------------------------------------------------------------------ updates

    def put(self, key: str, rec: PodRecord) -> None:
        """A candidate appeared or changed."""
        self._candidates[key] = rec
        if rec.unschedulable or rec.info.created < self._now - self.grace:
            self._enter(key, rec.info)
        else:
            self._leave(key)
            heapq.heappush(self._waiting, (rec.info.created, key))

    def drop(self, key: str) -> None:
        """A pod stopped being a candidate (bound, deleted, finished...)."""
        if self._candidates.pop(key, None) is not None:
            self._leave(key)

    def reset(self, records: dict[str, PodRecord]) -> None:
        """Start over from `records` (a relist); the journal says what differs."""
        before = {k: info for k, (_, info) in self._in.items()}
        journal = self.journal
        self.journal = {}  # re-entering pods is not news; the differences below are
        self._candidates, self._in, self._order, self._infos = {}, {}, [], []
        self._waiting, self._tuple = [], ()
        for key, rec in records.items():
            self.put(key, rec)
        self.journal = journal
        for key, info in before.items():
            now = self._in.get(key)
            if now is None:
                journal[key] = None
            elif now[1] is not info:
                journal[key] = now[1]
        for key, (_, info) in self._in.items():
            if key not in before:
                journal[key] = info

    def refresh(self, now: float) -> None:
        """Let candidates whose grace ran out by `now` in (all of them again if time went back)."""
        if now < self._now:
            self._now = now
            for key, record in list(self._candidates.items()):
                self.put(key, record)
            return
        self._now = now
        cutoff = now - self.grace
        waiting = self._waiting
        while waiting and waiting[0][0] < cutoff:
            created, key = heapq.heappop(waiting)
            rec = self._candidates.get(key)
            if rec is not None and rec.info.created == created:
                self._enter(key, rec.info)

    def _enter(self, key: str, info: PodInfo) -> None:
        old = self._in.get(key)
        if old is not None:
            if old[1] is info:
                return
            self._remove_sorted(old[0])
        sk = _sort_key(info)
        i = bisect_left(self._order, sk)
        self._order.insert(i, sk)
        self._infos.insert(i, info)
        self._in[key] = (sk, info)
        self._tuple = None
        self.journal[key] = info

    def _leave(self, key: str) -> None:
        old = self._in.pop(key, None)
        if old is not None:
            self._remove_sorted(old[0])
            self._tuple = None
            self.journal[key] = None

    def _remove_sorted(self, sk: _SortKey) -> None:
        i = bisect_left(self._order, sk)
        del self._order[i]
        del self._infos[i]

    # ------------------------------------------------------------------ reads

    def pods(self) -> tuple[PodInfo, ...]:
        """The demand pods, oldest first (then namespace, name); the same tuple until a change."""
        if self._tuple is None:
            self._tuple = tuple(self._infos)
        return self._tuple

    def next_due(self) -> float:
        """When a candidate may come of age with no event (inf: none waits)."""
        return self._waiting[0][0] + self.grace if self._waiting else float("inf")

    def take_journal(self) -> dict[str, PodInfo | None]:
        journal, self.journal = self.journal, {}
        return journal
