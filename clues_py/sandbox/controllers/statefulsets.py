"""The apps/v1 StatefulSet controller of the sandbox: stable pod names, ordered changes, revisions.

Pods are `<set>-0` .. `<set>-N-1` with `statefulset.kubernetes.io/pod-name`,
`apps.kubernetes.io/pod-index` and `controller-revision-hash` labels and
`hostname`/`subdomain` set. With `OrderedReady` (the default) ordinal i is created
only once 0..i-1 are Running and Ready, and scaling down removes the highest ordinal
first, one at a time; `Parallel` does all at once. Each template is a
ControllerRevision (`kubectl rollout history/undo statefulset` read them); a
RollingUpdate replaces pods from the highest ordinal down to `partition`, one at a
time, and `currentRevision` catches up with `updateRevision` when all are updated.
Failed pods are deleted and recreated. Volume claim templates are not provisioned.
"""

from __future__ import annotations

import copy
from typing import Any

from clues_py.sandbox.controllers import replicalogic, rollout
from clues_py.sandbox.controllers.common import Obj, owner_ref, pod_from_template
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.owned import OwnerController
from clues_py.sandbox.controllers.podlife import is_pod_ready, is_terminal
from clues_py.sandbox.controllers.runtime import Runtime
from clues_py.sandbox.meta import clone

SOURCE = "statefulset-controller"
REVISION_LABEL = "controller-revision-hash"
HASH_LABEL = "controller.kubernetes.io/hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def _ordinal(set_name: str, pod: Obj) -> int | None:
    name = pod["metadata"]["name"]
    prefix = set_name + "-"
    if not name.startswith(prefix) or not name[len(prefix) :].isdigit():
        return None
    return int(name[len(prefix) :])


def _up(pod: Obj) -> bool:
    """Running, Ready and not being deleted: what OrderedReady waits for."""
    return (
        (pod.get("status") or {}).get("phase") == "Running"
        and is_pod_ready(pod)
        and not pod["metadata"].get("deletionTimestamp")
    )


def _revision(pod: Obj) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL, ""))


class StatefulSetController(OwnerController):
    def __init__(self, runtime: Runtime, events: EventRecorder) -> None:
        owned = frozenset({"pods", "controllerrevisions"})
        super().__init__(runtime, events, "statefulsets", owned)
        self.source = SOURCE

    # ----------------------------------------------------------------- one set
    def reconcile(self, sts: Obj) -> None:
        md = sts["metadata"]
        uid = md.get("uid", "")
        update_rev = self._ensure_revision(sts)
        current_rev = (sts.get("status") or {}).get("currentRevision") or update_rev
        pods: dict[int, Obj] = {}
        for p in self.rt.cache.pods_of(uid):
            i = _ordinal(md["name"], p)
            if i is not None:
                pods[i] = p
        self._act(sts, pods, current_rev, update_rev)
        self._write_status(sts, current_rev, update_rev)
        self._prune_revisions(sts, {current_rev, update_rev})

    def _act(self, sts: Obj, pods: dict[int, Obj], current_rev: str, update_rev: str) -> None:
        spec = sts.get("spec") or {}
        replicas = replicalogic.desired(sts)
        ordered = (spec.get("podManagementPolicy") or "OrderedReady") != "Parallel"
        # Failed or finished pods are deleted; the next pass recreates them.
        for done in pods.values():
            if is_terminal(done) and not done["metadata"].get("deletionTimestamp"):
                self._delete(sts, done)
                if ordered:
                    return
        for i in range(replicas):
            found = pods.get(i)
            if found is None:
                self._create(sts, i, current_rev, update_rev)
                if ordered:
                    return
            elif ordered and not _up(found):
                return
        surplus = sorted((i for i in pods if i >= replicas), reverse=True)
        for i in surplus:
            p = pods[i]
            if p["metadata"].get("deletionTimestamp"):
                if ordered:
                    return
                continue
            if ordered and not all(_up(pods[j]) for j in pods if j != i and j < replicas):
                return
            self._delete(sts, p)
            if ordered:
                return
        strategy = spec.get("updateStrategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
            return
        if any(not _up(pods[i]) for i in pods if i < replicas) or len(pods) < replicas:
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for i in range(replicas - 1, partition - 1, -1):
            if i in pods and _revision(pods[i]) != update_rev:
                self._delete(sts, pods[i])
                return

    def _template_for(self, sts: Obj, ordinal: int, current_rev: str) -> Obj:
        """Pods below the partition keep the current revision's template, others the new one."""
        spec = sts.get("spec") or {}
        strategy = spec.get("updateStrategy") or {}
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        if (strategy.get("type") or "RollingUpdate") == "RollingUpdate" and ordinal < partition:
            ns = sts["metadata"].get("namespace") or ""
            cr = self.rt.cache.get("controllerrevisions", f"{ns}/{current_rev}")
            data = (cr or {}).get("data") or {}
            template = ((data.get("spec") or {}).get("template")) or None
            if template:
                template = {k: v for k, v in template.items() if k != "$patch"}
                return {**sts, "spec": {**spec, "template": template}}
        return sts

    def _create(self, sts: Obj, ordinal: int, current_rev: str, update_rev: str) -> None:
        md = sts["metadata"]
        name = f"{md['name']}-{ordinal}"
        source = self._template_for(sts, ordinal, current_rev)
        rev = update_rev if source is sts else current_rev
        labels = {REVISION_LABEL: rev, POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal)}
        pod = pod_from_template(source, "apps/v1", "StatefulSet", name, labels)
        pod["metadata"]["ownerReferences"] = [owner_ref(sts, "apps/v1", "StatefulSet")]
        pod["spec"]["hostname"] = name
        service = (sts.get("spec") or {}).get("serviceName")
        if service:
            pod["spec"]["subdomain"] = service
        where = f"Pod {name} in StatefulSet {md['name']}"
        self.create_pod(
            sts, pod, f"create {where} successful", f"create {where} failed error: {{error}}"
        )

    def _delete(self, sts: Obj, pod: Obj) -> None:
        pmd = pod["metadata"]
        self.rt.delete("pods", pmd["name"], pmd.get("namespace"))
        self.events.record(
            sts,
            "Normal",
            "SuccessfulDelete",
            f"delete Pod {pmd['name']} in StatefulSet {sts['metadata']['name']} successful",
            source=SOURCE,
        )

    # ----------------------------------------------------------------- revisions
    def _ensure_revision(self, sts: Obj) -> str:
        """The ControllerRevision of the current template (created or renumbered as needed)."""
        md = sts["metadata"]
        spec = sts.get("spec") or {}
        template = spec.get("template") or {}
        collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
        h = rollout.template_hash(template, collisions)
        name = f"{md['name']}-{h}"
        ns = md.get("namespace") or ""
        owned = self.rt.cache.owned("controllerrevisions", md.get("uid", ""))
        top = max((int(r.get("revision") or 0) for r in owned), default=0)
        existing = self.rt.cache.get("controllerrevisions", f"{ns}/{name}")
        if existing is not None:
            if int(existing.get("revision") or 0) < top:

                def renumber(r: Obj) -> None:
                    r["revision"] = top + 1

                self.rt.mutate("controllerrevisions", name, ns, renumber)
            return name
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels[HASH_LABEL] = h
        data = {"spec": {"template": {"$patch": "replace", **clone(template)}}}
        annotations = {
            k: v
            for k, v in (md.get("annotations") or {}).items()
            if k == "kubernetes.io/change-cause"
        }
        cr: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "ownerReferences": [owner_ref(sts, "apps/v1", "StatefulSet")],
            },
            "data": data,
            "revision": top + 1,
        }
        if annotations:
            cr["metadata"]["annotations"] = annotations
        self.rt.create("controllerrevisions", cr, ns)
        return name

    def _prune_revisions(self, sts: Obj, live: set[str]) -> None:
        limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        owned = self.rt.cache.owned("controllerrevisions", sts["metadata"].get("uid", ""))
        old = sorted(
            (r for r in owned if r["metadata"]["name"] not in live),
            key=lambda r: int(r.get("revision") or 0),
        )
        for r in old[: max(len(old) - limit, 0)]:
            self.rt.delete(
                "controllerrevisions", r["metadata"]["name"], r["metadata"].get("namespace")
            )

    # ----------------------------------------------------------------- status
    def _write_status(self, sts: Obj, current_rev: str, update_rev: str) -> None:
        md = sts["metadata"]
        uid = md.get("uid", "")
        spec = sts.get("spec") or {}
        now = self.rt.clock.now()
        pods = [p for p in self.rt.cache.pods_of(uid) if replicalogic.is_active(p)]
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        counts = replicalogic.count(pods, labels, float(spec.get("minReadySeconds") or 0), now)
        updated = sum(1 for p in pods if _revision(p) == update_rev)
        current = sum(1 for p in pods if _revision(p) == current_rev)
        prev: dict[str, Any] = copy.deepcopy(sts.get("status") or {})
        rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        if (
            current_rev != update_rev
            and rolling
            and updated == counts.replicas
            and counts.ready == counts.replicas
        ):
            current_rev, current = update_rev, updated
        status: dict[str, Any] = {
            "observedGeneration": int(md.get("generation") or 1),
            "replicas": counts.replicas,
            "readyReplicas": counts.ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "availableReplicas": counts.available,
            "currentRevision": current_rev,
            "updateRevision": update_rev,
            "collisionCount": int(prev.get("collisionCount") or 0),
        }
        status = {k: v for k, v in status.items() if v or k in ("replicas", "availableReplicas")}
        self.write_status(sts, status)
        if counts.next_available is not None:
            self.wake_at(sts, counts.next_available)
