"""PodDisruptionBudget arithmetic for the eviction subresource and PDB status.

Computes, from the pods in the store, what the disruption controller would publish
(expectedPods, currentHealthy, desiredHealthy, disruptionsAllowed) and decides whether an
eviction may proceed. The HTTP server calls `check_eviction` before a graceful delete; nothing
here writes pods.
"""

from __future__ import annotations

import math
from typing import Any

from clues_py.sandbox.objects import ApiError, ObjectStore
from clues_py.sandbox.selectors import match_label_dict

Obj = dict[str, Any]


def _labels(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _healthy(pod: Obj) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def _counts_as_expected(pod: Obj) -> bool:
    # Terminating pods still count: their controller has not replaced them yet, so the budget
    # must not treat the smaller set as the new normal.
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def selector_string(selector: Obj | None) -> str | None:
    """A structured LabelSelector as a label-selector string (None: matches nothing)."""
    if selector is None:
        return None
    reqs = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), ",".join(expr.get("values") or [])
        reqs.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(
                op, f"!{key}"
            )
        )
    return ",".join(reqs)


def _selected(store: ObjectStore, pdb: Obj, namespace: str | None) -> list[Obj]:
    """The pods a budget selects, filtered inside the store (cheap with many pods)."""
    selector = selector_string((pdb.get("spec") or {}).get("selector"))
    return [] if selector is None else store.list("pods", namespace, selector)[0]


def _scaled(value: Any, total: int, where: str) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        try:
            return math.ceil(int(text[:-1]) * total / 100)
        except ValueError:
            pass
    elif text.isdigit():
        return int(text)
    raise ApiError(
        422,
        "Invalid",
        f"{where}: invalid value {value!r}: must be an integer or a percentage like '50%'",
    )


def budget_status(pdb: Obj, pods: list[Obj]) -> Obj:
    """The status a disruption controller would publish for `pdb` over the namespace's `pods`."""
    selector = (pdb.get("spec") or {}).get("selector")
    matching = [p for p in pods if match_label_dict(selector, _labels(p))]
    expected = sum(1 for p in matching if _counts_as_expected(p))
    healthy = sum(1 for p in matching if _healthy(p))
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        desired = max(
            expected - _scaled(spec["maxUnavailable"], expected, "spec.maxUnavailable"), 0
        )
    else:
        desired = _scaled(spec.get("minAvailable", 1), expected, "spec.minAvailable")
    return {
        "observedGeneration": (pdb.get("metadata") or {}).get("generation", 1),
        "expectedPods": expected,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "disruptionsAllowed": max(healthy - desired, 0),
    }


def check_eviction(store: ObjectStore, pod: Obj) -> Obj | None:
    """Raise 429 when evicting `pod` would violate its budget; return the budget (or None)."""
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in (
        "Succeeded",
        "Failed",
    ):
        return None
    ns = meta.get("namespace")
    pdbs = [
        p
        for p in store.list("poddisruptionbudgets", ns)[0]
        if match_label_dict((p.get("spec") or {}).get("selector"), _labels(pod))
    ]
    if not pdbs:
        return None
    if len(pdbs) > 1:
        raise ApiError(
            500,
            "InternalError",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        )
    pdb = pdbs[0]
    status = budget_status(pdb, _selected(store, pdb, ns))
    allowed = (
        status["disruptionsAllowed"] > 0
        if _healthy(pod)
        else status["currentHealthy"] >= status["desiredHealthy"]
    )
    if not allowed:
        name = pdb["metadata"]["name"]
        raise ApiError(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
            {
                "causes": [
                    {
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {name} needs {status['desiredHealthy']} healthy pods "
                        f"and has {status['currentHealthy']} currently",
                    }
                ]
            },
        )
    return pdb


def refresh_budgets(store: ObjectStore, namespace: str, pod: Obj | None = None) -> None:
    """Recompute and store the status of the budgets in `namespace` (no event if unchanged).

    With `pod`, only the budgets selecting it are refreshed (a pod that just left a budget's
    selection is counted again on that budget's next refresh; evictions always count live).
    """
    pdbs = store.list("poddisruptionbudgets", namespace)[0]
    for pdb in pdbs:
        selector = (pdb.get("spec") or {}).get("selector")
        if pod is not None and not match_label_dict(selector, _labels(pod)):
            continue
        try:
            status = budget_status(pdb, _selected(store, pdb, namespace))
        except ApiError:
            continue  # a malformed budget: reported when someone evicts through it

        def put(obj: Obj, status: Obj = status) -> None:
            obj["status"] = {**(obj.get("status") or {}), **status}

        try:
            store.mutate("poddisruptionbudgets", pdb["metadata"]["name"], namespace, put)
        except ApiError:
            pass  # deleted meanwhile
