"""Reading the store's change history: `events_since`, watch cursors and `wait_events`.

`ChangeReader` is a mixin of `objects.ObjectStore`: it reads the store's event log
(`history.py`) under the store's lock and condition, which the store owns and signals on
every change. Encoding the events for the wire is `watches.py`'s job.
"""

from __future__ import annotations

import builtins
import json
import threading
import time

from clues_py.sandbox.history import EventLog, select
from clues_py.sandbox.meta import ApiError, Obj, matchers, resource_info


class ChangeReader:
    """The history-reading half of the store (its fields are set by `ObjectStore`)."""

    _lock: threading.Lock
    _cond: threading.Condition
    _waiting: int
    _log: EventLog
    _rv: int
    _ids: int

    def events_since(
        self,
        resource: str,
        rv: str,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> builtins.list[tuple[str, Obj]]:
        """Events after `rv` for this resource (410 Expired when `rv` left the history)."""
        events, _ = self.wait_events(
            resource, int(rv or 0), namespace, label_selector, field_selector, 0
        )
        return [(t, json.loads(raw)) for t, raw in events]

    def _check_rv(self, after: int) -> None:
        if self._log.expired(after):
            raise ApiError(
                410,
                "Expired",
                f"too old resource version: {after} ({self._log.oldest()})",
            )

    def open_cursor(self, after: int | None = None) -> tuple[int, int]:
        """Register a watcher that keeps history from `after` (default: now); returns (id, rv)."""
        with self._lock:
            start = self._rv if after is None else after
            self._check_rv(start)
            self._ids += 1
            self._log.cursors[self._ids] = start
            return self._ids, start

    def close_cursor(self, cid: int) -> None:
        with self._lock:
            self._log.cursors.pop(cid, None)

    def wait_events(
        self,
        resource: str,
        after: int,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
        timeout: float | None = 0,
        cursor: int | None = None,
    ) -> tuple[builtins.list[tuple[str, bytes]], int]:
        """Matching (type, raw object) events after rv `after`, waiting up to `timeout` for one.

        Returns the events and the rv to continue from. A MODIFIED object that enters or leaves
        the selection is reported as ADDED or DELETED, as the API server's watch cache does.
        """
        info = resource_info(resource)
        lm, fm = matchers(info, label_selector, field_selector)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                self._check_rv(after)
                if self._rv > after:
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return [], after
                self._waiting += 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._waiting -= 1
            batch = self._log.since(after)
            new_after = self._rv
            if cursor is not None:
                self._log.cursors[cursor] = new_after
        out = select(batch, resource, namespace if info.namespaced else None, lm, fm)
        return out, new_after
