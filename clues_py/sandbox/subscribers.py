"""In-order delivery of store changes to in-process subscribers (controllers, the PDB keeper).

The store queues one `(type, resource, obj)` entry per change while it holds its lock, and calls
`deliver()` after releasing it. Delivery happens outside the lock, on whichever writing thread
gets there first; a thread already delivering delivers for the others, so callbacks see changes in
resourceVersion order and never run concurrently. Callbacks get the stored version itself (no
copy, so no decoding per change): they read it and never change it. What a change is, and
when it happens, is the store's business (`objects.py`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("clues_py.sandbox.objects")

Obj = dict[str, Any]
Callback = Callable[[str, str, Obj], None]
# Also given the version's JSON encoding (the store made it anyway): a reader that wants the
# text, such as a typed decoder, need not encode the object again.
RawCallback = Callable[[str, str, Obj, bytes], None]


class Subscribers:
    """Registered callbacks and the queue of changes not yet delivered to them."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock  # the store's lock: queue and registry change under it
        self._subs: dict[int, tuple[Callable[..., None], bool]] = {}  # id -> (callback, raw)
        self._pending: deque[tuple[str, str, Obj, bytes]] = deque()
        self._dispatch_lock = threading.Lock()
        self._ids = 0

    def queue(self, type_: str, resource: str, obj: Obj, raw: bytes) -> None:
        """Remember a change for delivery (caller holds the store lock)."""
        if self._subs:
            self._pending.append((type_, resource, obj, raw))

    def subscribe(self, callback: Callable[..., None], *, raw: bool = False) -> Callable[[], None]:
        """`callback(type, resource, obj)`, or with `raw` `callback(type, resource, obj, raw)`."""
        with self._lock:
            self._ids += 1
            sid = self._ids
            self._subs[sid] = (callback, raw)

        def unsubscribe() -> None:
            with self._lock:
                self._subs.pop(sid, None)

        return unsubscribe

    def deliver(self) -> None:
        """Deliver pending changes in order; a thread already delivering delivers for others."""
        while True:
            if not self._dispatch_lock.acquire(blocking=False):
                return
            try:
                while True:
                    with self._lock:
                        if not self._pending:
                            break
                        type_, resource, obj, raw = self._pending.popleft()
                        subs = list(self._subs.values())
                    for cb, wants_raw in subs:
                        try:
                            if wants_raw:
                                cb(type_, resource, obj, raw)
                            else:
                                cb(type_, resource, obj)
                        except Exception:
                            log.exception("store subscriber failed on %s %s", type_, resource)
            finally:
                self._dispatch_lock.release()
            with self._lock:
                if not self._pending:
                    return
