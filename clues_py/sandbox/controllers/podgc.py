"""Pod garbage collection of deleted nodes, as kube-controller-manager's PodGC does it.

When a Node object goes, every pod bound to it is removed: a pod still running is
first marked Failed with a `DisruptionTarget` condition (reason DeletionByPodGC),
so owners such as Jobs count the failure, then force-deleted. A pod bound to a
node that never existed is given the same treatment after a 40 s quarantine.
Replacing the pods is their owners' business; graceful node shutdown (pods fail
while the machine stops) is the kubelet's.
"""

from __future__ import annotations

from clues_py.sandbox.controllers.common import Obj, key_of, set_condition
from clues_py.sandbox.controllers.podlife import failed_status, is_terminal
from clues_py.sandbox.controllers.runtime import Runtime

QUARANTINE_SECONDS = 40.0
MESSAGE = "PodGC: node no longer exists"


class PodGC:
    resources = frozenset({"nodes", "pods"})

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._gone_nodes: set[str] = set()
        self._suspects: set[str] = set()  # pod keys whose node was missing after quarantine

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        if resource == "nodes":
            if new is None and old is not None:
                self._gone_nodes.add(key_of(old))
                return True
            return False
        if new is None or old is not None:
            return False
        node = (new.get("spec") or {}).get("nodeName")
        if node and node not in self.rt.cache.objects["nodes"]:
            key = key_of(new)

            def check() -> None:
                self._suspects.add(key)
                self.rt.kick(self)

            self.rt.call_later(QUARANTINE_SECONDS, check)
        return False

    def sync(self) -> None:
        nodes = self.rt.cache.objects["nodes"]
        gone, self._gone_nodes = sorted(self._gone_nodes), set()
        for name in gone:
            if name not in nodes:
                for bound in self.rt.cache.pods_on(name):
                    self._collect(bound)
        suspects, self._suspects = sorted(self._suspects), set()
        for key in suspects:
            pod = self.rt.cache.get("pods", key)
            if pod is not None and (pod.get("spec") or {}).get("nodeName") not in nodes:
                self._collect(pod)

    def _collect(self, pod: Obj) -> None:
        md = pod["metadata"]
        if not is_terminal(pod):
            now = self.rt.clock.now()
            status = failed_status(pod, now, "", "")
            status.pop("reason", None)
            status.pop("message", None)
            set_condition(
                status, "DisruptionTarget", "True", "DeletionByPodGC", MESSAGE, now, probe=True
            )
            uid = md.get("uid")

            def mark(p: Obj) -> None:
                if p["metadata"].get("uid") == uid and not is_terminal(p):
                    p["status"] = status

            self.rt.mutate("pods", md["name"], md.get("namespace"), mark)
        self.rt.delete("pods", md["name"], md.get("namespace"), grace=0)
