"""Pure batch/v1 Job arithmetic: how many pods to add or remove and what the status says.

`decide(job, pods, counted, now)` looks at one Job and its pods and returns a
`JobDecision`: pods to create, pods to delete and the new status. Creating and
deleting, and remembering which finished pods were already counted, are the Job
controller's job (`jobs.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clues_py.sandbox.controllers.common import (
    Obj,
    condition,
    parse_rfc3339,
    rfc3339,
    set_condition,
)
from clues_py.sandbox.controllers.podlife import is_pod_ready, is_terminal
from clues_py.sandbox.meta import clone


@dataclass(frozen=True, slots=True)
class JobSpec:
    parallelism: int
    completions: int | None
    backoff_limit: int
    suspend: bool
    active_deadline: float | None
    ttl_after_finished: float | None

    @classmethod
    def from_k8s(cls, job: Mapping[str, Any]) -> JobSpec:
        spec = job.get("spec") or {}
        par = spec.get("parallelism")
        comp = spec.get("completions")
        return cls(
            parallelism=1 if par is None else max(int(par), 0),
            completions=None if comp is None else max(int(comp), 0),
            backoff_limit=6 if spec.get("backoffLimit") is None else int(spec["backoffLimit"]),
            suspend=bool(spec.get("suspend")),
            active_deadline=_opt_float(spec.get("activeDeadlineSeconds")),
            ttl_after_finished=_opt_float(spec.get("ttlSecondsAfterFinished")),
        )


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


@dataclass(slots=True)
class Counts:
    """Finished pods ever counted for a Job (pods may be deleted later; counts stay)."""

    succeeded: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)


@dataclass(slots=True)
class JobDecision:
    create: int = 0
    delete: list[Obj] = field(default_factory=list)
    status: Obj = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return is_finished(self.status)


def is_finished(status: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def _active(pods: Sequence[Obj]) -> list[Obj]:
    return [
        p
        for p in pods
        if not is_terminal(p) and not (p.get("metadata") or {}).get("deletionTimestamp")
    ]


def _newest_first(pods: Sequence[Obj]) -> list[Obj]:
    """Pods to delete first: not yet running, then the newest (the ReplicaSet order, simplified)."""

    def rank(p: Obj) -> tuple[int, str, str]:
        running = (p.get("status") or {}).get("phase") == "Running"
        md = p.get("metadata") or {}
        return (1 if running else 0, _neg(md.get("creationTimestamp") or ""), md.get("name", ""))

    return sorted(pods, key=rank)


def _neg(s: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in s)


def count(pods: Sequence[Obj], counted: Counts) -> None:
    """Add newly finished pods to `counted` (by uid)."""
    for p in pods:
        phase = (p.get("status") or {}).get("phase")
        uid = (p.get("metadata") or {}).get("uid", "")
        if phase == "Succeeded":
            counted.succeeded.add(uid)
        elif phase == "Failed":
            counted.failed.add(uid)


def restarts(pods: Sequence[Obj]) -> int:
    """Container restarts of OnFailure pods, which count against backoffLimit."""
    n = 0
    for p in pods:
        if (p.get("spec") or {}).get("restartPolicy") == "OnFailure":
            for cs in (p.get("status") or {}).get("containerStatuses") or ():
                n += int(cs.get("restartCount") or 0)
    return n


def decide(
    job: Mapping[str, Any],
    pods: Sequence[Obj],
    counted: Counts,
    now: float,
    spec: JobSpec | None = None,
) -> JobDecision:
    """One reconcile of a Job: the pods to create/delete and the status to write (`spec`:
    `JobSpec.from_k8s(job)`, if the caller has it)."""
    spec = spec or JobSpec.from_k8s(job)
    status: Obj = clone(job.get("status") or {})
    count(pods, counted)
    active = _active(pods)
    succeeded = len(counted.succeeded)
    failed = len(counted.failed) + restarts(active)
    out = JobDecision(status=status)
    status["succeeded"] = succeeded
    status["failed"] = len(counted.failed)
    status["terminating"] = sum(
        1 for p in pods if (p.get("metadata") or {}).get("deletionTimestamp") and not is_terminal(p)
    )

    if is_finished(status):
        out.delete = active
        _set_active(status, [])
        return out

    ts = rfc3339(now)
    # Terminal conditions come first: they hold even while suspended.
    if (spec.completions is not None and succeeded >= spec.completions) or (
        spec.completions is None and succeeded > 0 and not active
    ):
        set_condition(
            status,
            "SuccessCriteriaMet",
            "True",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            now,
            probe=True,
        )
        set_condition(
            status,
            "Complete",
            "True",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            now,
            probe=True,
        )
        status["completionTime"] = ts
        out.delete = active
        _set_active(status, [])
        return out
    fail_reason = ""
    if failed > spec.backoff_limit:
        fail_reason, msg = "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    elif spec.active_deadline is not None and not spec.suspend:
        started = _start_time(status)
        if started is not None and now >= started + spec.active_deadline:
            fail_reason, msg = "DeadlineExceeded", "Job was active longer than specified deadline"
    if fail_reason:
        set_condition(status, "FailureTarget", "True", fail_reason, msg, now, probe=True)
        set_condition(status, "Failed", "True", fail_reason, msg, now, probe=True)
        out.delete = active
        _set_active(status, [])
        return out

    if spec.suspend:
        set_condition(status, "Suspended", "True", "JobSuspended", "Job suspended", now, probe=True)
        out.delete = active
        _set_active(status, [])
        return out
    susp = condition({"status": status}, "Suspended")
    if susp is not None and susp.get("status") == "True":
        set_condition(status, "Suspended", "False", "JobResumed", "Job resumed", now, probe=True)
        status["startTime"] = ts  # resuming restarts the clock, as in Kubernetes
    status.setdefault("startTime", ts)

    if spec.completions is None:
        want = 0 if succeeded > 0 else spec.parallelism
    else:
        want = min(spec.parallelism, spec.completions - succeeded)
    if len(active) < want:
        out.create = want - len(active)
    elif len(active) > want:
        out.delete = _newest_first(active)[: len(active) - want]
    kept = [p for p in active if p not in out.delete]
    _set_active(status, kept)
    return out


def _set_active(status: Obj, active: Sequence[Obj]) -> None:
    status["active"] = len(active)
    status["ready"] = sum(1 for p in active if is_pod_ready(p))


def _start_time(status: Mapping[str, Any]) -> float | None:
    return parse_rfc3339(status.get("startTime"))


def clean_status(status: Obj) -> Obj:
    """Drop zero counters the API server omits (omitempty), as a real Job status shows them."""
    return {
        k: v for k, v in status.items() if not (k in ("active", "succeeded", "failed") and v == 0)
    }
