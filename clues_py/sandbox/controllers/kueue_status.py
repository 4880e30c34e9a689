"""Status of Kueue's queues: ClusterQueue usage, counts and Active; LocalQueue counts.

Written by `kueue.KueueController` after each scheduling pass from the usage it computed;
only changes are written (a probe copy is compared first), so a pass that changes nothing
writes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping

from clues_py.sandbox.controllers import kueue_jobs as kj
from clues_py.sandbox.controllers import kueue_quota as kq
from clues_py.sandbox.controllers.common import Obj, set_condition
from clues_py.sandbox.controllers.runtime import Runtime


def write_queue_status(
    rt: Runtime,
    cqs: Mapping[str, Obj],
    reserved: kq.Quotas,
    admitted: kq.Quotas,
    counts: Mapping[str, list[int]],
    broken: Mapping[str, str],
) -> None:
    """ClusterQueue status from the pass's usage; LocalQueue counts from the Workloads."""
    now = rt.clock.now()
    for name, cq in cqs.items():
        q = reserved.queues[name]
        pending, reserving, admitted_n = counts[name]
        problem = broken[name]

        def change(
            s: Obj,
            q: kq.QueueQuotas = q,
            name: str = name,
            p: str = problem,
            c: tuple[int, int, int] = (pending, reserving, admitted_n),
        ) -> None:
            s["flavorsReservation"] = kq.usage_doc(q, q.used)
            s["flavorsUsage"] = kq.usage_doc(q, admitted.queues[name].used)
            s["pendingWorkloads"], s["reservingWorkloads"], s["admittedWorkloads"] = c
            if p:
                set_condition(
                    s, "Active", "False", "Inactive", f"Can't admit new workloads: {p}", now
                )
            else:
                set_condition(s, "Active", "True", "Ready", "Can admit new workloads", now)

        _mutate_status(rt, "clusterqueues", cq, change)
    lq_counts: dict[str, list[int]] = {}
    for wl in rt.cache.objects["workloads"].values():
        if kj.is_true(wl, "Finished"):
            continue
        key = f"{wl['metadata'].get('namespace', '')}/{(wl.get('spec') or {}).get('queueName', '')}"
        c = lq_counts.setdefault(key, [0, 0, 0])
        if kj.is_true(wl, "QuotaReserved"):
            c[1] += 1
            c[2] += kj.is_true(wl, "Admitted")
        elif (wl.get("spec") or {}).get("active") is not False:
            c[0] += 1
    for key, lq in sorted(rt.cache.objects["localqueues"].items()):
        c = lq_counts.get(key, [0, 0, 0])

        def lq_change(s: Obj, c: list[int] = c) -> None:
            s["pendingWorkloads"], s["reservingWorkloads"], s["admittedWorkloads"] = c
            set_condition(
                s, "Active", "True", "Ready", "Can submit new workloads to localQueue", now
            )

        _mutate_status(rt, "localqueues", lq, lq_change)


def _mutate_status(rt: Runtime, resource: str, obj: Obj, change: Callable[[Obj], None]) -> None:
    probe = copy.deepcopy(obj.get("status") or {})
    change(probe)
    if probe == (obj.get("status") or {}):
        return
    meta = obj["metadata"]

    def put(o: Obj) -> None:
        change(o.setdefault("status", {}))

    rt.mutate(resource, meta["name"], meta.get("namespace"), put)
