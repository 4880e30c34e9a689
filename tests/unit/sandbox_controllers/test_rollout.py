"""Deployment arithmetic: surge/unavailable bounds, one step per sync, revisions, conditions."""

from __future__ import annotations

from typing import Any

from clues_py.sandbox.controllers import rollout
from clues_py.sandbox.controllers.replicalogic import deletion_order
from clues_py.sandbox.controllers.rollout import RS


def dep(replicas: int = 4, surge: Any = "25%", unavailable: Any = "25%", **spec: Any) -> dict:
    return {
        "metadata": {"name": "web", "generation": 2},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 600,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
            **spec,
        },
    }


def rs(name: str, spec: int, available: int | None = None, created: float = 0, rev: int = 1) -> RS:
    avail = spec if available is None else available
    return RS(name, spec, spec, avail, avail, created, rev, None)


def test_fenceposts_round_surge_up_and_unavailable_down():
    assert rollout.fenceposts(dep(10)) == (3, 2)
    assert rollout.fenceposts(dep(3, surge=0, unavailable=0)) == (0, 1)
    assert rollout.fenceposts(dep(5, surge=2, unavailable="0%")) == (2, 0)
    recreate = {"spec": {"replicas": 3, "strategy": {"type": "Recreate"}}}
    assert rollout.fenceposts(recreate) == (0, 0)


def test_a_rolling_update_never_leaves_the_bounds():
    d = dep(4, surge=1, unavailable=1)  # at most 5 pods, at least 3 available
    new, old = rs("new", 0, rev=2), [rs("old", 4, created=-10)]
    for _ in range(20):
        step = rollout.rolling_step(d, new, old)
        if not step:
            break
        # Apply the step; pods become available at once in this model.
        new = rs("new", step.get("new", new.spec_replicas), rev=2)
        old = [rs("old", step.get("old", old[0].spec_replicas), created=-10)]
        total = new.spec_replicas + old[0].spec_replicas
        assert total <= 5
        assert new.available + old[0].available >= 3
    assert (new.spec_replicas, old[0].spec_replicas) == (4, 0)


def test_unavailable_new_pods_hold_back_scaling_down_old_ones():
    d = dep(4, surge=1, unavailable=0)
    step = rollout.rolling_step(d, rs("new", 1, available=0, rev=2), [rs("old", 4)])
    assert step == {}  # 5 pods already, and nothing old may go while the new one is not up


def test_scaling_event_goes_to_the_only_active_replicaset():
    d = dep(6)
    old = [RS("a", 3, 3, 3, 3, 0, 1, "3")]
    assert rollout.is_scaling_event(d, old)
    assert rollout.scale_step(d, None, old) == {"a": 6}


def test_history_limit_deletes_oldest_empty_revisions():
    d = dep(2, revisionHistoryLimit=1)
    old = [rs("r1", 0, rev=1), rs("r2", 0, rev=2), rs("r3", 0, rev=3)]
    assert rollout.to_delete(d, old) == ["r1", "r2"]


def test_template_hash_ignores_its_own_label_and_nulls():
    t = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}
    hashed = {
        "metadata": {"labels": {"app": "web", "pod-template-hash": "x"}, "creationTimestamp": None},
        "spec": {"containers": [{"name": "c", "resources": {}}]},
    }
    assert rollout.same_template(t, hashed)
    assert rollout.template_hash(t) == rollout.template_hash(hashed)
    assert rollout.template_hash(t) != rollout.template_hash(t, collision_count=1)


def test_status_conditions_as_kubectl_reads_them():
    d = dep(2)
    new = RS("web-1", 2, 2, 2, 2, 0, 1, "2")
    st = rollout.deployment_status(d, new, [new], 100.0)
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conds["Progressing"]["message"] == 'ReplicaSet "web-1" has successfully progressed.'
    assert st["updatedReplicas"] == st["availableReplicas"] == 2 and "unavailableReplicas" not in st

    stuck = RS("web-2", 2, 2, 0, 0, 0, 2, "2")
    d["status"] = rollout.deployment_status(d, stuck, [stuck], 100.0)
    assert rollout.deadline(d, d["status"]) == 700.0
    d["status"] = rollout.deployment_status(d, stuck, [stuck], 701.0)
    cond = rollout.progressing(d["status"])
    assert cond is not None and cond["reason"] == "ProgressDeadlineExceeded"
    assert cond["message"] == 'ReplicaSet "web-2" has timed out progressing.'


def test_paused_deployment_reports_it():
    d = dep(2, paused=True)
    new = RS("web-1", 2, 2, 2, 2, 0, 1, "2")
    cond = rollout.progressing(rollout.deployment_status(d, new, [new], 0.0))
    assert cond is not None and (cond["status"], cond["reason"]) == ("Unknown", "DeploymentPaused")


def pod(
    name: str, node: str = "", phase: str = "Running", ready: bool = True, created: str = ""
) -> dict:
    conds = [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": created}
    ]
    return {
        "metadata": {"name": name, "creationTimestamp": created or "2026-01-01T00:00:00Z"},
        "spec": {"nodeName": node},
        "status": {"phase": phase, "conditions": conds},
    }


def test_scale_down_deletes_unscheduled_then_pending_then_not_ready_then_newest():
    pods = [
        pod("old-ready", "n1", created="2026-01-01T00:00:00Z"),
        pod("new-ready", "n1", created="2026-01-01T00:05:00Z"),
        pod("not-ready", "n1", ready=False),
        pod("pending", "n1", phase="Pending", ready=False),
        pod("unscheduled", phase="Pending", ready=False),
    ]
    order = [p["metadata"]["name"] for p in deletion_order(pods)]
    assert order == ["unscheduled", "pending", "not-ready", "new-ready", "old-ready"]
