"""PodDisruptionBudget arithmetic and the eviction decision."""

from __future__ import annotations

import pytest

from clues_py.sandbox.disruption import budget_status, check_eviction, selector_string
from clues_py.sandbox.objects import ApiError, ObjectStore


def pod(name: str, ready: bool = True, phase: str = "Running", deleting: bool = False) -> dict:
    meta: dict = {"name": name, "labels": {"app": "a"}}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    conds = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {
        "metadata": meta,
        "spec": {"nodeName": "n"},
        "status": {"phase": phase, "conditions": conds},
    }


def pdb(**spec: object) -> dict:
    return {"metadata": {"name": "b"}, "spec": {"selector": {"matchLabels": {"app": "a"}}, **spec}}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"minAvailable": 2}, (4, 3, 2, 1)),
        ({"minAvailable": "50%"}, (4, 3, 2, 1)),
        ({"maxUnavailable": 1}, (4, 3, 3, 0)),
        ({"maxUnavailable": "25%"}, (4, 3, 3, 0)),
        ({"maxUnavailable": "60%"}, (4, 3, 1, 2)),
        ({}, (4, 3, 1, 2)),  # neither set: minAvailable 1
    ],
)
def test_budget_status(spec: dict, expected: tuple) -> None:
    pods = [pod("a"), pod("b"), pod("c"), pod("d", ready=False), pod("e", phase="Succeeded")]
    s = budget_status(pdb(**spec), pods)
    assert (
        s["expectedPods"],
        s["currentHealthy"],
        s["desiredHealthy"],
        s["disruptionsAllowed"],
    ) == expected


def test_terminating_pods_count_as_expected_but_not_healthy() -> None:
    s = budget_status(pdb(maxUnavailable=1), [pod("a", deleting=True), pod("b")])
    assert (s["expectedPods"], s["currentHealthy"], s["disruptionsAllowed"]) == (2, 1, 0)


def test_selector_string() -> None:
    sel = {
        "matchLabels": {"a": "1"},
        "matchExpressions": [
            {"key": "b", "operator": "In", "values": ["x", "y"]},
            {"key": "c", "operator": "Exists"},
            {"key": "d", "operator": "DoesNotExist"},
            {"key": "e", "operator": "NotIn", "values": ["z"]},
        ],
    }
    assert selector_string(sel) == "a=1,b in (x,y),c,!d,e notin (z)"
    assert selector_string(None) is None and selector_string({}) == ""


def test_check_eviction_blocks_healthy_pod_but_lets_unready_one_go() -> None:
    store = ObjectStore()
    for p in (pod("a"), pod("b"), pod("sick", ready=False)):
        store.create("pods", p)
    store.create("poddisruptionbudgets", pdb(minAvailable=2))
    with pytest.raises(ApiError) as err:
        check_eviction(store, store.get("pods", "a"))
    assert err.value.code == 429 and "needs 2 healthy pods and has 2 currently" in str(
        err.value.details
    )
    assert check_eviction(store, store.get("pods", "sick")) is not None  # unhealthy: budget holds
    store.create("poddisruptionbudgets", {**pdb(), "metadata": {"name": "second"}})
    with pytest.raises(ApiError) as err:
        check_eviction(store, store.get("pods", "sick"))
    assert err.value.code == 500
