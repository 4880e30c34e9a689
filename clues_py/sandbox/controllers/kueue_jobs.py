"""Kueue's batch/v1 Job integration: the Workload of a Job, and what admission changes.

Follows Kueue's jobframework: a Job with the `kueue.x-k8s.io/queue-name` label (or the
older annotation) gets a Workload named `job-<name>-<hash>` that it owns, with one pod
set `main` of min(parallelism, completions) pods of its template; the webhook creates
such Jobs suspended. `KueueJobController` keeps them in step: a Job running without an
admitted Workload is suspended, admission unsuspends it with the flavors' node labels and
the admission checks' pod set updates, a finished Job finishes its Workload (the garbage
collector deletes the Workload of a deleted Job). All of it only while a ClusterQueue
exists. Quota is `kueue.py`'s.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from clues_py.sandbox.controllers.common import Obj, key_of, owner_ref, set_condition
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.runtime import Runtime

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
JOB_UID_LABEL = "kueue.x-k8s.io/job-uid"
WORKLOAD_API = "kueue.x-k8s.io/v1beta2"
_MAX_NAME = 253
_HASH = 5
SOURCE = "kueue-job-controller"


def queue_of(job: Mapping[str, Any]) -> str:
    meta = job.get("metadata") or {}
    return str(
        (meta.get("labels") or {}).get(QUEUE_LABEL)
        or (meta.get("annotations") or {}).get(QUEUE_LABEL)
        or ""
    )


def workload_name(job_name: str, uid: str) -> str:
    """Kueue's `GetWorkloadNameForOwnerWithGVK`: job-<name>-<sha1(kind, group, name, uid)>."""
    digest = hashlib.sha1(f"Job\nbatch\n{job_name}\n{uid}".encode()).hexdigest()[:_HASH]
    prefix = f"job-{job_name}"[: _MAX_NAME - 1 - _HASH]
    return f"{prefix}-{digest}"


def pods_count(job: Mapping[str, Any]) -> int:
    spec = job.get("spec") or {}
    parallelism = spec.get("parallelism")
    count = 1 if parallelism is None else int(parallelism)
    completions = spec.get("completions")
    if completions is not None:
        count = min(count, int(completions))
    return count


def workload_for(job: Mapping[str, Any]) -> Obj:
    """The Workload Kueue creates for `job` (owned by it, in the storage version)."""
    meta = job["metadata"]
    template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    return {
        "apiVersion": WORKLOAD_API,
        "kind": "Workload",
        "metadata": {
            "name": workload_name(meta["name"], meta.get("uid", "")),
            "namespace": meta.get("namespace", "default"),
            "labels": {JOB_UID_LABEL: meta.get("uid", "")},
            "ownerReferences": [owner_ref(job, "batch/v1", "Job")],
        },
        "spec": {
            "queueName": queue_of(job),
            "active": True,
            "priority": 0,
            "podSets": [{"name": "main", "count": pods_count(job), "template": template}],
        },
    }


def suspend_on_create(active: bool, resource: str, obj: Obj) -> None:
    """Kueue's Job webhook: a Job submitted to a queue is created suspended."""
    if active and resource == "jobs" and queue_of(obj):
        obj.setdefault("spec", {})["suspend"] = True


def run_with(
    job: Obj,
    flavor_labels: Mapping[str, str],
    flavor_tolerations: Iterable[Obj],
    updates: Iterable[Mapping[str, Any]],
) -> None:
    """Unsuspend `job` in place as admission does: node labels, tolerations, pod set updates."""
    spec = job.setdefault("spec", {})
    spec["suspend"] = False
    template = spec.setdefault("template", {})
    tmeta = template.setdefault("metadata", {})
    pspec = template.setdefault("spec", {})
    selector: Obj = dict(pspec.get("nodeSelector") or {})
    selector.update(flavor_labels)
    tolerations = list(pspec.get("tolerations") or [])
    tolerations.extend(t for t in flavor_tolerations if t not in tolerations)
    for u in updates:
        if u.get("name", "main") != "main":
            continue
        selector.update(u.get("nodeSelector") or {})
        tmeta.setdefault("labels", {}).update(u.get("labels") or {})
        tmeta.setdefault("annotations", {}).update(u.get("annotations") or {})
        tolerations.extend(t for t in u.get("tolerations") or () if t not in tolerations)
    if selector:
        pspec["nodeSelector"] = selector
    if tolerations:
        pspec["tolerations"] = tolerations


def is_true(obj: Mapping[str, Any], ctype: str) -> bool:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == ctype:
            return bool(c.get("status") == "True")
    return False


def job_finished(job: Mapping[str, Any]) -> tuple[bool, bool, str]:
    """(finished, succeeded, message) of a batch/v1 Job."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return True, c["type"] == "Complete", str(c.get("message") or "")
    return False, False, ""


def owner_job(wl: Mapping[str, Any]) -> tuple[str, str]:
    """(job key, job uid) of the Job owning a Workload, or ("", "")."""
    meta = wl.get("metadata") or {}
    for ref in meta.get("ownerReferences") or ():
        if ref.get("kind") == "Job" and str(ref.get("apiVersion", "")).startswith("batch/"):
            return f"{meta.get('namespace', '')}/{ref.get('name', '')}", str(ref.get("uid", ""))
    return "", ""


class KueueJobController:
    resources = frozenset({"jobs", "workloads", "clusterqueues"})

    def __init__(self, runtime: Runtime, events: EventRecorder) -> None:
        self.rt = runtime
        self.events = events
        self._jobs: set[str] = set()

    def active(self) -> bool:
        return bool(self.rt.cache.objects["clusterqueues"])

    def webhook(self, resource: str, obj: Obj) -> None:
        """Mutating admission of new objects (installed on the store)."""
        if resource == "jobs" and queue_of(obj):
            suspend_on_create(bool(self.rt.store.list("clusterqueues")[0]), resource, obj)

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        obj = new or old or {}
        if resource == "jobs":
            if new is not None and queue_of(obj):
                self._jobs.add(key_of(obj))
                return True
            return False
        if resource == "workloads":
            job, _ = owner_job(obj)
            if job:
                self._jobs.add(job)
                return True
            return False
        # A ClusterQueue appeared: every queued Job is Kueue's now.
        if new is not None and old is None:
            for key, queued in self.rt.cache.objects["jobs"].items():
                if queue_of(queued):
                    self._jobs.add(key)
        return bool(self._jobs)

    def sync(self) -> None:
        if not self.active():
            self._jobs.clear()
            return
        jobs, self._jobs = sorted(self._jobs), set()
        for key in jobs:
            job = self.rt.cache.get("jobs", key)
            if job is not None and queue_of(job):
                self._reconcile_job(job)

    def _now(self) -> float:
        return self.rt.clock.now()

    def _reconcile_job(self, job: Obj) -> None:
        meta = job["metadata"]
        ns, uid = meta.get("namespace", "default"), meta.get("uid", "")
        finished, ok, message = job_finished(job)
        wl = next(iter(self.rt.cache.owned("workloads", uid)), None)
        suspended = bool((job.get("spec") or {}).get("suspend"))
        if wl is None:
            if finished:
                return
            created = self.rt.create("workloads", workload_for(job), ns)
            if created is not None:
                self.events.record(
                    job,
                    "Normal",
                    "CreatedWorkload",
                    f"Created Workload: {key_of(created)}",
                    source=SOURCE,
                )
            if not suspended:
                self._set_suspend(job, True, "Kueue suspended the Job: not admitted yet")
            return
        if finished:
            if not is_true(wl, "Finished"):
                reason, msg = (
                    ("Succeeded", "Job finished successfully") if ok else ("Failed", message)
                )
                now, wl_uid = self._now(), wl["metadata"].get("uid")

                def finish(w: Obj) -> None:
                    if w["metadata"].get("uid") == wl_uid:
                        set_condition(
                            w.setdefault("status", {}), "Finished", "True", reason, msg, now
                        )

                wmeta = wl["metadata"]
                self.rt.mutate("workloads", wmeta["name"], wmeta.get("namespace"), finish)
            return
        admitted = is_true(wl, "Admitted") and (wl.get("spec") or {}).get("active") is not False
        if admitted and suspended:
            self._start(job, wl)
        elif not admitted and not suspended:
            self._set_suspend(job, True, "Kueue suspended the Job: its Workload is not admitted")

    def _start(self, job: Obj, wl: Obj) -> None:
        status = wl.get("status") or {}
        admission = status.get("admission") or {}
        labels: dict[str, str] = {}
        tolerations: list[Obj] = []
        for a in admission.get("podSetAssignments") or ():
            for flavor in sorted(set((a.get("flavors") or {}).values())):
                rf = self.rt.cache.get("resourceflavors", flavor) or {}
                labels.update((rf.get("spec") or {}).get("nodeLabels") or {})
                tolerations.extend((rf.get("spec") or {}).get("tolerations") or ())
        updates = [
            u for c in status.get("admissionChecks") or () for u in c.get("podSetUpdates") or ()
        ]
        meta = job["metadata"]
        uid = meta.get("uid")

        def put(j: Obj) -> None:
            if j["metadata"].get("uid") == uid:
                run_with(j, labels, tolerations, updates)

        self.rt.mutate("jobs", meta["name"], meta.get("namespace"), put)
        self.events.record(
            job,
            "Normal",
            "Started",
            f"Admitted by clusterQueue {admission.get('clusterQueue', '')}",
            source=SOURCE,
        )

    def _set_suspend(self, job: Obj, value: bool, why: str) -> None:
        meta = job["metadata"]
        uid = meta.get("uid")

        def put(j: Obj) -> None:
            if j["metadata"].get("uid") == uid:
                j.setdefault("spec", {})["suspend"] = value

        self.rt.mutate("jobs", meta["name"], meta.get("namespace"), put)
        self.events.record(job, "Normal", "Suspended", why, source=SOURCE)

    # ------------------------------------------------------------------ quota and admission
