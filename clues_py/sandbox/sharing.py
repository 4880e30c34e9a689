"""One copy of each repeated string across the stored objects.

Every stored object is decoded from JSON on its own, so each of 150,000 pods would hold its own
copies of "metadata", "containers", "Running", "IfNotPresent" and the like. New objects get
their keys and short values interned (`share_strings`); a new version of an object reuses the
unchanged parts of the one before (`share_with`). That keeps the store's memory about a third
lower. Only the object store (`objects.py`) calls these.
"""

from __future__ import annotations

from sys import intern
from typing import Any

_SHORT = 40  # values longer than this (uids, images, messages) rarely repeat


def share_strings(obj: dict[str, Any]) -> None:
    """Intern `obj`'s keys and short string values, recursively, keeping its identity."""
    items = [(intern(k), _shared(v)) for k, v in obj.items()]
    obj.clear()
    obj.update(items)


def _shared(value: Any) -> Any:
    if isinstance(value, str):
        return intern(value) if len(value) <= _SHORT else value
    if isinstance(value, dict):
        share_strings(value)
    elif isinstance(value, list):
        value[:] = [_shared(v) for v in value]
    return value


def share_with(old: dict[str, Any], new: dict[str, Any], depth: int = 3) -> None:
    """Make `new` reuse the parts of `old` (its previous version) that did not change.

    Stored versions are never mutated, so they may share subtrees: an update that changes a
    label keeps sharing the spec and status (and their interned strings) of the version before.
    Comparing is done in C and is much cheaper than interning a fresh copy.
    """
    for key, value in new.items():
        before = old.get(key)
        if before is None or before is value:
            continue
        if before == value:
            new[key] = before
        elif depth > 1 and isinstance(value, dict) and isinstance(before, dict):
            share_with(before, value, depth - 1)
