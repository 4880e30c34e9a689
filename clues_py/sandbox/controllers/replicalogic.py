"""Pure replica arithmetic shared by the ReplicaSet, ReplicationController and StatefulSet controllers.

Which pods count as active, ready and available (`minReadySeconds`), which pods go
first when scaling down (kube-controller-manager's `ActivePods` order), and the
status counters these kinds report. Creating and deleting pods is the
controllers' job (`replicasets.py`, `statefulsets.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clues_py.sandbox.controllers.common import Obj, parse_rfc3339
from clues_py.sandbox.controllers.podlife import is_terminal

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def is_active(pod: Mapping[str, Any]) -> bool:
    """Not finished and not being deleted (`controller.FilterActivePods`)."""
    return not is_terminal(pod) and not (pod.get("metadata") or {}).get("deletionTimestamp")


def ready_since(pod: Mapping[str, Any]) -> float | None:
    """When the pod became Ready, or None when it is not Ready."""
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            if c.get("status") != "True":
                return None
            return parse_rfc3339(c.get("lastTransitionTime")) or 0.0
    return None


def available_at(pod: Mapping[str, Any], min_ready_seconds: float) -> float | None:
    """When the pod is (or will be) available: Ready for `minReadySeconds`; None if not Ready."""
    since = ready_since(pod)
    return None if since is None else since + max(min_ready_seconds, 0.0)


def _restarts(pod: Mapping[str, Any]) -> int:
    return sum(
        int(cs.get("restartCount") or 0)
        for cs in (pod.get("status") or {}).get("containerStatuses") or ()
    )


def _deletion_cost(pod: Mapping[str, Any]) -> int:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(POD_DELETION_COST)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def deletion_order(pods: Sequence[Obj]) -> list[Obj]:
    """Pods in the order a ReplicaSet deletes them when scaling down (`ActivePods` Less).

    Unassigned before assigned, Pending before Running, not Ready before Ready,
    lower pod-deletion-cost first, Ready for less time first, more restarts first,
    newer before older; the name breaks ties so the order is deterministic.
    """

    def rank(p: Obj) -> tuple[Any, ...]:
        spec = p.get("spec") or {}
        md = p.get("metadata") or {}
        phase = (p.get("status") or {}).get("phase") or "Unknown"
        since = ready_since(p)
        created = parse_rfc3339(md.get("creationTimestamp")) or 0.0
        return (
            1 if spec.get("nodeName") else 0,
            _PHASE_RANK.get(phase, 1),
            0 if since is None else 1,
            _deletion_cost(p),
            -(since or 0.0),
            -_restarts(p),
            -created,
            md.get("name", ""),
        )

    return sorted(pods, key=rank)


@dataclass(frozen=True, slots=True)
class ReplicaCounts:
    replicas: int
    fully_labeled: int
    ready: int
    available: int
    # The earliest time a Ready pod becomes available (None: nothing to wait for).
    next_available: float | None


def count(
    pods: Sequence[Obj],
    template_labels: Mapping[str, str],
    min_ready_seconds: float,
    now: float,
) -> ReplicaCounts:
    """Status counters over the active pods of one controller."""
    replicas = labeled = ready = available = 0
    nxt: float | None = None
    for p in pods:
        if not is_active(p):
            continue
        replicas += 1
        labels = (p.get("metadata") or {}).get("labels") or {}
        if all(labels.get(k) == v for k, v in template_labels.items()):
            labeled += 1
        at = available_at(p, min_ready_seconds)
        if at is None:
            continue
        ready += 1
        if at <= now:
            available += 1
        elif nxt is None or at < nxt:
            nxt = at
    return ReplicaCounts(replicas, labeled, ready, available, nxt)


def replica_status(
    obj: Mapping[str, Any], counts: ReplicaCounts, *, legacy: bool = False
) -> dict[str, Any]:
    """The status a ReplicaSet (or, `legacy`, a ReplicationController) reports.

    Zero counters are omitted like the API server's omitempty, except `replicas`.
    """
    status: dict[str, Any] = {
        "replicas": counts.replicas,
        "fullyLabeledReplicas": counts.fully_labeled,
        "readyReplicas": counts.ready,
        "availableReplicas": counts.available,
        "observedGeneration": int((obj.get("metadata") or {}).get("generation") or 1),
    }
    conds = (obj.get("status") or {}).get("conditions")
    if conds:
        status["conditions"] = conds
    return {k: v for k, v in status.items() if v or k in ("replicas",)}


def desired(obj: Mapping[str, Any]) -> int:
    """`spec.replicas`, defaulting to 1 as the API server does."""
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else max(int(value), 0)
