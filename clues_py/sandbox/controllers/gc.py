"""The garbage collector: dependents of deleted owners, and foreground deletion.

An object whose controlling owner is gone is deleted (background cascading, what
`kubectl delete` asks for). An owner deleted with propagationPolicy=Foreground
waits with the `foregroundDeletion` finalizer: its dependents are deleted first
(in foreground too when they have dependents of their own), and once none is
left the finalizer is removed and the store completes the delete. Orphaning is
done by the store at delete time (`objects.py`). Only controller references among
the runtime's watched kinds are followed; node Leases are the lease controller's.
"""

from __future__ import annotations

from clues_py.sandbox import deletion
from clues_py.sandbox.controllers.common import Obj, controller_uid, key_of
from clues_py.sandbox.controllers.runtime import Runtime

# Owners whose dependents the collector removes, and the kinds dependents can be.
OWNERS = frozenset(
    {
        "jobs",
        "daemonsets",
        "deployments",
        "replicasets",
        "statefulsets",
        "replicationcontrollers",
        "cronjobs",
        # Kueue: a Job's Workload, a Workload's ProvisioningRequests and PodTemplates
        "workloads",
        "provisioningrequests",
    }
)
DEPENDENTS = (
    "pods",
    "replicasets",
    "jobs",
    "controllerrevisions",
    "workloads",
    "provisioningrequests",
    "podtemplates",
)
FOREGROUND = deletion.FOREGROUND


class GarbageCollector:
    resources = OWNERS | frozenset(DEPENDENTS)

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._gone: set[str] = set()
        self._foreground: dict[str, tuple[str, str]] = {}  # uid -> (resource, key)
        self._check: set[str] = set()

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        obj = new or old or {}
        uid = obj["metadata"].get("uid", "")
        wake = False
        if resource in OWNERS:
            if new is None:
                self._gone.add(uid)
                self._foreground.pop(uid, None)
                wake = True
            elif FOREGROUND in (new["metadata"].get("finalizers") or ()):
                self._foreground[uid] = (resource, key_of(new))
                self._check.add(uid)
                wake = True
        if resource in DEPENDENTS and new is None:
            owner = controller_uid(obj)
            if owner in self._foreground:
                self._check.add(owner)
                wake = True
        return wake

    def _dependents(self, uid: str) -> list[tuple[str, Obj]]:
        return [(r, o) for r in DEPENDENTS for o in self.rt.cache.owned(r, uid)]

    def sync(self) -> None:
        gone, self._gone = sorted(self._gone), set()
        for uid in gone:
            for resource, dep in self._dependents(uid):
                md = dep["metadata"]
                if not md.get("deletionTimestamp"):
                    self.rt.delete(resource, md["name"], md.get("namespace"))
        check, self._check = sorted(self._check), set()
        for uid in check:
            entry = self._foreground.get(uid)
            if entry is not None:
                self._foreground_step(uid, *entry)

    def _foreground_step(self, uid: str, resource: str, key: str) -> None:
        deps = self._dependents(uid)
        for dep_resource, dep in deps:
            md = dep["metadata"]
            if md.get("deletionTimestamp"):
                continue
            has_own = bool(self._dependents(md.get("uid", "")))
            self.rt.delete(
                dep_resource,
                md["name"],
                md.get("namespace"),
                propagation="Foreground" if has_own else "Background",
            )
        if deps:
            return
        owner = self.rt.cache.get(resource, key)
        if owner is None:
            return
        omd = owner["metadata"]

        def release(o: Obj) -> None:
            o["metadata"]["finalizers"] = [
                f for f in o["metadata"].get("finalizers") or () if f != FOREGROUND
            ]

        self._foreground.pop(uid, None)
        self.rt.mutate(resource, omd["name"], omd.get("namespace"), release)
