"""Kueue objects, ProvisioningRequests and PodTemplates as admission facts, and their join."""

from __future__ import annotations

from typing import Any

from k8s_objects import T0, T0_EPOCH, job

from clues_py.model import Resources
from plugins.backends.k8s_cache import ClusterCache
from plugins.backends.k8s_kueue import (
    cluster_queue,
    job_hidden_demand,
    local_queue,
    request_facts,
    set_condition,
    workload_facts,
)
from tests.kueue_objects import oscar_job

GI = 2**30
LATER = "2026-01-01T00:01:40Z"  # T0 + 100 s


def workload(
    version: str = "v1beta2", *, reserved: bool | None = None, **status: Any
) -> dict[str, Any]:
    conds = []
    if reserved is not None:
        conds.append(
            {
                "type": "QuotaReserved",
                "status": "True" if reserved else "False",
                "reason": "QuotaReserved" if reserved else "Pending",
                "message": "Quota reserved" if reserved else "insufficient unused quota for cpu",
                "lastTransitionTime": LATER,
            }
        )
    st: dict[str, Any] = {"conditions": conds, **status}
    if reserved:
        st.setdefault(
            "admission",
            {
                "clusterQueue": "oscar-cq",
                "podSetAssignments": [
                    {"name": "main", "flavors": {"cpu": "gpu-flavor"}, "count": 2}
                ],
            },
        )
    return {
        "apiVersion": f"kueue.x-k8s.io/{version}",
        "kind": "Workload",
        "metadata": {
            "name": "job-x-abcde",
            "namespace": "oscar-svc",
            "resourceVersion": "1",
            "creationTimestamp": T0,
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": "x",
                    "uid": "u",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "queueName": "oscar-lq-posenet",
            "podSets": [{"name": "main", "count": 3, "template": oscar_job()["spec"]["template"]}],
        },
        "status": st,
    }


def test_oscar_job_is_a_fact_with_its_queue_and_limits_as_requests() -> None:
    h = job_hidden_demand(oscar_job())
    assert h is not None
    assert (h.kind, h.namespace, h.queue, h.count) == ("Job", "oscar-svc", "oscar-lq-posenet", 1)
    assert h.per_pod == Resources(1000, 2 * GI, 0, 1)  # limits only: they stand in for requests
    annotated = job("j", suspend=True)
    annotated["metadata"]["annotations"] = {"kueue.x-k8s.io/queue-name": "old-style"}
    assert job_hidden_demand(annotated).queue == "old-style"  # type: ignore[union-attr]


def test_workload_facts_in_both_versions() -> None:
    for version in ("v1beta1", "v1beta2"):
        waiting = workload_facts(workload(version, reserved=False))
        assert waiting is not None
        [h] = waiting.entries
        assert (h.reserved, h.count, h.owner, h.queue) == (
            False,
            3,
            "oscar-svc/x",
            "oscar-lq-posenet",
        )
        assert h.message == "insufficient unused quota for cpu" and h.since == T0_EPOCH
        held = workload_facts(workload(version, reserved=True))
        assert held is not None
        [r] = held.entries
        # a partial admission's count wins; since is when quota was reserved
        assert (r.reserved, r.count, r.cluster_queue, r.since) == (
            True,
            2,
            "oscar-cq",
            T0_EPOCH + 100,
        )
        assert held.flavors == (("gpu-flavor",),)
    admitted = workload(reserved=True)
    admitted["status"]["conditions"].append({"type": "Admitted", "status": "True"})
    assert workload_facts(admitted) is None
    inactive = workload(reserved=False)
    inactive["spec"]["active"] = False
    assert workload_facts(inactive) is None


def test_cluster_queue_quota_and_local_queue() -> None:
    cq = {
        "metadata": {"name": "oscar-cq"},
        "spec": {
            "resourceGroups": [
                {
                    "coveredResources": ["cpu", "memory"],
                    "flavors": [
                        {
                            "name": "a",
                            "resources": [
                                {"name": "cpu", "nominalQuota": "8"},
                                {"name": "memory", "nominalQuota": "16Gi"},
                            ],
                        },
                        {
                            "name": "b",
                            "resources": [
                                {"name": "cpu", "nominalQuota": 2},
                                {"name": "memory", "nominalQuota": "4Gi"},
                            ],
                        },
                    ],
                }
            ]
        },
        "status": {
            "pendingWorkloads": 4,
            "flavorsReservation": [
                {
                    "name": "a",
                    "resources": [
                        {"name": "cpu", "total": "7500m"},
                        {"name": "memory", "total": "15Gi"},
                    ],
                }
            ],
        },
    }
    q = cluster_queue(cq)
    assert (q.nominal, q.used, q.pending) == (
        Resources(10_000, 20 * GI),
        Resources(7500, 15 * GI),
        4,
    )
    lq = {
        "metadata": {"name": "oscar-lq-posenet", "namespace": "oscar-svc"},
        "spec": {"clusterQueue": "oscar-cq"},
    }
    assert local_queue(lq) == ("oscar-svc/oscar-lq-posenet", "oscar-cq")


def request(name: str = "pr", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "oscar-svc",
            "resourceVersion": "1",
            "creationTimestamp": T0,
            "ownerReferences": [
                {
                    "apiVersion": "kueue.x-k8s.io/v1beta2",
                    "kind": "Workload",
                    "name": "job-x-abcde",
                    "uid": "w",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "provisioningClassName": "check-capacity.autoscaling.x-k8s.io",
            "podSets": [{"podTemplateRef": {"name": "ppt-pr-main"}, "count": 2}],
        },
        "status": status,
    }


def template(name: str = "ppt-pr-main") -> dict[str, Any]:
    t = oscar_job()["spec"]["template"]
    t["spec"]["nodeSelector"] = {"pool": "batch"}
    return {
        "metadata": {"name": name, "namespace": "oscar-svc", "resourceVersion": "1"},
        "template": t,
    }


def test_request_facts_and_the_cache_join() -> None:
    provisioned = {
        "conditions": [
            {
                "type": "Provisioned",
                "status": "True",
                "reason": "CapacityIsFound",
                "lastTransitionTime": LATER,
            }
        ]
    }
    f = request_facts(request(**provisioned))
    assert f.base.owner == "oscar-svc/job-x-abcde" and f.base.provisioned_at == T0_EPOCH + 100
    assert f.base.is_true("Provisioned") and f.pod_sets == (("ppt-pr-main", 2),)
    c = ClusterCache(pending_grace=0)
    replace_pr, apply_pr = c.hidden_handlers("provisioningrequests")
    replace_pt, apply_pt = c.hidden_handlers("podtemplates")
    replace_pr([request()])
    assert c.observe(T0_EPOCH).hidden == ()  # its PodTemplate is not known yet
    assert apply_pt("ADDED", template())
    [h] = c.observe(T0_EPOCH).hidden
    assert (h.kind, h.count, h.per_pod.cpu_millis) == ("ProvisioningRequest", 2, 1000)
    assert h.placement.node_selector == (("pool", "batch"),)
    # A pod that consumes the request is counted (until it is deleted).
    pod = {
        "metadata": {
            "name": "p",
            "namespace": "oscar-svc",
            "resourceVersion": "1",
            "annotations": {"autoscaling.x-k8s.io/consume-provisioning-request": "pr"},
        },
        "spec": {"containers": []},
        "status": {"phase": "Pending"},
    }
    assert c.apply_pod("ADDED", pod)
    assert c.observe(T0_EPOCH).hidden[0].consumed == 1
    assert c.apply_pod("DELETED", pod)
    assert c.observe(T0_EPOCH).hidden[0].consumed == 0


def test_reserved_workload_gets_its_flavor_node_labels() -> None:
    c = ClusterCache(pending_grace=0)
    c.hidden_handlers("resourceflavors")[0](
        [
            {
                "metadata": {"name": "gpu-flavor", "resourceVersion": "1"},
                "spec": {"nodeLabels": {"pool": "gpu"}},
            }
        ]
    )
    c.hidden_handlers("workloads")[0]([workload(reserved=True)])
    [h] = c.observe(T0_EPOCH).hidden
    assert h.placement.node_selector == (("pool", "gpu"),)


def test_set_condition_moves_transition_time_only_on_flips() -> None:
    status: dict[str, Any] = {}
    assert set_condition(status, "Provisioned", "False", "A", "m", "t1")
    assert not set_condition(status, "Provisioned", "False", "A", "m", "t2")
    assert set_condition(status, "Provisioned", "False", "B", "m", "t3")
    assert status["conditions"][0]["lastTransitionTime"] == "t1"
    assert set_condition(status, "Provisioned", "True", "C", "m", "t4")
    assert status["conditions"][0]["lastTransitionTime"] == "t4"
