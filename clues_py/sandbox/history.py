"""The store's change log: one entry per resourceVersion, bounded, served to watches.

Entries are consecutive (entry rv = base + index), so finding "everything after rv N" is a
slice. The log is trimmed in batches, but never past what a registered watcher (cursor) still
has to read, up to 10x the configured size; older resume points are "expired" (410 Gone).
The caller (`objects.ObjectStore`) holds its lock around every method here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Matcher = Callable[[Obj], bool] | None


class Event:
    """One stored change; `obj` and `prev` are the store's immutable versions (never mutated)."""

    __slots__ = ("rv", "type", "resource", "ns", "obj", "raw", "prev")

    def __init__(
        self, rv: int, type_: str, resource: str, ns: str, obj: Obj, raw: bytes, prev: Obj | None
    ):
        self.rv, self.type, self.resource, self.ns = rv, type_, resource, ns
        self.obj, self.raw, self.prev = obj, raw, prev


class EventLog:
    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.events: list[Event] = []
        self.base = 1  # rv of events[0]
        self.cursors: dict[int, int] = {}  # watcher id -> last rv it was given

    def append(self, event: Event) -> None:
        self.events.append(event)
        excess = len(self.events) - self.size
        if excess < max(64, self.size // 4):
            return  # trim in batches so deleting the list head is amortised
        if self.cursors:
            oldest_needed = min(self.cursors.values()) + 1
            excess = min(excess, max(oldest_needed - self.base, len(self.events) - 10 * self.size))
        if excess > 0:
            del self.events[:excess]
            self.base += excess

    def reset(self, next_rv: int) -> None:
        self.events = []
        self.base = next_rv

    def expired(self, after: int) -> bool:
        """True when events right after rv `after` are no longer kept."""
        return after + 1 < self.base

    def oldest(self) -> int:
        return self.base - 1

    def since(self, after: int) -> list[Event]:
        return self.events[max(after + 1 - self.base, 0) :]


def select(
    events: list[Event], resource: str, ns: str | None, lm: Matcher, fm: Matcher
) -> list[tuple[str, bytes]]:
    """The (type, raw) watch events of `resource` in `ns` matching the selectors.

    A MODIFIED object that enters or leaves the selection is reported as ADDED or DELETED, as
    the API server's watch cache does.
    """

    def match(obj: Obj) -> bool:
        return (lm is None or lm(obj)) and (fm is None or fm(obj))

    out: list[tuple[str, bytes]] = []
    plain = lm is None and fm is None
    for ev in events:
        if ev.resource != resource or (ns and ev.ns != ns):
            continue
        if plain:
            out.append((ev.type, ev.raw))
            continue
        now_in = match(ev.obj)
        if ev.type != "MODIFIED":
            if now_in:
                out.append((ev.type, ev.raw))
            continue
        was_in = ev.prev is not None and match(ev.prev)
        if now_in:
            out.append(("MODIFIED" if was_in else "ADDED", ev.raw))
        elif was_in:
            out.append(("DELETED", ev.raw))
    return out
