"""Pure Deployment arithmetic: template hashes, revisions, rolling/recreate steps, status.

Follows kube-controller-manager's deployment controller: a ReplicaSet per pod
template named `<deployment>-<pod-template-hash>`, `deployment.kubernetes.io/revision`
annotations, one scaling step per sync bounded by maxSurge/maxUnavailable, and the
Available/Progressing conditions `kubectl rollout status` reads. Reading and
writing objects, events and timers are the controller's job (`deployments.py`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clues_py.sandbox.controllers.common import Obj, parse_rfc3339, rfc3339
from clues_py.sandbox.controllers.replicalogic import desired
from clues_py.sandbox.meta import clone

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
# Deployment annotations the controller does not copy to its ReplicaSets.
_NOT_COPIED = (
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
)
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """A stable pod-template-hash: FNV-1a of the template, encoded like rand.SafeEncodeString."""
    data = json.dumps(strip_hash(template), sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(_ALPHABET[ord(c) % len(_ALPHABET)] for c in str(h))


def _semantic(value: Any) -> Any:
    """Drop nulls and empty maps/lists: typed Go objects cannot tell them from absent fields."""
    if isinstance(value, dict):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def strip_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template without its pod-template-hash label, in the form templates are compared."""
    out: dict[str, Any] = _semantic(clone(template))
    labels = (out.get("metadata") or {}).get("labels")
    if labels and HASH_LABEL in labels:
        del labels[HASH_LABEL]
    return out


def same_template(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return strip_hash(a) == strip_hash(b)


def revision_of(obj: Mapping[str, Any]) -> int:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def copied_annotations(deployment: Mapping[str, Any]) -> dict[str, str]:
    ann = (deployment.get("metadata") or {}).get("annotations") or {}
    return {k: v for k, v in ann.items() if k not in _NOT_COPIED}


def _int_or_percent(value: Any, total: int, round_up: bool, default: str) -> int:
    if value is None:
        value = default
    if isinstance(value, int):
        return max(value, 0)
    text = str(value).strip()
    if text.endswith("%"):
        exact = float(text[:-1]) * total / 100.0
        return int(math.ceil(exact) if round_up else math.floor(exact))
    return max(int(text), 0)


def fenceposts(deployment: Mapping[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as absolute numbers; both zero becomes (0, 1), as upstream."""
    spec = deployment.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
        return 0, 0
    ru = strategy.get("rollingUpdate") or {}
    replicas = desired(deployment)
    surge = _int_or_percent(ru.get("maxSurge"), replicas, True, "25%")
    unavailable = _int_or_percent(ru.get("maxUnavailable"), replicas, False, "25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


@dataclass(frozen=True, slots=True)
class RS:
    """What the deployment controller reads of one ReplicaSet."""

    name: str
    spec_replicas: int
    replicas: int
    ready: int
    available: int
    created: float
    revision: int
    desired_annotation: str | None

    @classmethod
    def from_k8s(cls, rs: Mapping[str, Any]) -> RS:
        md = rs.get("metadata") or {}
        status = rs.get("status") or {}
        return cls(
            name=md.get("name", ""),
            spec_replicas=desired(rs),
            replicas=int(status.get("replicas") or 0),
            ready=int(status.get("readyReplicas") or 0),
            available=int(status.get("availableReplicas") or 0),
            created=parse_rfc3339(md.get("creationTimestamp")) or 0.0,
            revision=revision_of(rs),
            desired_annotation=(md.get("annotations") or {}).get(DESIRED_REPLICAS),
        )


def _oldest_first(rss: Sequence[RS]) -> list[RS]:
    return sorted(rss, key=lambda r: (r.created, r.name))


def new_rs_replicas(d: Mapping[str, Any], new: RS | None, old: Sequence[RS]) -> int:
    """How many replicas the new ReplicaSet should have now (NewRSNewReplicas)."""
    replicas = desired(d)
    current_new = new.spec_replicas if new else 0
    strategy = ((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate"
    if strategy != "RollingUpdate":
        return replicas
    surge, _ = fenceposts(d)
    current = current_new + sum(r.spec_replicas for r in old)
    max_total = replicas + surge
    if current >= max_total:
        return current_new
    return current_new + min(max_total - current, max(replicas - current_new, 0))


def is_scaling_event(d: Mapping[str, Any], rss: Sequence[RS]) -> bool:
    """The deployment's replicas changed under active ReplicaSets (not a template change)."""
    want = str(desired(d))
    return any(r.spec_replicas > 0 and r.desired_annotation not in (None, want) for r in rss)


def scale_step(d: Mapping[str, Any], new: RS | None, old: Sequence[RS]) -> dict[str, int]:
    """Proportional scaling for a paused deployment or a replicas change (`dc.scale`)."""
    replicas = desired(d)
    everyone = ([new] if new else []) + list(old)
    active = [r for r in everyone if r.spec_replicas > 0]
    if len(active) <= 1:
        target = active[0] if active else (new or max(old, key=lambda r: r.created, default=None))
        if target is None or target.spec_replicas == replicas:
            return {}
        return {target.name: replicas}
    if new and new.spec_replicas == replicas:
        return {r.name: 0 for r in old if r.spec_replicas}
    surge, _ = fenceposts(d)
    allowed = replicas + surge if replicas > 0 else 0
    total = sum(r.spec_replicas for r in active)
    to_add = allowed - total
    if to_add == 0:
        return {}
    out: dict[str, int] = {}
    # Largest first, ties newest first, each its proportional share; the rest to the first.
    order = sorted(active, key=lambda r: (-r.spec_replicas, -r.created, r.name))
    left = to_add
    for r in order:
        share = int(r.spec_replicas * to_add / total) if total else 0
        share = max(share, -r.spec_replicas)
        out[r.name] = r.spec_replicas + share
        left -= share
    first = order[0]
    out[first.name] = max(out[first.name] + left, 0)
    current = {r.name: r.spec_replicas for r in active}
    return {k: v for k, v in out.items() if v != current[k]}


def rolling_step(d: Mapping[str, Any], new: RS, old: Sequence[RS]) -> dict[str, int]:
    """One RollingUpdate step: scale the new ReplicaSet up, else old ones down (or nothing)."""
    replicas = desired(d)
    if new.spec_replicas > replicas:
        return {new.name: replicas}
    if new.spec_replicas < replicas:
        up = new_rs_replicas(d, new, old)
        if up != new.spec_replicas:
            return {new.name: up}
    active_old = [r for r in old if r.spec_replicas > 0]
    if not active_old:
        return {}
    _, unavailable = fenceposts(d)
    all_pods = new.spec_replicas + sum(r.spec_replicas for r in old)
    min_available = replicas - unavailable
    new_unavailable = new.spec_replicas - new.available
    budget = all_pods - min_available - new_unavailable
    if budget <= 0:
        return {}
    out: dict[str, int] = {}
    # First old replicas that are not available anyway (cleanupUnhealthyReplicas).
    for r in _oldest_first(active_old):
        if budget <= 0:
            break
        unhealthy = r.spec_replicas - r.available
        if unhealthy <= 0:
            continue
        cut = min(budget, unhealthy)
        out[r.name] = r.spec_replicas - cut
        budget -= cut
    # Then healthy ones, as long as enough stay available.
    available = new.available + sum(r.available for r in old)
    room = available - min_available
    for r in _oldest_first(active_old):
        if room <= 0:
            break
        have = out.get(r.name, r.spec_replicas)
        cut = min(have, room)
        if cut > 0:
            out[r.name] = have - cut
            room -= cut
    return out


def recreate_step(
    d: Mapping[str, Any], new: RS | None, old: Sequence[RS], old_pods_left: bool
) -> dict[str, int]:
    """Recreate: old ReplicaSets to zero, wait until their pods are gone, then the new one up."""
    down = {r.name: 0 for r in old if r.spec_replicas > 0}
    if down:
        return down
    if old_pods_left or new is None:
        return {}
    replicas = desired(d)
    return {new.name: replicas} if new.spec_replicas != replicas else {}


def to_delete(d: Mapping[str, Any], old: Sequence[RS]) -> list[str]:
    """Old, empty ReplicaSets beyond revisionHistoryLimit (default 10), oldest revision first."""
    limit = (d.get("spec") or {}).get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    empty = sorted(
        (r for r in old if r.spec_replicas == 0 and r.replicas == 0),
        key=lambda r: (r.revision, r.created, r.name),
    )
    excess = len(empty) - limit
    return [r.name for r in empty[: max(excess, 0)]]


def _set_cond(
    status: Obj,
    ctype: str,
    value: str,
    reason: str,
    message: str,
    now: float,
    refresh: bool = False,
) -> None:
    """SetDeploymentCondition: lastUpdateTime now, lastTransitionTime kept while status holds.

    An identical condition is left alone unless `refresh` (progress was made).
    """
    conds = [c for c in status.get("conditions") or () if c.get("type") != ctype]
    prev = next((c for c in status.get("conditions") or () if c.get("type") == ctype), None)
    same = prev and (prev.get("status"), prev.get("reason"), prev.get("message")) == (
        value,
        reason,
        message,
    )
    if same and not refresh:
        return
    ts = rfc3339(now)
    kept = prev.get("lastTransitionTime") if prev and prev.get("status") == value else None
    conds.append(
        {
            "type": ctype,
            "status": value,
            "lastUpdateTime": ts,
            "lastTransitionTime": kept or ts,
            "reason": reason,
            "message": message,
        }
    )
    status["conditions"] = conds


def progressing(status: Mapping[str, Any]) -> Obj | None:
    for c in status.get("conditions") or ():
        if c.get("type") == "Progressing":
            return dict(c)
    return None


def deployment_status(
    d: Mapping[str, Any],
    new: RS | None,
    everyone: Sequence[RS],
    now: float,
    event: tuple[str, str] | None = None,
) -> Obj:
    """The status to write after a sync; `event` is (reason, message) of a new/found RS."""
    spec = d.get("spec") or {}
    prev: Obj = clone(d.get("status") or {})
    replicas = desired(d)
    _, unavailable = fenceposts(d)
    total = sum(r.replicas for r in everyone)
    updated = new.replicas if new else 0
    ready = sum(r.ready for r in everyone)
    available = sum(r.available for r in everyone)
    status: Obj = {"conditions": prev.get("conditions") or []}
    for k in ("collisionCount",):
        if k in prev:
            status[k] = prev[k]
    status.update(
        observedGeneration=int((d.get("metadata") or {}).get("generation") or 1),
        replicas=total,
        updatedReplicas=updated,
        readyReplicas=ready,
        availableReplicas=available,
        unavailableReplicas=max(replicas - available, 0),
    )
    if available >= replicas - unavailable:
        _set_cond(
            status,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    else:
        _set_cond(
            status,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    cur = progressing(status)
    if spec.get("paused"):
        if not cur or cur.get("reason") != "DeploymentPaused":
            _set_cond(
                status, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now
            )
    elif event is not None and new is not None:
        _set_cond(status, "Progressing", "True", event[0], event[1], now)
    elif cur and cur.get("reason") == "DeploymentPaused":
        _set_cond(
            status, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now
        )
    elif new is not None and spec.get("progressDeadlineSeconds") is not None:
        name = new.name
        complete = updated == replicas and total == replicas and available == replicas
        old_before = int(prev.get("replicas") or 0) - int(prev.get("updatedReplicas") or 0)
        moved = (
            updated > int(prev.get("updatedReplicas") or 0)
            or total - updated < old_before
            or ready > int(prev.get("readyReplicas") or 0)
            or available > int(prev.get("availableReplicas") or 0)
        )
        if complete:
            if not cur or cur.get("reason") != "NewReplicaSetAvailable":
                _set_cond(
                    status,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{name}" has successfully progressed.',
                    now,
                )
        elif moved or cur is None:
            # Progress refreshes lastUpdateTime even when the message stays the same.
            _set_cond(
                status,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{name}" is progressing.',
                now,
                refresh=True,
            )
        elif (due := deadline(d, status)) is not None and now >= due:
            _set_cond(
                status,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{name}" has timed out progressing.',
                now,
            )
    return {k: v for k, v in status.items() if v or k == "conditions"}


def deadline(d: Mapping[str, Any], status: Mapping[str, Any]) -> float | None:
    """When an unfinished rollout times out (Progressing lastUpdateTime + progressDeadlineSeconds)."""
    secs = (d.get("spec") or {}).get("progressDeadlineSeconds")
    cur = progressing(status)
    if secs is None or cur is None or cur.get("reason") != "ReplicaSetUpdated":
        return None
    since = parse_rfc3339(cur.get("lastUpdateTime"))
    return None if since is None else since + float(secs)
