"""The sandbox's mini-Kueue on virtual time: webhook, Workloads, quota in FIFO order,
admission, release on finish, the provisioning admission check, status and versions."""

from __future__ import annotations

from typing import Any

import pytest

from clues_py.sandbox import Sandbox
from clues_py.sandbox import kueue_versions as kv
from tests.kueue_objects import (
    CHECK_CAPACITY,
    OSCAR_NS,
    cluster_queue,
    conditions,
    flavor,
    local_queue,
    oscar_job,
    provisioning,
)


@pytest.fixture
def sb():
    s = Sandbox(virtual=True, serve_http=False, pod_start_seconds=0.0).start()
    s.ensure_namespace(OSCAR_NS)
    s.add_node("wn-1", cpu="4", memory="8Gi")
    yield s
    s.stop()


def kueue(
    sb: Sandbox, cq: dict[str, Any] | None = None, *extra: tuple[str, dict[str, Any]]
) -> None:
    for resource, obj in (
        *extra,
        ("resourceflavors", flavor()),
        ("clusterqueues", cq or cluster_queue("oscar-cq", "2", "8Gi")),
    ):
        sb.store.create(resource, obj)
    sb.store.create("localqueues", local_queue(), OSCAR_NS)
    sb.settle()


def submit(sb: Sandbox, name: str, **kw: Any) -> None:
    job = oscar_job(name=name, **kw)
    job["spec"]["suspend"] = False  # the webhook must suspend it (OSCAR sends true anyway)
    sb.store.create("jobs", job, OSCAR_NS)
    sb.settle()


def workload(sb: Sandbox, job: str) -> dict[str, Any]:
    [wl] = [
        w
        for w in sb.store.list("workloads", OSCAR_NS)[0]
        if w["metadata"]["ownerReferences"][0]["name"] == job
    ]
    return wl


def suspended(sb: Sandbox, job: str) -> bool:
    return bool(sb.store.get("jobs", job, OSCAR_NS)["spec"]["suspend"])


def test_without_a_cluster_queue_kueue_is_not_there(sb: Sandbox) -> None:
    submit(sb, "j1")
    assert not suspended(sb, "j1")  # no webhook, no Workload: plain Kubernetes
    assert sb.store.list("workloads")[0] == []


def test_quota_is_reserved_in_fifo_order_and_released_when_jobs_finish(sb: Sandbox) -> None:
    kueue(sb)
    for i in range(3):
        submit(sb, f"j{i}")
    assert [suspended(sb, f"j{i}") for i in range(3)] == [False, False, True]
    wl = workload(sb, "j0")
    assert (
        wl["metadata"]["name"].startswith("job-j0-")
        and wl["spec"]["queueName"] == "oscar-lq-posenet"
    )
    assert wl["spec"]["podSets"][0]["count"] == 1
    assert conditions(wl)["Admitted"] == ("True", "Admitted", "The workload is admitted")
    waiting = conditions(workload(sb, "j2"))["QuotaReserved"]
    assert waiting == (
        "False",
        "Pending",
        "couldn't assign flavors to pod set main: insufficient unused quota for cpu in flavor "
        "default-flavor, 1 more needed",
    )
    status = sb.store.get("clusterqueues", "oscar-cq")["status"]
    assert status["flavorsReservation"][0]["resources"][0] == {
        "name": "cpu",
        "total": "2",
        "borrowed": "0",
    }
    assert (status["pendingWorkloads"], status["admittedWorkloads"]) == (1, 2)
    sb.advance(6)  # j0 and j1 run 5 s and finish: quota is released, j2 is admitted
    assert conditions(workload(sb, "j0"))["Finished"][0] == "True"
    assert not suspended(sb, "j2")
    assert (
        sb.store.get("localqueues", "oscar-lq-posenet", OSCAR_NS)["status"]["admittedWorkloads"]
        == 1
    )


def test_limits_only_pods_count_their_limits_against_quota(sb: Sandbox) -> None:
    kueue(sb)
    submit(sb, "big", cpu="3")
    assert conditions(workload(sb, "big"))["QuotaReserved"][2].endswith(
        "insufficient quota for cpu in flavor default-flavor, request > maximum capacity (3 > 2)"
    )


def test_strict_fifo_head_blocks_the_rest(sb: Sandbox) -> None:
    kueue(sb, cluster_queue("oscar-cq", "2", "8Gi", strict=True))
    submit(sb, "head", cpu="3")
    submit(sb, "small", cpu="1")
    assert suspended(sb, "small")
    assert "StrictFIFO" in conditions(workload(sb, "small"))["QuotaReserved"][2]


def test_missing_local_queue_and_namespace_selector(sb: Sandbox) -> None:
    kueue(sb, cluster_queue("oscar-cq", selector={"matchLabels": {"team": "a"}}))
    submit(sb, "j", service="other")
    assert conditions(workload(sb, "j"))["QuotaReserved"] == (
        "False",
        "Inadmissible",
        "LocalQueue oscar-lq-other doesn't exist",
    )
    submit(sb, "k")
    assert conditions(workload(sb, "k"))["QuotaReserved"][2] == (
        "Workload namespace doesn't match ClusterQueue selector"
    )


def test_cohort_lends_unused_quota(sb: Sandbox) -> None:
    lender = cluster_queue("lender", "4", "8Gi", cohort="c")
    sb.store.create("clusterqueues", lender)
    kueue(sb, cluster_queue("oscar-cq", "1", "8Gi", cohort="c"))
    submit(sb, "j", cpu="3")
    assert not suspended(sb, "j")
    used = sb.store.get("clusterqueues", "oscar-cq")["status"]["flavorsReservation"][0][
        "resources"
    ][0]
    assert used == {"name": "cpu", "total": "3", "borrowed": "2"}


def test_provisioning_check_creates_the_request_and_admits_when_provisioned(sb: Sandbox) -> None:
    kueue(
        sb,
        cluster_queue("oscar-cq", "4", "8Gi", checks=("prov",)),
        *provisioning("prov", CHECK_CAPACITY),
    )
    submit(sb, "j", cpu="1", memory="1Gi")
    wl = workload(sb, "j")
    assert conditions(wl)["QuotaReserved"][0] == "True" and "Admitted" not in {
        k for k, v in conditions(wl).items() if v[0] == "True"
    }
    assert suspended(sb, "j")
    name = f"{wl['metadata']['name']}-prov-1"
    pr = sb.store.get("provisioningrequests", name, OSCAR_NS)
    assert pr["spec"]["provisioningClassName"] == CHECK_CAPACITY
    [ps] = pr["spec"]["podSets"]
    assert ps == {"podTemplateRef": {"name": f"ppt-{name}-main"}, "count": 1}
    pt = sb.store.get("podtemplates", ps["podTemplateRef"]["name"], OSCAR_NS)
    # Kueue copies limits to requests in the PodTemplate it makes for the request.
    assert pt["template"]["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "1",
        "memory": "1Gi",
    }
    assert conditions(sb.store.get("admissionchecks", "prov"))["Active"][0] == "True"

    def provisioned(o: dict[str, Any]) -> None:
        o.setdefault("status", {})["conditions"] = [
            {
                "type": "Provisioned",
                "status": "True",
                "reason": "CapacityIsFound",
                "message": "found",
            }
        ]

    sb.store.mutate("provisioningrequests", name, OSCAR_NS, provisioned)
    sb.settle()
    assert conditions(workload(sb, "j"))["Admitted"][0] == "True"
    job = sb.store.get("jobs", "j", OSCAR_NS)
    assert not job["spec"]["suspend"]
    annotations = job["spec"]["template"]["metadata"]["annotations"]
    assert annotations["autoscaling.x-k8s.io/consume-provisioning-request"] == name
    sb.advance(6)  # the job runs and finishes: its request and PodTemplate go away
    assert sb.store.list("provisioningrequests")[0] == [] and sb.store.list("podtemplates")[0] == []


def test_failed_request_is_retried_then_rejected(sb: Sandbox) -> None:
    kueue(
        sb,
        cluster_queue("oscar-cq", "4", "8Gi", checks=("prov",)),
        *provisioning("prov", retries=1),
    )
    submit(sb, "j")
    base = workload(sb, "j")["metadata"]["name"]

    def fail(o: dict[str, Any]) -> None:
        o.setdefault("status", {})["conditions"] = [
            {"type": "Failed", "status": "True", "reason": "NoTemplateFits", "message": "too big"}
        ]

    sb.store.mutate("provisioningrequests", f"{base}-prov-1", OSCAR_NS, fail)
    sb.settle()
    wl = workload(sb, "j")
    assert conditions(wl)["QuotaReserved"][0] == "False"  # quota released, requeued
    sb.advance(2)  # backoffBaseSeconds 1: requeued, reserved again, second attempt
    pr2 = sb.store.get("provisioningrequests", f"{base}-prov-2", OSCAR_NS)
    assert pr2["spec"]["podSets"][0]["count"] == 1
    sb.store.mutate("provisioningrequests", f"{base}-prov-2", OSCAR_NS, fail)
    sb.settle()
    wl = workload(sb, "j")
    assert wl["spec"]["active"] is False
    assert "deactivated due to AdmissionCheck prov: too big" in conditions(wl)["QuotaReserved"][2]
    assert suspended(sb, "j")


def test_deleting_a_job_deletes_its_workload(sb: Sandbox) -> None:
    kueue(sb)
    submit(sb, "j")
    sb.store.delete("jobs", "j", OSCAR_NS)
    sb.settle()
    assert sb.store.list("workloads")[0] == []


def test_versions_convert_both_ways() -> None:
    v1 = {
        "apiVersion": "kueue.x-k8s.io/v1beta1",
        "kind": "ClusterQueue",
        "metadata": {"name": "c"},
        "spec": {"cohort": "team", "admissionChecks": ["prov"]},
    }
    stored = kv.to_storage("ClusterQueue", v1)
    assert stored["apiVersion"] == "kueue.x-k8s.io/v1beta2"
    assert stored["spec"] == {
        "cohortName": "team",
        "admissionChecksStrategy": {"admissionChecks": [{"name": "prov"}]},
    }
    assert kv.check_names(stored) == ["prov"] and kv.cohort_of(stored) == "team"
    back = kv.from_storage("ClusterQueue", stored, "v1beta1")
    assert back["spec"]["cohort"] == "team" and back["apiVersion"] == "kueue.x-k8s.io/v1beta1"
    wl = {
        "apiVersion": "kueue.x-k8s.io/v1beta1",
        "kind": "Workload",
        "metadata": {"name": "w"},
        "spec": {
            "priorityClassName": "high",
            "priorityClassSource": "kueue.x-k8s.io/workloadpriorityclass",
        },
    }
    assert kv.to_storage("Workload", wl)["spec"]["priorityClassRef"] == {
        "group": "kueue.x-k8s.io",
        "kind": "WorkloadPriorityClass",
        "name": "high",
    }
