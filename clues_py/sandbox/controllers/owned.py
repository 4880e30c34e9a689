"""The common shape of the workload controllers: one owner kind, re-synced when what it owns changes.

`OwnerController` keeps the owner-uid index, the set of owners to reconcile and one
wake-up timer per owner (minReadySeconds, progress deadlines, cron times), and calls
`reconcile(owner)` for each dirty owner that is not being deleted. What reconciling
means is each subclass's job (`deployments.py`, `replicasets.py`, `statefulsets.py`,
`cronjobs.py`).
"""

from __future__ import annotations

from clues_py.sandbox.controllers.common import Obj, controller_uid, key_of
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.runtime import Runtime, Timer
from clues_py.sandbox.objects import ApiError


class OwnerController:
    source = ""  # the component named in events

    def __init__(
        self, runtime: Runtime, events: EventRecorder, resource: str, owned: frozenset[str]
    ) -> None:
        self.rt = runtime
        self.events = events
        self.resource = resource
        self.resources = frozenset({resource}) | owned
        self._dirty: set[str] = set()
        self._by_uid: dict[str, str] = {}
        self._timers: dict[str, Timer] = {}

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        obj = new or old or {}
        if resource == self.resource:
            uid = obj["metadata"].get("uid", "")
            if new is None:
                self._by_uid.pop(uid, None)
                t = self._timers.pop(uid, None)
                if t:
                    t.cancel()
                self.forget(uid)
                return False
            self._by_uid[uid] = key_of(new)
            self._dirty.add(key_of(new))
            return True
        if not self._by_uid:
            return False  # owns nothing (the usual case for most kinds): no lookup per pod
        owner = self._by_uid.get(controller_uid(obj))
        if owner is None:
            return False
        self._dirty.add(owner)
        return True

    def sync(self) -> None:
        todo, self._dirty = sorted(self._dirty), set()
        for key in todo:
            obj = self.rt.cache.get(self.resource, key)
            if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                self.reconcile(obj)

    def reconcile(self, obj: Obj) -> None:
        raise NotImplementedError

    def forget(self, uid: str) -> None:
        """The owner is gone: drop what the subclass keeps about it."""

    def wake_at(self, obj: Obj, due: float | None, earliest: bool = True) -> None:
        """Reconcile `obj` again at `due` (None cancels). With `earliest`, an earlier
        pending wake-up is kept; otherwise the timer is moved to `due`."""
        uid = obj["metadata"].get("uid", "")
        old = self._timers.get(uid)
        if old is not None and not old.cancelled:
            if old.due == due or (earliest and due is not None and old.due <= due):
                return
            old.cancel()
        self._timers.pop(uid, None)
        if due is None:
            return
        key = key_of(obj)

        def fire() -> None:
            self._timers.pop(uid, None)
            self._dirty.add(key)
            self.rt.kick(self)

        self._timers[uid] = self.rt.call_at(due, fire)

    def create_pod(self, owner: Obj, pod: Obj, created: str, failed: str) -> bool | None:
        """Create one of `owner`'s pods and record the event: `created`, or `failed` with
        `{error}` for a refusal (FailedCreate, returns None). False: the name is taken."""
        try:
            made = self.rt.create("pods", pod, owner["metadata"].get("namespace"))
        except ApiError as exc:
            message = failed.format(error=exc.message)
            self.events.record(owner, "Warning", "FailedCreate", message, source=self.source)
            return None
        if made is not None:
            self.events.record(owner, "Normal", "SuccessfulCreate", created, source=self.source)
        return made is not None

    def write_status(self, obj: Obj, status: Obj) -> None:
        """Store `status` on `obj` unless it is already what is stored."""
        if status == (obj.get("status") or {}):
            return
        md = obj["metadata"]
        uid = md.get("uid")

        def put(o: Obj) -> None:
            if o["metadata"].get("uid") == uid:
                o["status"] = status

        self.rt.mutate(self.resource, md["name"], md.get("namespace"), put)
