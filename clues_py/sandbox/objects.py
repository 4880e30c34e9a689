"""In-memory object store of the sandbox API server: etcd-like versions, events and watches.

Objects are plain dicts kept per resource, keyed by (namespace, name). A stored dict is never
mutated after it is stored (every change stores a new dict), so the JSON encoding of each version
is computed once and reused by get/list/watch; callers receive fresh copies decoded from it,
except in-process readers that promise not to change what they get (`copy=False`, subscribers):
they get the stored version itself.
One global resourceVersion counts changes; every change appends exactly one event to a bounded
history (`history.py`), which serves watch resume and `events_since`. Errors and the rules for
new objects are in `meta.py`; HTTP, discovery, patching and tables are the server's business
(`server.py`, `verbs.py`, `patch.py`, `tables.py`); scheduling and kubelets the controllers'.
"""

from __future__ import annotations

import base64
import builtins
import json
import os
import random
import threading
import time
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any, Literal, cast, overload

from clues_py.sandbox import deletion, resources, strategy
from clues_py.sandbox.history import Event, EventLog
from clues_py.sandbox.meta import (
    ApiError,
    already_exists,
    clone,
    conflict,
    dumps,
    loads,
    matchers,
    not_found,
    prepare_new,
    resource_info,
    rfc3339,
)
from clues_py.sandbox.podindex import PodIndex
from clues_py.sandbox.priority import SYSTEM_CLASSES
from clues_py.sandbox.sharing import share_strings, share_with
from clues_py.sandbox.storewatch import ChangeReader
from clues_py.sandbox.subscribers import Callback, RawCallback, Subscribers

__all__ = ["INITIAL_NAMESPACES", "ApiError", "ObjectStore", "not_found", "rfc3339"]

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)
# A version just written: the object and its encoding (None: nothing changed, and the object
# is the caller's own copy)
Version = tuple[Obj, bytes | None]

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _decode(raw: bytes) -> Obj:
    """Decode a stored encoding; the store only ever holds JSON objects."""
    return cast(Obj, loads(raw))


def _shallow(obj: Obj) -> Obj:
    out = dict(obj)
    for part in ("metadata", "status"):
        if isinstance(out.get(part), dict):
            out[part] = dict(out[part])
    return out


def _copy(version: Version) -> Obj:
    """A caller's own copy of a version (one with no encoding is already a private copy)."""
    obj, raw = version
    return obj if raw is None else _decode(raw)


class ObjectStore(ChangeReader):
    """Thread-safe store of API objects; see the module docstring for the copy discipline."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        history: int = 20000,
        share_strings: bool = True,
    ) -> None:
        self.clock = clock
        self.history = max(1, history)
        # Share repeated strings and unchanged parts between versions (`sharing.py`): a third
        # less memory for a large, long-lived store; a simulation's objects live for one job.
        self.share = share_strings
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiting = 0  # threads in `wait_events`, counted under the lock
        self._data: dict[str, dict[Key, tuple[Obj, bytes]]] = {}
        self._sorted: dict[str, list[Key]] = {}  # cache of sorted keys, dropped on create/delete
        self._pods = PodIndex()
        self._rv = 0
        self._log = EventLog(history)
        self._subscribers = Subscribers(self._lock)
        self._ids = 0
        # uids: random version-4 UUIDs from a generator seeded once (uuid4() reads the OS's
        # random source for each object, which costs a system call per create).
        self._uids = random.Random(os.urandom(16))
        # Mutating admission (webhooks): `hook(resource, obj)` may change a new object.
        self.admission: list[Callable[[str, Obj], None]] = []
        for ns in INITIAL_NAMESPACES:
            self.create("namespaces", {"metadata": {"name": ns}})
        for pc in SYSTEM_CLASSES:  # what kube-apiserver bootstraps
            self.create("priorityclasses", pc)

    # ----------------------------------------------------------------- internals (lock held)
    def _bump(self, type_: str, resource: str, ns: str, obj: Obj, prev: Obj | None) -> bytes:
        """Record a new version: assigns the rv, encodes, appends history and a pending callback."""
        self._rv += 1
        # A fresh metadata dict: `share_with` may have given `obj` its previous version's one.
        obj["metadata"] = {**obj["metadata"], "resourceVersion": str(self._rv)}
        raw = dumps(obj)
        self._log.append(Event(self._rv, type_, resource, ns, obj, raw, prev))
        self._subscribers.queue(type_, resource, obj, raw)
        if self._waiting:  # watchers blocked in `wait_events` (notify_all is not free)
            self._cond.notify_all()
        return raw

    def _put(self, resource: str, key: Key, obj: Obj, raw: bytes) -> None:
        table = self._table(resource)
        if resource == "pods":
            old = table.get(key)
            self._pods.put(key, old[0] if old else None, obj)
        table[key] = (obj, raw)

    def _pop(self, resource: str, key: Key) -> tuple[Obj, bytes]:
        entry = self._table(resource).pop(key)
        if resource == "pods":
            self._pods.remove(key, entry[0])
        return entry

    def _table(self, resource: str) -> dict[Key, tuple[Obj, bytes]]:
        return self._data.setdefault(resource, {})

    def _stored(self, resource: str) -> list[Obj]:
        """The stored objects of `resource` (lock held; read-only: never mutate them)."""
        return [obj for obj, _ in self._table(resource).values()]

    def _key(self, info: resources.ResourceInfo, name: str, namespace: str | None) -> Key:
        return ((namespace or "default") if info.namespaced else "", name)

    def _existing(self, info: resources.ResourceInfo, key: Key) -> tuple[Obj, bytes]:
        entry = self._table(info.plural).get(key)
        if entry is None:
            raise not_found(info, key[1])
        return entry

    def _store(self, info: resources.ResourceInfo, key: Key, new: Obj, old: Obj) -> Version:
        """Replace `old` by `new` (identity fields kept), or do nothing when nothing changed."""
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if f in old_meta:
                meta[f] = old_meta[f]
            else:
                meta.pop(f, None)
        meta["name"], meta["resourceVersion"] = key[1], old_meta["resourceVersion"]
        if info.namespaced:
            meta["namespace"] = key[0]
        new.setdefault("kind", info.kind)
        new.setdefault("apiVersion", info.api_version)
        meta["generation"] = old_meta.get("generation", 1)
        strategy.prepare_update(info.plural, old, new, self.clock())
        if new.get("spec") != old.get("spec"):
            meta["generation"] += 1
        if new == old:
            return new, None
        if deletion.completes_deletion(meta, old_meta):
            self._put(info.plural, key, new, dumps(new))
            return self._remove(info, key, old)
        return self._replace(info.plural, key, new, old)

    def _replace(self, resource: str, key: Key, new: Obj, old: Obj) -> Version:
        if self.share:
            share_with(old, new)
        raw = self._bump("MODIFIED", resource, key[0], new, old)
        self._put(resource, key, new, raw)
        return new, raw

    def _remove(self, info: resources.ResourceInfo, key: Key, old: Obj) -> Version:
        # A new top level is enough: `_bump` gives it a fresh metadata dict, and the parts it
        # shares with the stored version are never changed (no decode of a copy).
        gone = dict(self._pop(info.plural, key)[0])
        self._sorted.pop(info.plural, None)
        return gone, self._bump("DELETED", info.plural, key[0], gone, old)

    # ----------------------------------------------------------------- callbacks
    @overload
    def subscribe(self, callback: Callback) -> Callable[[], None]: ...
    @overload
    def subscribe(self, callback: RawCallback, *, raw: Literal[True]) -> Callable[[], None]: ...
    def subscribe(self, callback: Callable[..., None], *, raw: bool = False) -> Callable[[], None]:
        """Call `callback(type, resource, obj)` after each change; returns the unsubscribe function.
        With `raw`, `callback(type, resource, obj, raw)` also gets the version's JSON encoding.

        Delivery is in change order, outside the store lock, usually on the writing thread; a
        change made from inside a callback is delivered after that callback returns. Every
        callback gets the stored version itself: it may keep it but must never change it.
        """
        return self._subscribers.subscribe(callback, raw=raw)

    # ----------------------------------------------------------------- public API
    def resource_version(self) -> str:
        with self._lock:
            return str(self._rv)

    def create(
        self, resource: str, obj: Obj, namespace: str | None = None, *, copy: bool = True
    ) -> Obj:
        """Store a new object; returns a copy, or with `copy=False` the stored (read-only) one."""
        info = resource_info(resource)
        obj = prepare_new(info, obj, namespace)
        for hook in self.admission:
            hook(resource, obj)
        meta = obj["metadata"]
        name = meta["name"]
        with self._lock:
            key = self._key(info, name, meta.get("namespace"))
            if info.namespaced and ("", key[0]) not in self._table("namespaces"):
                raise ApiError(
                    404,
                    "NotFound",
                    f'namespaces "{key[0]}" not found',
                    {"name": key[0], "kind": "namespaces"},
                )
            table = self._table(resource)
            if key in table:
                raise already_exists(info, name)
            meta["uid"] = str(uuid.UUID(int=self._uids.getrandbits(128), version=4))
            meta["creationTimestamp"] = rfc3339(self.clock())
            meta["generation"] = 1
            strategy.prepare_create(resource, obj, self.clock(), self._stored)
            if self.share:
                share_strings(obj)
            raw = self._bump("ADDED", resource, key[0], obj, None)
            self._put(resource, key, obj, raw)
            self._sorted.pop(resource, None)
        self._subscribers.deliver()
        return _decode(raw) if copy else obj

    def get(self, resource: str, name: str, namespace: str | None = None) -> Obj:
        return _decode(self.get_raw(resource, name, namespace))

    def get_raw(self, resource: str, name: str, namespace: str | None = None) -> bytes:
        """The stored JSON encoding of the object (no copy needed)."""
        info = resource_info(resource)
        with self._lock:
            return self._existing(info, self._key(info, name, namespace))[1]

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[Obj], str]:
        raws, rv, _ = self.list_raw(resource, namespace, label_selector, field_selector)
        return [_decode(r) for r in raws], rv

    def list_raw(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> tuple[builtins.list[bytes], str, str]:
        """Encoded items in (namespace, name) order, the list resourceVersion and a continue token."""
        info = resource_info(resource)
        lm, fm = matchers(info, label_selector, field_selector)
        start: Key | None = None
        if continue_token:
            try:
                tok = json.loads(base64.urlsafe_b64decode(continue_token.encode()))
                start = (tok["ns"], tok["name"])
            except Exception:
                raise ApiError(
                    400, "BadRequest", "continue key is not valid: incorrect encoded start key"
                ) from None
        out: list[bytes] = []
        nxt = ""
        with self._lock:
            table = self._table(resource)
            keys = self._pods.candidates(field_selector or "") if resource == "pods" else None
            if keys is None:
                keys = self._sorted.get(resource)
            if keys is None:
                keys = self._sorted[resource] = sorted(table)
            scope = namespace if namespace and info.namespaced else None
            if start is not None:
                lo = bisect_right(keys, start)
            else:
                lo = bisect_left(keys, (scope, "")) if scope is not None else 0
            for i in range(lo, len(keys)):
                key = keys[i]
                if scope is not None and key[0] != scope:
                    if key[0] > scope:
                        break
                    continue
                obj, raw = table[key]
                if (lm is None or lm(obj)) and (fm is None or fm(obj)):
                    if limit and len(out) >= limit:
                        last = keys[i - 1] if i else key
                        nxt = self._token(last)
                        break
                    out.append(raw)
            rv = str(self._rv)
        return out, rv, nxt

    @staticmethod
    def _token(key: Key) -> str:
        return base64.urlsafe_b64encode(
            json.dumps({"ns": key[0], "name": key[1]}).encode()
        ).decode()

    def update(self, resource: str, obj: Obj, namespace: str | None = None) -> Obj:
        info = resource_info(resource)
        new = clone(obj)
        meta = new.setdefault("metadata", {})
        name = meta.get("name") or ""
        with self._lock:
            key = self._key(info, name, namespace or meta.get("namespace"))
            old, _ = self._existing(info, key)
            want = meta.get("resourceVersion")
            if want and want != old["metadata"]["resourceVersion"]:
                raise conflict(info, name)
            result = self._store(info, key, new, old)
        self._subscribers.deliver()
        return _copy(result)

    def mutate(
        self,
        resource: str,
        name: str,
        namespace: str | None,
        fn: Callable[[Obj], None],
        *,
        copy: bool = True,
        shallow: bool = False,
    ) -> Obj:
        """Atomic read-modify-write: `fn` edits a copy in place; no event when nothing changed.
        Returns a copy of the result, or with `copy=False` the stored (read-only) version.

        `shallow`: `fn` gets new top-level, metadata and status dicts over the stored version's
        values and may only assign keys of those (never edit a value inside them). Status
        writers replace a part: no copy of the whole object, and the new version shares the
        rest with the stored one (stored versions are never changed)."""
        info = resource_info(resource)
        with self._lock:
            key = self._key(info, name, namespace)
            old, raw = self._existing(info, key)
            new = _shallow(old) if shallow else _decode(raw)
            fn(new)
            result = self._store(info, key, new, old)
        self._subscribers.deliver()
        return _copy(result) if copy else result[0]

    def delete(
        self,
        resource: str,
        name: str,
        namespace: str | None = None,
        grace_seconds: int | None = None,
        propagation: str | None = None,
        *,
        copy: bool = True,
    ) -> Obj:
        """Delete, or start deleting, an object (the rules are `deletion.py`'s); returns a
        copy of what was stored last, or with `copy=False` that version itself (read-only)."""
        info = resource_info(resource)
        with self._lock:
            key = self._key(info, name, namespace)
            old, raw = self._existing(info, key)
            if propagation == "Orphan":
                self._orphan(old["metadata"].get("uid", ""))
            remove, new = deletion.outcome(resource, old, grace_seconds, propagation, self.clock())
            if remove:
                result = self._remove(info, key, old)
                if resource == "namespaces":
                    self._drop_namespace(name)
            else:
                result = (old, raw) if new is None else self._replace(resource, key, new, old)
        self._subscribers.deliver()
        return _copy(result) if copy else result[0]

    def _orphan(self, uid: str) -> None:
        """Remove ownerReferences to `uid` from every object (propagationPolicy=Orphan)."""
        for resource, table in self._data.items():
            for key, (obj, _) in list(table.items()):
                new = deletion.without_owner(obj, uid) if resource != "events" else None
                if new is not None:
                    self._replace(resource, key, new, obj)

    def _drop_namespace(self, ns: str) -> None:
        for resource, table in self._data.items():
            info = resources.lookup(resource)
            if info is None or not info.namespaced:
                continue
            for key in [k for k in table if k[0] == ns]:
                self._remove(info, key, table[key][0])

    # ----------------------------------------------------------------- snapshots
    def altered(self) -> builtins.list[str]:
        """Stored versions that no longer encode to their own bytes: a reader changed an object
        it got read-only (subscribers, `copy=False`). Tests check this; it must stay empty."""
        with self._lock:
            return [
                f"{resource}/{key[0]}/{key[1]}".replace("//", "/")
                for resource, table in self._data.items()
                for key, (obj, raw) in table.items()
                if dumps(obj) != raw
            ] + [f"{e.resource} at rv {e.rv}" for e in self._log.events if dumps(e.obj) != e.raw]

    def counts(self) -> dict[str, int]:
        """Stored objects per resource."""
        with self._lock:
            return {r: len(t) for r, t in self._data.items() if t}

    def snapshot(self) -> dict[str, Any]:
        """Every object and the resourceVersion, as JSON-ready data (Sandbox.save writes it)."""
        with self._lock:
            objects = {r: [_decode(raw) for _, raw in t.values()] for r, t in self._data.items()}
            return {"resourceVersion": self._rv, "objects": objects}

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the contents with a `snapshot` (history restarts; watchers get 410)."""
        with self._lock:
            self._data = {}
            self._sorted = {}
            self._pods.clear()
            for resource, objs in data["objects"].items():
                info = resource_info(resource)
                for obj in objs:
                    meta = obj["metadata"]
                    self._put(
                        resource,
                        self._key(info, meta["name"], meta.get("namespace")),
                        obj,
                        dumps(obj),
                    )
            self._rv = int(data["resourceVersion"])
            self._log.reset(self._rv + 1)
            self._cond.notify_all()
