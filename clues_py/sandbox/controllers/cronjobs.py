"""The batch/v1 CronJob controller of the sandbox: Jobs on a schedule, on the runtime's clock.

At each scheduled time (`cron.py`, in the CronJob's timeZone) it creates the Job
`<cronjob>-<minutes since epoch>` from the jobTemplate, unless suspended, past
`startingDeadlineSeconds`, or forbidden by `concurrencyPolicy` (Forbid skips,
Replace deletes the running Jobs first). It tracks `status.active`,
`lastScheduleTime` and `lastSuccessfulTime`, and keeps only the newest
`successfulJobsHistoryLimit`/`failedJobsHistoryLimit` finished Jobs. A runtime timer
wakes it at the next run, so virtual time drives it as well. Running the Jobs is the
Job controller's business.
"""

from __future__ import annotations

import copy

from clues_py.sandbox import cron
from clues_py.sandbox.controllers.common import Obj, key_of, owner_ref, parse_rfc3339, rfc3339
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.joblogic import is_finished
from clues_py.sandbox.controllers.owned import OwnerController
from clues_py.sandbox.controllers.runtime import Runtime

SOURCE = "cronjob-controller"
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def _finished_as(job: Obj) -> str:
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return ""


def _ref(job: Obj) -> Obj:
    md = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": md["name"],
        "namespace": md.get("namespace"),
        "resourceVersion": md.get("resourceVersion"),
        "uid": md.get("uid"),
    }


class CronJobController(OwnerController):
    def __init__(self, runtime: Runtime, events: EventRecorder) -> None:
        super().__init__(runtime, events, "cronjobs", frozenset({"jobs"}))
        self._seen_finished: set[str] = set()  # job uids already reported finished

    def reconcile(self, cj: Obj) -> None:
        md = cj["metadata"]
        spec = cj.get("spec") or {}
        status: Obj = copy.deepcopy(cj.get("status") or {})
        jobs = self.rt.cache.owned("jobs", md.get("uid", ""))
        active = [j for j in jobs if not is_finished(j.get("status") or {})]
        self._note_finished(cj, jobs, status)
        try:
            schedule, zone = cron.parse(spec.get("schedule", "")), cron.zone(spec.get("timeZone"))
        except cron.CronError as exc:
            self.events.record(cj, "Warning", "UnparseableSchedule", str(exc), source=SOURCE)
            return
        now = self.rt.clock.now()
        since = parse_rfc3339(status.get("lastScheduleTime")) or parse_rfc3339(
            md.get("creationTimestamp")
        )
        due = schedule.last_at_or_before(since or now, now, zone)
        if due is not None and not spec.get("suspend"):
            active = self._start(cj, due, now, active, status)
        status["active"] = [_ref(j) for j in sorted(active, key=key_of)]
        if not status["active"]:
            del status["active"]
        self._prune(cj, jobs)
        self.write_status(cj, status)
        self.wake_at(cj, schedule.next_after(now, zone), earliest=False)

    def _start(self, cj: Obj, due: float, now: float, active: list[Obj], status: Obj) -> list[Obj]:
        spec = cj.get("spec") or {}
        deadline = spec.get("startingDeadlineSeconds")
        status["lastScheduleTime"] = rfc3339(due)
        if deadline is not None and now - due > float(deadline):
            self.events.record(
                cj,
                "Warning",
                "MissSchedule",
                f"Missed scheduled time to start a job: {rfc3339(due)}",
                source=SOURCE,
            )
            return active
        policy = spec.get("concurrencyPolicy") or "Allow"
        if active and policy == "Forbid":
            self.events.record(
                cj,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is "
                "Forbid",
                source=SOURCE,
            )
            return active
        if active and policy == "Replace":
            for job in active:
                self._delete(cj, job)
            active = []
        made = self._create_job(cj, due)
        return active + ([made] if made is not None else [])

    def _create_job(self, cj: Obj, due: float) -> Obj | None:
        md = cj["metadata"]
        template = copy.deepcopy((cj.get("spec") or {}).get("jobTemplate") or {})
        tmd = template.get("metadata") or {}
        name = f"{md['name'][:52]}-{int(due // 60)}"
        job: Obj = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": md.get("namespace"),
                "labels": dict(tmd.get("labels") or {}),
                "annotations": {**(tmd.get("annotations") or {}), SCHEDULED_AT: rfc3339(due)},
                "ownerReferences": [owner_ref(cj, "batch/v1", "CronJob")],
            },
            "spec": template.get("spec") or {},
        }
        made = self.rt.create("jobs", job, md.get("namespace"))
        if made is not None:
            self.events.record(
                cj, "Normal", "SuccessfulCreate", f"Created job {name}", source=SOURCE
            )
        return made

    def _note_finished(self, cj: Obj, jobs: list[Obj], status: Obj) -> None:
        for job in jobs:
            how = _finished_as(job)
            uid = job["metadata"].get("uid", "")
            if not how or uid in self._seen_finished:
                continue
            self._seen_finished.add(uid)
            name = job["metadata"]["name"]
            self.events.record(
                cj,
                "Normal",
                "SawCompletedJob",
                f"Saw completed job: {name}, status: {how}",
                source=SOURCE,
            )
            done = (job.get("status") or {}).get("completionTime")
            if how == "Complete" and done and done > str(status.get("lastSuccessfulTime") or ""):
                status["lastSuccessfulTime"] = done

    def _prune(self, cj: Obj, jobs: list[Obj]) -> None:
        spec = cj.get("spec") or {}
        for how, field, default in (
            ("Complete", "successfulJobsHistoryLimit", 3),
            ("Failed", "failedJobsHistoryLimit", 1),
        ):
            limit = spec.get(field)
            limit = default if limit is None else int(limit)
            done = sorted(
                (
                    j
                    for j in jobs
                    if _finished_as(j) == how and not j["metadata"].get("deletionTimestamp")
                ),
                key=lambda j: (j["metadata"].get("creationTimestamp", ""), j["metadata"]["name"]),
            )
            for job in done[: max(len(done) - limit, 0)]:
                self._delete(cj, job)

    def _delete(self, cj: Obj, job: Obj) -> None:
        md = job["metadata"]
        self._seen_finished.discard(md.get("uid", ""))
        self.rt.delete("jobs", md["name"], md.get("namespace"), propagation="Background")
        self.events.record(
            cj, "Normal", "SuccessfulDelete", f"Deleted job {md['name']}", source=SOURCE
        )
