"""Garbage collection of pods whose controlling Job or DaemonSet was deleted.

The sandbox always cascades in the background, as `kubectl delete` does by
default; orphaning (`propagationPolicy=Orphan`) is not emulated.
"""

from __future__ import annotations

from clues_py.sandbox.controllers.common import Obj
from clues_py.sandbox.controllers.runtime import Runtime


class GarbageCollector:
    resources = frozenset({"jobs", "daemonsets"})

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._gone: set[str] = set()

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        if new is None and old is not None:
            self._gone.add(old["metadata"].get("uid", ""))
            return True
        return False

    def sync(self) -> None:
        gone, self._gone = sorted(self._gone), set()
        for uid in gone:
            for pod in self.rt.cache.pods_of(uid):
                md = pod["metadata"]
                if not md.get("deletionTimestamp"):
                    self.rt.delete("pods", md["name"], md.get("namespace"))
