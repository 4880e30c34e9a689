"""The ReplicaSet (apps/v1) and ReplicationController (v1) controllers of the sandbox.

One class serves both kinds: keep `spec.replicas` active pods from the template,
delete the surplus in `ActivePods` order, and write the status counters
(`replicalogic.py`). A pod becomes available `minReadySeconds` after it turned
Ready; a runtime timer re-syncs then. Pods that finished are replaced (the
kubelet restarts `Always` containers in place, so that is rare). Starting pods is
the kubelet's job, deleting the pods of a deleted owner `gc.py`'s, and rolling out
templates the Deployment controller's.
"""

from __future__ import annotations

from clues_py.sandbox.controllers import replicalogic
from clues_py.sandbox.controllers.common import Obj, pod_from_template, short_hash
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.owned import OwnerController
from clues_py.sandbox.controllers.runtime import Runtime

# resource -> (apiVersion, kind, event source)
KINDS = {
    "replicasets": ("apps/v1", "ReplicaSet", "replicaset-controller"),
    "replicationcontrollers": ("v1", "ReplicationController", "replication-controller"),
}
# Pods one owner creates per sync, as the real controller's burst limit.
BURST = 500


class ReplicaSetController(OwnerController):
    def __init__(self, runtime: Runtime, events: EventRecorder, resource: str) -> None:
        if resource not in KINDS:
            raise ValueError(f"ReplicaSetController({resource!r}): expected one of {list(KINDS)}")
        super().__init__(runtime, events, resource, frozenset({"pods"}))
        self.api_version, self.kind, self.source = KINDS[resource]
        self._seq: dict[str, int] = {}

    def forget(self, uid: str) -> None:
        self._seq.pop(uid, None)

    def reconcile(self, obj: Obj) -> None:
        md = obj["metadata"]
        uid = md.get("uid", "")
        pods = self.rt.cache.pods_of(uid)
        active = [p for p in pods if replicalogic.is_active(p)]
        diff = len(active) - replicalogic.desired(obj)
        if diff < 0:
            for _ in range(min(-diff, BURST)):
                self._create_pod(obj)
        elif diff > 0:
            for pod in replicalogic.deletion_order(active)[:diff]:
                pmd = pod["metadata"]
                self.rt.delete("pods", pmd["name"], pmd.get("namespace"))
                self.events.record(
                    obj,
                    "Normal",
                    "SuccessfulDelete",
                    f"Deleted pod: {pmd['name']}",
                    source=self.source,
                )
        self._write_status(obj)

    def _write_status(self, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        counts = replicalogic.count(
            self.rt.cache.pods_of(obj["metadata"].get("uid", "")),
            template_labels,
            float(spec.get("minReadySeconds") or 0),
            self.rt.clock.now(),
        )
        legacy = self.resource == "replicationcontrollers"
        self.write_status(obj, replicalogic.replica_status(obj, counts, legacy=legacy))
        if counts.next_available is not None:
            self.wake_at(obj, counts.next_available)

    def _create_pod(self, obj: Obj) -> None:
        md = obj["metadata"]
        uid = md.get("uid", "")
        for _ in range(5):
            seq = self._seq[uid] = self._seq.get(uid, 0) + 1
            # Names depend on the owner, not on its random uid, so virtual runs repeat exactly.
            suffix = short_hash(
                md.get("namespace", ""), md["name"], md.get("creationTimestamp", ""), str(seq)
            )
            name = f"{md['name'][:57]}-{suffix}"
            pod = pod_from_template(obj, self.api_version, self.kind, name)
            made = self.create_pod(obj, pod, f"Created pod: {name}", "Error creating: {error}")
            if made is not False:
                return  # created, or refused (reported): a new name would not help
