"""The batch/v1 Job controller of the sandbox: creates and removes a Job's pods, writes its status.

Finished pods are counted once by uid (so deleting them later keeps the counts),
the arithmetic is `joblogic.decide`, and TTL-after-finished and
activeDeadlineSeconds run on the runtime's timers. Starting and finishing the
pods is the kubelet's job; deleting pods of a deleted Job is `gc.py`'s.
"""

from __future__ import annotations

from clues_py.sandbox.controllers import joblogic
from clues_py.sandbox.controllers.common import (
    Obj,
    controller_uid,
    key_of,
    parse_rfc3339,
    pod_from_template,
    short_hash,
)
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.runtime import Runtime, Timer

SOURCE = "job-controller"


class JobController:
    resources = frozenset({"jobs", "pods"})

    def __init__(self, runtime: Runtime, events: EventRecorder) -> None:
        self.rt = runtime
        self.events = events
        self._dirty: set[str] = set()
        self._by_uid: dict[str, str] = {}
        self._counts: dict[str, joblogic.Counts] = {}
        self._seq: dict[str, int] = {}
        self._timers: dict[str, Timer] = {}
        # uid -> (metadata.generation, its spec): read twice per reconcile, changed rarely
        self._specs: dict[str, tuple[int, joblogic.JobSpec]] = {}

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        obj = new or old or {}
        if resource == "jobs":
            uid = obj["metadata"].get("uid", "")
            if new is None:
                self._by_uid.pop(uid, None)
                self._counts.pop(uid, None)
                self._seq.pop(uid, None)
                self._specs.pop(uid, None)
                t = self._timers.pop(uid, None)
                if t:
                    t.cancel()
                return False
            self._by_uid[uid] = key_of(new)
            self._dirty.add(key_of(new))
            return True
        owner = controller_uid(obj)
        job_key = self._by_uid.get(owner)
        if job_key is None:
            return False
        counted = self._counts.get(owner)
        if new is None and old is not None and counted is not None:
            # A finished pod removed before the next sync (PodGC, a user) still counts.
            joblogic.count([old], counted)
        self._dirty.add(job_key)
        return True

    def sync(self) -> None:
        todo, self._dirty = sorted(self._dirty), set()
        for key in todo:
            job = self.rt.cache.get("jobs", key)
            if job is not None:
                self._reconcile(job)

    def _reconcile(self, job: Obj) -> None:
        md = job["metadata"]
        uid = md.get("uid", "")
        pods = self.rt.cache.pods_of(uid)
        counted = self._counts.get(uid)
        if counted is None:
            counted = self._counts[uid] = self._initial_counts(job, pods)
        now = self.rt.clock.now()
        was_finished = joblogic.is_finished(job.get("status") or {})
        spec = self._spec(uid, job)
        decision = joblogic.decide(job, pods, counted, now, spec)
        for pod in decision.delete:
            pmd = pod["metadata"]
            self.rt.delete("pods", pmd["name"], pmd.get("namespace"))
        created = sum(self._create_pod(job) for _ in range(decision.create))
        if created:
            # Pods just created count as active at once, as the Job controller's `active +=
            # diff`: their own events then find the status already right (no second write).
            decision.status["active"] = int(decision.status.get("active") or 0) + created
        status = joblogic.clean_status(decision.status)
        if status != (job.get("status") or {}):

            def put(j: Obj) -> None:
                if j["metadata"].get("uid") == uid:
                    j["status"] = status

            self.rt.mutate("jobs", md["name"], md.get("namespace"), put, shallow=True)
        if decision.finished and not was_finished:
            failed = next((c for c in status.get("conditions", ()) if c["type"] == "Failed"), None)
            if failed:
                self.events.record(
                    job,
                    "Warning",
                    failed.get("reason", "Failed"),
                    failed.get("message", ""),
                    source=SOURCE,
                )
            else:
                self.events.record(job, "Normal", "Completed", "Job completed", source=SOURCE)
        self._arm_timer(job, status, now, spec)

    def _initial_counts(self, job: Obj, pods: list[Obj]) -> joblogic.Counts:
        """First sight of a Job (new, or the sandbox restarted): trust its status counters."""
        counted = joblogic.Counts()
        joblogic.count(pods, counted)
        status = job.get("status") or {}
        for want, have, tag in (
            (int(status.get("succeeded") or 0), counted.succeeded, "s"),
            (int(status.get("failed") or 0), counted.failed, "f"),
        ):
            i = 0
            while len(have) < want:
                have.add(f"~{tag}{i}")
                i += 1
        return counted

    def _create_pod(self, job: Obj) -> bool:
        md = job["metadata"]
        uid = md.get("uid", "")
        labels = {
            "job-name": md["name"],
            "batch.kubernetes.io/job-name": md["name"],
            "controller-uid": uid,
            "batch.kubernetes.io/controller-uid": uid,
        }
        for _ in range(100):
            seq = self._seq[uid] = self._seq.get(uid, 0) + 1
            # Names depend on the Job, not on its random uid, so virtual runs repeat exactly.
            suffix = short_hash(
                md.get("namespace", ""), md["name"], md.get("creationTimestamp", ""), str(seq)
            )
            name = f"{md['name'][:57]}-{suffix}"
            pod = pod_from_template(job, "batch/v1", "Job", name, labels)
            pod["spec"].setdefault("restartPolicy", "Never")
            pod["metadata"].setdefault("annotations", {})
            if self.rt.create("pods", pod, md.get("namespace")) is not None:
                self.events.record(
                    job, "Normal", "SuccessfulCreate", f"Created pod: {name}", source=SOURCE
                )
                return True
        return False

    def _spec(self, uid: str, job: Obj) -> joblogic.JobSpec:
        generation = int(job["metadata"].get("generation") or 0)
        got = self._specs.get(uid)
        if got is None or got[0] != generation:
            got = self._specs[uid] = (generation, joblogic.JobSpec.from_k8s(job))
        return got[1]

    def _arm_timer(self, job: Obj, status: Obj, now: float, spec: joblogic.JobSpec) -> None:
        """TTL after finished, or the activeDeadlineSeconds check, whichever applies."""
        md = job["metadata"]
        uid = md.get("uid", "")
        due: float | None = None
        key = key_of(job)
        if joblogic.is_finished(status):
            if spec.ttl_after_finished is not None:
                ended = (
                    parse_rfc3339(status.get("completionTime")) or _condition_time(status) or now
                )
                due = ended + spec.ttl_after_finished

                def fire() -> None:
                    self._timers.pop(uid, None)
                    self.rt.delete("jobs", md["name"], md.get("namespace"))

            else:
                return
        elif spec.active_deadline is not None and not spec.suspend:
            start = parse_rfc3339(status.get("startTime"))
            if start is None:
                return
            due = start + spec.active_deadline

            def fire() -> None:
                self._timers.pop(uid, None)
                self._dirty.add(key)
                self.rt.kick(self)

        else:
            return
        old = self._timers.get(uid)
        if old is not None and old.due == due and not old.cancelled:
            return
        if old is not None:
            old.cancel()
        self._timers[uid] = self.rt.call_at(due, fire)


def _condition_time(status: Obj) -> float | None:
    for c in status.get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return parse_rfc3339(c.get("lastTransitionTime"))
    return None
