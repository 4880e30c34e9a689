"""The controllers' runtime: an informer cache, a coalescing work queue and one timer heap.

Store callbacks only enqueue (they may come from any thread). One processing
thread (real mode) or the caller of `settle`/`advance_to` (virtual mode) drains
the queue in rounds: fire due timers, apply queued events to the cache and let
interested controllers `observe` them, then `sync` every controller that asked
for it. Creates and mutates made through `create`/`mutate` are applied to the
cache at once (write-through), so a controller never acts twice on a stale view;
resourceVersions keep late duplicates out. The cache holds the store's own versions
(no copies): controllers read them and change objects only through the store. What
each controller does lives in its own module.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Protocol

from clues_py.clock import Clock
from clues_py.sandbox.controllers.common import Obj, controller_uid, key_of
from clues_py.sandbox.objects import ApiError, ObjectStore

log = logging.getLogger(__name__)

WATCHED = (
    "namespaces",
    "nodes",
    "pods",
    "jobs",
    "daemonsets",
    "deployments",
    "replicasets",
    "statefulsets",
    "replicationcontrollers",
    "cronjobs",
    "controllerrevisions",
    "configmaps",
    "secrets",
    # the mini-Kueue (kueue*.py) and its provisioning check
    "namespaces",
    "workloads",
    "clusterqueues",
    "localqueues",
    "resourceflavors",
    "admissionchecks",
    "provisioningrequestconfigs",
    "provisioningrequests",
    "podtemplates",
)
_MAX_ROUNDS = 100_000


class Controller(Protocol):
    resources: frozenset[str]

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        """Note a change (cache already updated); True asks for a `sync`. Must be cheap."""
        ...

    def sync(self) -> None: ...


class Cache:
    """Last seen version of every watched object, with indexes: pods by node, objects by owner."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Obj]] = {r: {} for r in WATCHED}
        self.pods_by_node: dict[str, set[str]] = {}
        # resource -> controlling owner's uid -> keys of the objects it controls
        self.by_owner: dict[str, dict[str, set[str]]] = {r: {} for r in WATCHED}
        self._tombstones: OrderedDict[tuple[str, str], int] = OrderedDict()

    def get(self, resource: str, key: str) -> Obj | None:
        return self.objects[resource].get(key)

    def pods_on(self, node: str) -> list[Obj]:
        pods = self.objects["pods"]
        return [pods[k] for k in sorted(self.pods_by_node.get(node, ())) if k in pods]

    def pods_of(self, owner_uid: str) -> list[Obj]:
        return self.owned("pods", owner_uid)

    def owned(self, resource: str, owner_uid: str) -> list[Obj]:
        """Objects of `resource` whose controlling ownerReference is `owner_uid`, by key."""
        table = self.objects[resource]
        keys = self.by_owner[resource].get(owner_uid, ())
        return [table[k] for k in sorted(keys) if k in table]

    def apply(self, kind: str, resource: str, obj: Obj) -> tuple[Obj | None, Obj | None] | None:
        """Record an event; returns (old, new) or None when it is older than what we have."""
        table = self.objects[resource]
        key = key_of(obj)
        rv = _rv(obj)
        old = table.get(key)
        if old is not None and _rv(old) >= rv:
            return None
        if old is None and self._tombstones.get((resource, key), -1) >= rv:
            return None
        if old is not None:
            self._unindex(resource, key, old)
        if kind == "DELETED":
            if old is None:
                return None
            del table[key]
            self._tombstones[(resource, key)] = rv
            if len(self._tombstones) > 50_000:
                self._tombstones.popitem(last=False)
            return old, None
        table[key] = obj
        self._index(resource, key, obj)
        return old, obj

    def _index(self, resource: str, key: str, obj: Obj) -> None:
        if resource == "pods":
            node = (obj.get("spec") or {}).get("nodeName")
            if node:
                self.pods_by_node.setdefault(node, set()).add(key)
        uid = controller_uid(obj)
        if uid:
            self.by_owner[resource].setdefault(uid, set()).add(key)

    def _unindex(self, resource: str, key: str, obj: Obj) -> None:
        if resource == "pods":
            node = (obj.get("spec") or {}).get("nodeName")
            if node and node in self.pods_by_node:
                self.pods_by_node[node].discard(key)
                if not self.pods_by_node[node]:
                    del self.pods_by_node[node]
        uid = controller_uid(obj)
        owned = self.by_owner[resource]
        if uid and uid in owned:
            owned[uid].discard(key)
            if not owned[uid]:
                del owned[uid]


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class Timer:
    """Handle of a scheduled callback; `cancel()` makes it a no-op."""

    __slots__ = ("due", "fn", "cancelled")

    def __init__(self, due: float, fn: Callable[[], None]) -> None:
        self.due, self.fn, self.cancelled = due, fn, False

    def cancel(self) -> None:
        self.cancelled = True


class Runtime:
    """Runs the controllers against a store, in a thread (real) or on demand (virtual)."""

    def __init__(self, store: ObjectStore, clock: Clock, *, virtual: bool = False) -> None:
        self.store = store
        self.clock = clock
        self.virtual = virtual
        self.cache = Cache()
        self.controllers: list[Controller] = []
        # resource -> (index, controller) of those watching it: an event asks only them
        self._watching: dict[str, list[tuple[int, Controller]]] = {}
        self._q: deque[tuple[str, str, Obj]] = deque()
        self._timers: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._dirty: set[int] = set()
        # `with self._lock` where nothing waits or notifies: the Condition's own `with` is a
        # Python-level wrapper around the same lock, entered a few times per store write.
        self._lock = threading.RLock()
        self._cv = threading.Condition(self._lock)
        self._proc = threading.RLock()
        self._busy = False
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._unsubscribe: Callable[[], None] | None = None

    # ----------------------------------------------------------------- wiring
    def add(self, controller: Controller) -> None:
        i = len(self.controllers)
        self.controllers.append(controller)
        for resource in controller.resources:
            self._watching.setdefault(resource, []).append((i, controller))

    def start(self) -> None:
        self._unsubscribe = self.store.subscribe(self._on_event)
        self.resync()
        if not self.virtual:
            self._thread = threading.Thread(
                target=self._loop, name="sandbox-controllers", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        with self._lock:
            self._stopping = True
            self._wake()
        if self._thread:
            self._thread.join(timeout=10)
            self._thread = None

    def resync(self) -> None:
        """Reload the cache from the store (start, snapshot load) and sync everything."""
        with self._proc:
            self.cache = Cache()
            for resource in WATCHED:
                for obj in self.store.list(resource)[0]:
                    self._deliver("ADDED", resource, obj)
            with self._lock:
                self._dirty.update(range(len(self.controllers)))
                self._wake()

    def _on_event(self, kind: str, resource: str, obj: Obj) -> None:
        if resource not in WATCHED:
            return
        with self._lock:
            self._q.append((kind, resource, obj))
            self._wake()

    # ----------------------------------------------------------------- timers and kicks
    def call_at(self, due: float, fn: Callable[[], None]) -> Timer:
        """Run `fn` in the processing thread once the clock reaches `due`."""
        timer = Timer(due, fn)
        with self._lock:
            heapq.heappush(self._timers, (due, next(self._seq), timer))
            self._wake()
        return timer

    def _wake(self) -> None:
        """Notify the processing thread and `settle()` waiters (call with the lock held); a
        virtual runtime has neither, and `notify_all` is Python-level work on every event."""
        if not self.virtual:
            self._cv.notify_all()

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        return self.call_at(self.clock.now() + max(delay, 0.0), fn)

    def kick(self, controller: Controller) -> None:
        """Ask for a `sync` of this controller in the next round."""
        with self._lock:
            self._dirty.add(self._index(controller))
            self._wake()

    def _index(self, controller: Controller) -> int:
        for i, c in enumerate(self.controllers):
            if c is controller:
                return i
        raise ValueError(f"controller {controller!r} is not registered with this runtime")

    def processing(self) -> threading.RLock:
        """The lock held while controllers run; hold it to act as one of them from outside."""
        return self._proc

    def next_timer(self) -> float | None:
        with self._lock:
            while self._timers and self._timers[0][2].cancelled:
                heapq.heappop(self._timers)
            return self._timers[0][0] if self._timers else None

    # ----------------------------------------------------------------- writes (write-through)
    def create(self, resource: str, obj: Obj, namespace: str | None = None) -> Obj | None:
        """Create through the store (None when it exists or its namespace is gone).

        Other refusals (a pod naming an unknown PriorityClass is a 403) are raised for
        the controller to report.
        """
        try:
            out = self.store.create(resource, obj, namespace, copy=False)
        except ApiError as exc:
            if exc.code in (404, 409):
                log.debug("create %s: %s", resource, exc.message)
                return None
            raise
        self._write_through("ADDED", resource, out)
        return out

    def mutate(
        self,
        resource: str,
        name: str,
        namespace: str | None,
        fn: Callable[[Obj], None],
        *,
        shallow: bool = False,
    ) -> Obj | None:
        """The store's read-modify-write (`ObjectStore.mutate`); None when the object is gone."""
        try:
            out = self.store.mutate(resource, name, namespace, fn, copy=False, shallow=shallow)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        md = out.get("metadata") or {}
        if (
            md.get("deletionTimestamp")
            and not md.get("finalizers")
            and not md.get("deletionGracePeriodSeconds")
        ):
            return out  # the write removed its last finalizer: the DELETED event follows
        self._write_through("MODIFIED", resource, out)
        return out

    def delete(
        self,
        resource: str,
        name: str,
        namespace: str | None = None,
        grace: int | None = None,
        propagation: str | None = None,
    ) -> None:
        # Deletes are not written through: the store decides between graceful and immediate,
        # and repeating a delete on a stale view is harmless.
        try:
            self.store.delete(
                resource, name, namespace, grace_seconds=grace, propagation=propagation, copy=False
            )
        except ApiError as exc:
            if exc.code != 404:
                raise

    def _write_through(self, kind: str, resource: str, obj: Obj) -> None:
        if resource in WATCHED:
            with self._proc:
                self._deliver(kind, resource, obj)

    # ----------------------------------------------------------------- processing
    def _deliver(self, kind: str, resource: str, obj: Obj) -> None:
        change = self.cache.apply(kind, resource, obj)
        if change is None:
            return
        old, new = change
        for i, c in self._watching.get(resource, ()):
            if c.observe(resource, old, new):
                self._dirty.add(i)

    def run_round(self) -> bool:
        """One round of timers, events and syncs; False when there was nothing to do."""
        with self._proc:
            now = self.clock.now()
            with self._lock:
                timers = []
                while self._timers and self._timers[0][0] <= now:
                    timers.append(heapq.heappop(self._timers)[2])
                events = list(self._q)
                self._q.clear()
            did = False
            for t in timers:
                if not t.cancelled:
                    did = True
                    self._guard(t.fn)
            for kind, resource, obj in events:
                self._deliver(kind, resource, obj)
            with self._lock:
                dirty = sorted(self._dirty)
                self._dirty.clear()
            for i in dirty:
                self._guard(self.controllers[i].sync)
            return did or bool(events) or bool(dirty)

    @staticmethod
    def _guard(fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception:
            log.exception("sandbox controller failed in %s", getattr(fn, "__qualname__", fn))

    def _idle(self) -> bool:
        """Nothing queued, nothing dirty and no timer due (call with the lock held)."""
        due = bool(self._timers) and self._timers[0][0] <= self.clock.now()
        return not self._q and not self._dirty and not due

    def settle(self, timeout: float = 10.0) -> None:
        """Run rounds until nothing is left to do now (virtual), or wait for the thread (real)."""
        if self.virtual:
            with self._proc:
                for _ in range(_MAX_ROUNDS):
                    if not self.run_round():
                        with self._lock:
                            if self._idle():
                                return
                raise RuntimeError(
                    "sandbox controllers did not settle (a controller keeps re-queueing)"
                )
        with self._lock:
            self._cv.wait_for(lambda: self._idle() and not self._busy, timeout)

    def advance_to(self, t: float) -> None:
        """Virtual mode: move the clock to `t`, firing every timer due on the way, in order."""
        if not self.virtual:
            raise RuntimeError("advance_to needs a virtual sandbox (Sandbox(virtual=True))")
        setter = getattr(self.clock, "set", None)
        if setter is None:
            raise TypeError("a virtual sandbox needs a clock with set(t), e.g. VirtualClock")
        with self._proc:
            self.settle()
            while True:
                due = self.next_timer()
                if due is None or due > t:
                    break
                setter(due)
                self.settle()
            setter(t)
            self.settle()

    def _loop(self) -> None:
        speed = float(getattr(self.clock, "speed", 1.0)) or 1.0
        while True:
            with self._lock:
                while not self._stopping and self._idle():
                    nxt = self._timers[0][0] if self._timers else None
                    wait = None if nxt is None else max((nxt - self.clock.now()) / speed, 0.001)
                    self._wake()  # wake settle() waiters: we are idle
                    self._cv.wait(min(wait, 1.0) if wait is not None else 1.0)
                if self._stopping:
                    return
                self._busy = True
            try:
                self.run_round()
            finally:
                with self._lock:
                    self._busy = False
                    self._wake()
