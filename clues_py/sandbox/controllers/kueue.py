"""The sandbox's mini-Kueue scheduler: quota reservation and admission of Workloads.

Does what Kueue's scheduler and workload controller do, only while a ClusterQueue exists:

- every pass reserves quota for pending Workloads per ClusterQueue in priority then FIFO
  order (BestEffortFIFO, or StrictFIFO: a head that does not fit blocks the rest), with
  flavors and cohort borrowing from `kueue_quota`, writing `QuotaReserved` (Kueue's own
  messages when it does not fit) and the ClusterQueue's admission checks as Pending;
- a Workload whose checks are all Ready is Admitted; a Retry check releases its quota
  and requeues it after the check's delay; a Rejected one deactivates it;
- then the queues' status (`kueue_status`).

Jobs and their Workloads are `kueue_jobs.KueueJobController`'s, the provisioning
admission check `kueue_provisioning.py`'s; they talk only through Workload status, as
Kueue's controllers do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clues_py.model import SelectorRequirement
from clues_py.sandbox import kueue_versions as kv
from clues_py.sandbox.controllers import kueue_jobs as kj
from clues_py.sandbox.controllers import kueue_quota as kq
from clues_py.sandbox.controllers.common import Obj, key_of, parse_rfc3339, rfc3339, set_condition
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.kueue_status import write_queue_status
from clues_py.sandbox.controllers.runtime import Runtime, Timer

SOURCE = "kueue-controller"


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(
        SelectorRequirement(
            e.get("key", ""), e.get("operator", ""), tuple(e.get("values") or ())
        ).matches(labels)
        for e in selector.get("matchExpressions") or ()
    )


class KueueController:
    resources = frozenset(
        {
            "workloads",
            "clusterqueues",
            "localqueues",
            "resourceflavors",
            "admissionchecks",
            "namespaces",
        }
    )

    def __init__(self, runtime: Runtime, events: EventRecorder) -> None:
        self.rt = runtime
        self.events = events
        self._dirty = False
        self._timer: Timer | None = None

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        self._dirty = True
        return True

    def sync(self) -> None:
        if self._dirty and self.rt.cache.objects["clusterqueues"]:
            self._dirty = False
            self._schedule_pass()

    def _now(self) -> float:
        return self.rt.clock.now()

    def _schedule_pass(self) -> None:
        objects = self.rt.cache.objects
        now = self._now()
        cqs = {k: v for k, v in sorted(objects["clusterqueues"].items())}
        flavors = objects["resourceflavors"]
        labels = {n: (f.get("spec") or {}).get("nodeLabels") or {} for n, f in flavors.items()}
        checks = objects["admissionchecks"]
        broken = {name: self._problem(cq, flavors, checks) for name, cq in cqs.items()}
        quotas = kq.Quotas(kq.queue_quotas(cq) for cq in cqs.values())
        admitted_use = kq.Quotas(kq.queue_quotas(cq) for cq in cqs.values())
        counts = {n: [0, 0, 0] for n in cqs}  # pending, reserving, admitted
        pending: list[Obj] = []
        for _, wl in sorted(objects["workloads"].items()):
            if kj.is_true(wl, "Finished"):
                continue
            admission = (wl.get("status") or {}).get("admission")
            if kj.is_true(wl, "QuotaReserved") and admission:
                cq = str(admission.get("clusterQueue", ""))
                if self._progress(wl, cqs.get(cq), now):
                    continue  # released (retry) or deactivated (rejected)
                quotas.reserve(cq, kq.assignments_of(admission))
                if cq in counts:
                    counts[cq][1] += 1
                if kj.is_true(wl, "Admitted"):
                    admitted_use.reserve(cq, kq.assignments_of(admission))
                    if cq in counts:
                        counts[cq][2] += 1
            elif (wl.get("spec") or {}).get("active") is not False:
                pending.append(wl)
        pending.sort(
            key=lambda w: (
                -int((w.get("spec") or {}).get("priority") or 0),
                w["metadata"].get("creationTimestamp", ""),
                key_of(w),
            )
        )
        blocked: set[str] = set()
        for wl in pending:
            cq_name, problem = self._route(wl, cqs, broken)
            if problem:
                self._pending(wl, "Inadmissible", problem)
                continue
            counts[cq_name][0] += 1
            requeue = parse_rfc3339(
                ((wl.get("status") or {}).get("requeueState") or {}).get("requeueAt")
            )
            if requeue is not None and requeue > now:
                self._wake_at(requeue)
                continue
            if cq_name in blocked:
                self._pending(
                    wl, "Pending", f"waits behind the head of ClusterQueue {cq_name} (StrictFIFO)"
                )
                continue
            pod_sets = [
                (
                    str(ps.get("name", "main")),
                    int(ps.get("count") or 0),
                    kq.requests_of((ps.get("template") or {}).get("spec") or {}),
                    ((ps.get("template") or {}).get("spec") or {}).get("nodeSelector") or {},
                )
                for ps in (wl.get("spec") or {}).get("podSets") or ()
            ]
            assignment, why = quotas.assign(cq_name, pod_sets, labels)
            if assignment is None:
                self._pending(wl, "Pending", why)
                if quotas.queues[cq_name].strict_fifo:
                    blocked.add(cq_name)
                continue
            quotas.reserve(cq_name, assignment)
            counts[cq_name][0] -= 1
            counts[cq_name][1] += 1
            if self._reserve(wl, cq_name, assignment, cqs[cq_name], now):
                admitted_use.reserve(cq_name, assignment)
                counts[cq_name][2] += 1
        write_queue_status(self.rt, cqs, quotas, admitted_use, counts, broken)

    def _problem(self, cq: Obj, flavors: Mapping[str, Obj], checks: Mapping[str, Obj]) -> str:
        names = {
            f.get("name")
            for g in (cq.get("spec") or {}).get("resourceGroups") or ()
            for f in g.get("flavors") or ()
        }
        missing = sorted(n for n in names if n not in flavors)
        if missing:
            return f"references missing ResourceFlavor(s): {', '.join(missing)}"
        gone = sorted(n for n in kv.check_names(cq, names) if n not in checks)
        if gone:
            return f"references missing AdmissionCheck(s): {', '.join(gone)}"
        return ""

    def _route(self, wl: Obj, cqs: Mapping[str, Obj], broken: Mapping[str, str]) -> tuple[str, str]:
        """(ClusterQueue, "") for a pending Workload, or ("", why it cannot be queued)."""
        ns = wl["metadata"].get("namespace", "default")
        lq_name = str((wl.get("spec") or {}).get("queueName") or "")
        lq = self.rt.cache.get("localqueues", f"{ns}/{lq_name}")
        if lq is None:
            return "", f"LocalQueue {lq_name} doesn't exist"
        cq_name = str((lq.get("spec") or {}).get("clusterQueue") or "")
        cq = cqs.get(cq_name)
        if cq is None:
            return "", f"ClusterQueue {cq_name} doesn't exist"
        if broken.get(cq_name):
            return "", f"ClusterQueue {cq_name} is inactive"
        namespace = self.rt.cache.get("namespaces", ns) or {}
        labels = (namespace.get("metadata") or {}).get("labels") or {}
        if not _selects((cq.get("spec") or {}).get("namespaceSelector"), labels):
            return "", "Workload namespace doesn't match ClusterQueue selector"
        return cq_name, ""

    def _write_status(self, wl: Obj, change: Any, spec_change: Any = None) -> None:
        meta = wl["metadata"]
        uid = meta.get("uid")

        def put(w: Obj) -> None:
            if w["metadata"].get("uid") != uid:
                return
            status = w.setdefault("status", {})
            change(status)
            if spec_change is not None:
                spec_change(w.setdefault("spec", {}))

        self.rt.mutate("workloads", meta["name"], meta.get("namespace"), put)

    def _pending(self, wl: Obj, reason: str, message: str) -> None:
        c = next(
            (
                c
                for c in (wl.get("status") or {}).get("conditions") or ()
                if c.get("type") == "QuotaReserved"
            ),
            None,
        )
        if c is not None and (c.get("status"), c.get("reason"), c.get("message")) == (
            "False",
            reason,
            message,
        ):
            return
        now = self._now()
        self._write_status(
            wl, lambda s: set_condition(s, "QuotaReserved", "False", reason, message, now)
        )

    def _reserve(
        self, wl: Obj, cq_name: str, assignment: list[kq.PodSetAssignment], cq: Obj, now: float
    ) -> bool:
        """Record the reservation; True when the Workload is admitted at once (no checks)."""
        used = {f for a in assignment for f in a.flavors.values()}
        names = kv.check_names(cq, used)
        old = {c.get("name"): c for c in (wl.get("status") or {}).get("admissionChecks") or ()}

        def change(s: Obj) -> None:
            s["admission"] = kq.admission_doc(cq_name, assignment)
            s.pop("requeueState", None)
            set_condition(
                s,
                "QuotaReserved",
                "True",
                "QuotaReserved",
                f"Quota reserved in ClusterQueue {cq_name}",
                now,
            )
            s["admissionChecks"] = [
                {
                    "name": n,
                    "state": "Pending",
                    "message": "",
                    "lastTransitionTime": rfc3339(now),
                    **(
                        {"retryCount": old[n]["retryCount"]}
                        if old.get(n, {}).get("retryCount")
                        else {}
                    ),
                }
                for n in names
            ]
            if not names:
                set_condition(s, "Admitted", "True", "Admitted", "The workload is admitted", now)
            else:
                set_condition(
                    s,
                    "Admitted",
                    "False",
                    "UnsatisfiedChecks",
                    "The workload has not all checks ready",
                    now,
                )

        self._write_status(wl, change)
        self.events.record(
            wl,
            "Normal",
            "QuotaReserved",
            f"Quota reserved in ClusterQueue {cq_name}",
            source=SOURCE,
        )
        if not names:
            self.events.record(
                wl, "Normal", "Admitted", f"Admitted by ClusterQueue {cq_name}", source=SOURCE
            )
        return not names

    def _progress(self, wl: Obj, cq: Obj | None, now: float) -> bool:
        """Move a reserved Workload on by its checks; True when its quota was released."""
        if kj.is_true(wl, "Admitted"):
            return False
        states = (wl.get("status") or {}).get("admissionChecks") or ()
        rejected = [c for c in states if c.get("state") == "Rejected"]
        retry = [c for c in states if c.get("state") == "Retry"]
        if rejected:
            c = rejected[0]
            why = f"The workload is deactivated due to AdmissionCheck {c.get('name')}: {c.get('message', '')}"
            self._write_status(
                wl,
                lambda s: self._release(s, "Inadmissible", why, now),
                lambda sp: sp.update(active=False),
            )
            self.events.record(wl, "Warning", "WorkloadDeactivated", why, source=SOURCE)
            return True
        if retry:
            c = retry[0]
            delay = float(c.get("requeueAfterSeconds") or 0)
            why = f"AdmissionCheck {c.get('name')} asks to retry: {c.get('message', '')}"

            def requeue(s: Obj) -> None:
                self._release(s, "Pending", why, now)
                count = int((s.get("requeueState") or {}).get("count") or 0) + 1
                s["requeueState"] = {"count": count, "requeueAt": rfc3339(now + delay)}
                for st in s.get("admissionChecks") or ():
                    st["state"] = "Pending"

            self._write_status(wl, requeue)
            return True
        if states and all(c.get("state") == "Ready" for c in states):
            cq_name = ((wl.get("status") or {}).get("admission") or {}).get("clusterQueue", "")
            self._write_status(
                wl,
                lambda s: set_condition(
                    s, "Admitted", "True", "Admitted", "The workload is admitted", now
                ),
            )
            self.events.record(
                wl, "Normal", "Admitted", f"Admitted by ClusterQueue {cq_name}", source=SOURCE
            )
        return False

    @staticmethod
    def _release(status: Obj, reason: str, message: str, now: float) -> None:
        status.pop("admission", None)
        set_condition(status, "QuotaReserved", "False", reason, message, now)
        set_condition(
            status, "Admitted", "False", "NoReservation", "The workload has no reservation", now
        )
        set_condition(status, "Evicted", "True", "AdmissionCheck", message, now)

    def _wake_at(self, t: float) -> None:
        if self._timer is not None and not self._timer.cancelled and self._timer.due <= t:
            return
        if self._timer is not None:
            self._timer.cancel()

        def wake() -> None:
            self._timer = None
            self._dirty = True
            self.rt.kick(self)

        self._timer = self.rt.call_at(t, wake)

    # ------------------------------------------------------------------ queue status
