"""What the API server does around storage: defaults, derived fields, immutable fields.

Through the `ObjectStore` (as every writer goes) and `strategy.validate_*` (as the HTTP verbs
call it); the same rules over HTTP, with the official client and kubectl, are in tests/e2e.
"""

from __future__ import annotations

import pytest

from clues_py.sandbox import resources, strategy
from clues_py.sandbox.objects import ApiError, ObjectStore


def container(**resources_: dict) -> dict:
    return {"name": "c", "image": "busybox:1.36", "resources": resources_}


def pod(*containers: dict) -> dict:
    return {"metadata": {"name": "p"}, "spec": {"containers": list(containers)}}


@pytest.mark.parametrize(
    ("containers", "qos"),
    [
        ([container()], "BestEffort"),
        ([container(limits={"cpu": "1", "memory": "1Gi"})], "Guaranteed"),
        (
            [container(limits={"cpu": "1", "memory": "1Gi"}, requests={"cpu": "1000m"})],
            "Guaranteed",
        ),
        ([container(limits={"cpu": "1"})], "Burstable"),
        ([container(requests={"cpu": "1", "memory": "1Gi"})], "Burstable"),
        (
            [container(limits={"cpu": "1", "memory": "1Gi"}, requests={"cpu": "500m"})],
            "Burstable",
        ),
        (
            [container(limits={"cpu": "1", "memory": "1Gi"}), container()],
            "Burstable",
        ),
    ],
)
def test_qos_class_follows_kubelet_rules(containers: list[dict], qos: str) -> None:
    stored = ObjectStore().create("pods", pod(*containers))
    assert stored["status"]["qosClass"] == qos


def test_limits_default_requests_and_containers_get_defaults() -> None:
    stored = ObjectStore().create(
        "pods", pod(container(limits={"cpu": "2", "memory": "1Gi"}, requests={"cpu": "1"}))
    )
    c = stored["spec"]["containers"][0]
    assert c["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["terminationMessagePolicy"] == "File"
    assert stored["spec"]["restartPolicy"] == "Always"
    assert stored["spec"]["schedulerName"] == "default-scheduler"


def test_status_writes_keep_the_qos_class() -> None:
    store = ObjectStore()
    store.create("pods", pod(container(limits={"cpu": "1", "memory": "1Gi"})))
    out = store.mutate(
        "pods", "p", "default", lambda p: p.__setitem__("status", {"phase": "Running"})
    )
    assert out["status"] == {"phase": "Running", "qosClass": "Guaranteed"}


def job(**spec: object) -> dict:
    template = {"spec": {"restartPolicy": "Never", "containers": [container()]}}
    return {"metadata": {"name": "j"}, "spec": {"template": template, **spec}}


def test_job_gets_generated_selector_and_labels() -> None:
    stored = ObjectStore().create("jobs", job())
    uid = stored["metadata"]["uid"]
    assert stored["spec"]["selector"] == {
        "matchLabels": {"batch.kubernetes.io/controller-uid": uid}
    }
    assert stored["spec"]["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "j",
        "controller-uid": uid,
        "job-name": "j",
    }
    assert (stored["spec"]["completions"], stored["spec"]["parallelism"]) == (1, 1)
    assert stored["spec"]["backoffLimit"] == 6


def test_manual_selector_is_left_alone() -> None:
    body = job(manualSelector=True, selector={"matchLabels": {"app": "x"}})
    body["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
    stored = ObjectStore().create("jobs", body)
    assert stored["spec"]["selector"] == {"matchLabels": {"app": "x"}}
    assert stored["spec"]["template"]["metadata"]["labels"] == {"app": "x"}


JOBS = resources.lookup("jobs")


def test_job_validation_on_create() -> None:
    assert JOBS is not None
    bad = job()
    bad["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    with pytest.raises(ApiError) as err:
        strategy.validate_create(JOBS, bad)
    status = err.value.status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["message"] == (
        'Job.batch "j" is invalid: spec.template.spec.restartPolicy: Required value: '
        'valid values: "OnFailure", "Never"'
    )
    assert status["details"] == {
        "name": "j",
        "group": "batch",
        "kind": "Job",
        "causes": [
            {
                "reason": "FieldValueRequired",
                "message": 'Required value: valid values: "OnFailure", "Never"',
                "field": "spec.template.spec.restartPolicy",
            }
        ],
    }
    with pytest.raises(ApiError, match="`selector` not auto-generated"):
        strategy.validate_create(JOBS, job(selector={"matchLabels": {"app": "x"}}))


def test_job_template_is_immutable_except_scheduling_directives_while_suspended() -> None:
    assert JOBS is not None
    store = ObjectStore()
    old = store.create("jobs", job(suspend=True))
    new = store.get("jobs", "j", "default")
    new["spec"]["template"]["spec"]["nodeSelector"] = {"pool": "gpu"}
    new["spec"]["template"]["metadata"]["labels"]["kueue"] = "yes"
    strategy.validate_update(JOBS, old, new)  # Kueue may do this to a suspended Job
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    with pytest.raises(ApiError) as err:
        strategy.validate_update(JOBS, old, new)
    assert err.value.code == 422
    assert 'Job.batch "j" is invalid: spec.template: Invalid value: ' in err.value.message
    assert err.value.message.endswith(": field is immutable")
    started = dict(old, status={"startTime": "2026-01-01T00:00:00Z"})
    only_selector = store.get("jobs", "j", "default")
    only_selector["spec"]["template"]["spec"]["nodeSelector"] = {"pool": "gpu"}
    with pytest.raises(ApiError, match="field is immutable"):
        strategy.validate_update(JOBS, started, only_selector)


def service(**spec: object) -> dict:
    return {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}], **spec}}


def test_services_get_type_addresses_ports_and_status() -> None:
    store = ObjectStore()
    a = store.create("services", service())
    assert a["spec"]["type"] == "ClusterIP" and a["spec"]["clusterIP"] == "10.96.0.2"
    assert a["spec"]["clusterIPs"] == ["10.96.0.2"]
    assert a["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert a["status"] == {"loadBalancer": {}}
    b = store.create("services", {**service(type="NodePort"), "metadata": {"name": "b"}})
    assert b["spec"]["clusterIP"] == "10.96.0.3"
    assert 30000 <= b["spec"]["ports"][0]["nodePort"] <= 32767
    headless = store.create("services", {**service(clusterIP="None"), "metadata": {"name": "h"}})
    assert headless["spec"]["clusterIP"] == "None"
    # An update that leaves the allocated values out keeps them.
    replaced = store.update("services", {**service(type="NodePort"), "metadata": {"name": "b"}})
    assert replaced["spec"]["clusterIP"] == "10.96.0.3"
    assert replaced["spec"]["ports"][0]["nodePort"] == b["spec"]["ports"][0]["nodePort"]
    services = resources.lookup("services")
    assert services is not None
    with pytest.raises(ApiError, match="spec.clusterIP: Invalid value: .*field is immutable"):
        strategy.validate_update(services, a, service(clusterIP="10.96.9.9"))


def test_cordon_adds_and_uncordon_removes_the_unschedulable_taint() -> None:
    store = ObjectStore()
    store.create(
        "nodes",
        {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "x", "effect": "NoSchedule"}]}},
    )
    cordoned = store.mutate(
        "nodes", "n", None, lambda n: n["spec"].__setitem__("unschedulable", True)
    )
    assert [t["key"] for t in cordoned["spec"]["taints"]] == [
        "x",
        "node.kubernetes.io/unschedulable",
    ]
    assert cordoned["spec"]["taints"][1]["effect"] == "NoSchedule"
    back = store.mutate("nodes", "n", None, lambda n: n["spec"].__setitem__("unschedulable", False))
    assert back["spec"]["taints"] == [{"key": "x", "effect": "NoSchedule"}]


def test_namespace_from_protobuf_shaped_body_gets_finalizers_and_phase() -> None:
    ns = ObjectStore().create("namespaces", {"metadata": {"name": "x"}, "spec": {}, "status": {}})
    assert ns["spec"] == {"finalizers": ["kubernetes"]} and ns["status"] == {"phase": "Active"}


def test_pvc_gets_the_default_storage_class() -> None:
    store = ObjectStore()
    store.create(
        "storageclasses",
        {
            "metadata": {
                "name": "standard",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "sandbox",
        },
    )
    pvc = store.create("persistentvolumeclaims", {"metadata": {"name": "c"}, "spec": {}})
    assert pvc["spec"]["storageClassName"] == "standard" and pvc["status"] == {"phase": "Pending"}
