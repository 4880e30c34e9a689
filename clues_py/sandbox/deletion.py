"""What a DELETE does to one object: graceful pods, finalizers, propagation policies.

Pure functions over object dicts for the store (`objects.py`). A bound, running pod
gets a deletionTimestamp `grace` seconds ahead (the kubelet removes it). An object
that has finalizers, or is deleted with propagationPolicy=Foreground, only gets a
deletionTimestamp (plus the `foregroundDeletion` finalizer) and goes when its last
finalizer is removed. Orphan strips the owner's references from its dependents.
Background is the default: the object goes, and the garbage collector
(`controllers/gc.py`, which also acts on `foregroundDeletion`) deletes dependents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clues_py.sandbox.meta import clone, rfc3339

Obj = dict[str, Any]
FOREGROUND = "foregroundDeletion"


_TERMINAL = ("Succeeded", "Failed")


def _graceful(pod: Mapping[str, Any], grace_seconds: int | None) -> bool:
    if grace_seconds is not None and grace_seconds <= 0:
        return False
    spec = pod.get("spec") or {}
    if grace_seconds is None and spec.get("terminationGracePeriodSeconds", 30) <= 0:
        return False
    return bool(spec.get("nodeName")) and (pod.get("status") or {}).get("phase") not in _TERMINAL


def outcome(
    resource: str,
    obj: Mapping[str, Any],
    grace_seconds: int | None,
    propagation: str | None,
    now: float,
) -> tuple[bool, Obj | None]:
    """(remove now?, the object to store instead, or None when nothing changes)."""
    if resource == "pods" and _graceful(obj, grace_seconds):
        grace = grace_seconds
        if grace is None:
            grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        meta = obj.get("metadata") or {}
        if "deletionTimestamp" in meta and meta.get("deletionGracePeriodSeconds", 0) <= grace:
            return False, None
        new: Obj = clone(obj)
        new["metadata"]["deletionTimestamp"] = rfc3339(now + grace)
        new["metadata"]["deletionGracePeriodSeconds"] = grace
        return False, new
    foreground = propagation == "Foreground"
    if foreground or (obj.get("metadata") or {}).get("finalizers"):
        return False, marked(obj, rfc3339(now), foreground)
    return True, None


def marked(obj: Mapping[str, Any], now: str, foreground: bool) -> Obj | None:
    """`obj` with its deletionTimestamp (and the foreground finalizer); None if unchanged."""
    new: Obj = clone(obj)
    meta = new["metadata"]
    meta.setdefault("deletionTimestamp", now)
    meta["deletionGracePeriodSeconds"] = 0
    names = list(meta.get("finalizers") or [])
    if foreground and FOREGROUND not in names:
        names.append(FOREGROUND)
    meta["finalizers"] = names
    return None if new == obj else new


def completes_deletion(meta: Mapping[str, Any], old_meta: Mapping[str, Any]) -> bool:
    """An update removed the last finalizer of an object being deleted: it must go now.

    Pods still in their grace period (deletionGracePeriodSeconds > 0) wait for the kubelet.
    """
    return bool(
        meta.get("deletionTimestamp")
        and old_meta.get("finalizers")
        and not meta.get("finalizers")
        and not meta.get("deletionGracePeriodSeconds")
    )


def without_owner(obj: Mapping[str, Any], uid: str) -> Obj | None:
    """`obj` without ownerReferences to `uid` (propagationPolicy=Orphan); None if it has none."""
    refs = (obj.get("metadata") or {}).get("ownerReferences")
    if not refs or not any(r.get("uid") == uid for r in refs):
        return None
    new: Obj = clone(obj)
    kept = [r for r in refs if r.get("uid") != uid]
    if kept:
        new["metadata"]["ownerReferences"] = kept
    else:
        del new["metadata"]["ownerReferences"]
    return new
