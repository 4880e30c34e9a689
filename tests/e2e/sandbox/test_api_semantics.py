"""What the sandbox stores and answers, through the official Python client over real HTTP.

Defaults and derived fields (requests from limits, QoS, Job selectors and labels, Service
addresses), immutable fields, the exact Status bodies clients compare as text, field selectors,
the server's own kinds (reviews, whoami, component statuses, APIServices), `/metrics`, pod logs
and the OpenAPI schemas. These are also the behaviours kubernetes-client/python's own e2e suite
exercises (docs/sandbox.md has its results).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.e2e.sandbox.conftest import Sandbox, node, pod, run_pod

pytestmark = pytest.mark.e2e


def test_limits_default_requests_and_qos(sandbox: Sandbox) -> None:
    body = pod("guaranteed")
    body["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "1Gi"}}
    got = sandbox.core.create_namespaced_pod("default", body)
    assert got.spec.containers[0].resources.requests == {"cpu": "1", "memory": "1Gi"}
    assert got.status.qos_class == "Guaranteed" and got.status.phase == "Pending"
    assert sandbox.core.create_namespaced_pod("default", pod("besteffort")).status.qos_class == (
        "BestEffort"
    )


def job_body(name: str, **spec: object) -> dict:
    template = {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
    }
    return {"metadata": {"name": name}, "spec": {"template": template, **spec}}


def test_job_selector_labels_and_immutable_template(sandbox: Sandbox) -> None:
    batch = sandbox.batch
    job = batch.create_namespaced_job("default", job_body("sel"))
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.template.metadata.labels == {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "sel",
        "controller-uid": uid,
        "job-name": "sel",
    }
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "other"}]}}}}
    with pytest.raises(ApiException) as err:
        batch.patch_namespaced_job("sel", "default", patch)
    status = json.loads(err.value.body)
    assert err.value.status == 422 and status["reason"] == "Invalid"
    assert status["message"].startswith(
        'Job.batch "sel" is invalid: spec.template: Invalid value: '
    )
    assert status["details"]["causes"][0]["field"] == "spec.template"
    # Kueue's protocol: a suspended Job that never started may get a node selector.
    batch.create_namespaced_job("default", job_body("queued", suspend=True))
    admitted = batch.patch_namespaced_job(
        "queued", "default", {"spec": {"template": {"spec": {"nodeSelector": {"pool": "a"}}}}}
    )
    assert admitted.spec.template.spec.node_selector == {"pool": "a"}
    with pytest.raises(ApiException) as err:
        batch.create_namespaced_job(
            "default", job_body("bad", selector={"matchLabels": {"a": "b"}})
        )
    assert err.value.status == 422 and "`selector` not auto-generated" in err.value.body


def test_service_address_status_and_port_merge(sandbox: Sandbox) -> None:
    core = sandbox.core
    manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "frontend", "labels": {"name": "frontend"}},
        "spec": {
            "ports": [{"name": "port", "port": 80, "protocol": "TCP", "targetPort": 80}],
            "selector": {"name": "frontend"},
        },
    }
    svc = core.create_namespaced_service("default", manifest)
    assert svc.spec.type == "ClusterIP" and svc.spec.cluster_ip.startswith("10.96.")
    assert svc.status is not None and svc.status.load_balancer is not None
    manifest["spec"]["ports"] = [
        {"name": "new", "port": 8080, "protocol": "TCP", "targetPort": 8080}
    ]
    patched = core.patch_namespaced_service("frontend", "default", manifest)
    assert sorted(p.port for p in patched.spec.ports) == [80, 8080]
    assert patched.spec.cluster_ip == svc.spec.cluster_ip
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_service("frontend", "default", {"spec": {"clusterIP": "10.96.9.9"}})
    assert err.value.status == 422 and "field is immutable" in err.value.body


def test_error_bodies_are_byte_for_byte_the_real_ones(sandbox: Sandbox) -> None:
    cm = {"metadata": {"name": "twice"}}
    sandbox.core.create_namespaced_config_map("default", cm)
    with pytest.raises(ApiException) as err:
        sandbox.core.create_namespaced_config_map("default", cm)
    assert err.value.body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        '"message":"configmaps \\"twice\\" already exists","reason":"AlreadyExists",'
        '"details":{"name":"twice","kind":"configmaps"},"code":409}\n'
    )
    reg = client.ApiregistrationV1Api(sandbox.api)
    svc = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1alpha1.wardle.k8s.io"},
        "spec": {
            "group": "wardle.k8s.io",
            "version": "v1alpha1",
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
            "insecureSkipTLSVerify": True,
            "service": {"name": "api", "namespace": "wardle"},
        },
    }
    created = reg.create_api_service(svc)
    assert created.status.conditions[0].reason == "ServiceNotFound"
    with pytest.raises(ApiException) as err:
        reg.create_api_service(svc)
    assert err.value.body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        '"message":"apiservices.apiregistration.k8s.io \\"v1alpha1.wardle.k8s.io\\" already '
        'exists","reason":"AlreadyExists","details":{"name":"v1alpha1.wardle.k8s.io",'
        '"group":"apiregistration.k8s.io","kind":"apiservices"},"code":409}\n'
    )
    reg.delete_api_service("v1alpha1.wardle.k8s.io")


def test_field_selectors_the_real_server_supports(sandbox: Sandbox) -> None:
    core = sandbox.core
    core.create_node(node("fs-ready"))
    cordoned = node("fs-cordoned")
    cordoned["spec"] = {"unschedulable": True}
    core.create_node(cordoned)
    names = lambda sel: {n.metadata.name for n in core.list_node(field_selector=sel).items}  # noqa: E731
    assert "fs-ready" in names("spec.unschedulable=false")
    assert names("spec.unschedulable=true") == {"fs-cordoned"}
    taints = core.read_node("fs-cordoned").spec.taints
    assert [(t.key, t.effect) for t in taints] == [
        ("node.kubernetes.io/unschedulable", "NoSchedule")
    ]
    event = {
        "metadata": {"name": "ev1"},
        "involvedObject": {"kind": "Node", "name": "fs-ready"},
        "reason": "Boot",
        "type": "Normal",
        "source": {"component": "clues"},
        "reportingComponent": "clues",
    }
    core.create_namespaced_event("default", event)
    for sel in ("source=clues", "reportingComponent=clues", "involvedObject.kind=Node,reason=Boot"):
        assert [
            e.metadata.name for e in core.list_namespaced_event("default", field_selector=sel).items
        ] == ["ev1"]
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod("default", field_selector="spec.bogus=1")
    assert err.value.status == 400 and json.loads(err.value.body)["message"] == (
        'Unable to find "/v1, Resource=pods" that match label selector "", field selector '
        '"spec.bogus=1": field label not supported: spec.bogus'
    )


def test_reviews_whoami_and_component_statuses(sandbox: Sandbox) -> None:
    authz = client.AuthorizationV1Api(sandbox.api)
    review = authz.create_self_subject_access_review(
        {"spec": {"resourceAttributes": {"verb": "delete", "resource": "nodes"}}}
    )
    assert review.status.allowed is True
    rules = authz.create_self_subject_rules_review({"spec": {"namespace": "default"}})
    assert rules.status.resource_rules[0].verbs == ["*"]
    me = client.AuthenticationV1Api(sandbox.api).create_self_subject_review({})
    assert me.status.user_info.username == "kubernetes-admin"
    statuses = sandbox.core.list_component_status()
    assert {c.metadata.name for c in statuses.items} == {
        "scheduler",
        "controller-manager",
        "etcd-0",
    }
    req = urllib.request.Request(
        sandbox.server.url + "/api/v1/componentstatuses", data=b"{}", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as http_err:
        urllib.request.urlopen(req)
    assert http_err.value.code == 405
    assert json.loads(http_err.value.read())["reason"] == "MethodNotAllowed"


def test_metrics_in_prometheus_text(sandbox: Sandbox) -> None:
    sandbox.core.list_namespace()
    with urllib.request.urlopen(sandbox.server.url + "/metrics") as resp:
        text = resp.read().decode()
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert (
        'apiserver_request_total{code="200",component="apiserver",group="",resource="namespaces",'
        'scope="cluster",subresource="",verb="LIST",version="v1"}'
    ) in text
    assert 'apiserver_storage_objects{resource="namespaces"}' in text
    assert "apiserver_request_duration_seconds_bucket" in text


def test_pod_log_and_follow_that_ends(sandbox: Sandbox) -> None:
    core = sandbox.core
    core.create_node(node("log-n"))
    p = run_pod(sandbox.store, "logged", "log-n")
    started = "2026-01-01T00:00:05Z"

    def status(state: dict) -> None:
        sandbox.store.mutate(
            "pods",
            "logged",
            "default",
            lambda o: o["status"].update(
                containerStatuses=[{"name": "c", "ready": True, "state": state}]
            ),
        )

    status({"running": {"startedAt": started}})
    # The client leaves text/plain bodies undecoded: read them raw, as bytes.
    once = core.read_namespaced_pod_log("logged", "default", _preload_content=False)
    assert once.data == f"started on log-n at {started}\n".encode()
    resp = core.read_namespaced_pod_log("logged", "default", follow=True, _preload_content=False)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(resp.stream(64)), daemon=True)
    reader.start()
    status(
        {"terminated": {"startedAt": started, "finishedAt": "2026-01-01T00:00:35Z", "exitCode": 0}}
    )
    reader.join(20)
    assert not reader.is_alive(), "follow did not end when the container ended"
    text = b"".join(lines).decode()  # type: ignore[arg-type]
    assert text == f"started on log-n at {started}\nran 30 s, exit 0\n"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log(p["metadata"]["name"], "default", container="nope")
    assert (
        err.value.status == 400 and "container nope is not valid for pod logged" in err.value.body
    )
    core.create_namespaced_pod("default", pod("unplaced"))
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("unplaced", "default")
    assert "pod unplaced does not have a host assigned" in err.value.body


def test_openapi_schemas_for_explain_and_apply(sandbox: Sandbox) -> None:
    with urllib.request.urlopen(sandbox.server.url + "/openapi/v3") as resp:
        index = json.loads(resp.read())
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    with urllib.request.urlopen(sandbox.server.url + url) as resp:
        schemas = json.loads(resp.read())["components"]["schemas"]
    pod_schema = schemas["io.k8s.api.core.v1.Pod"]
    assert pod_schema["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Pod", "version": "v1"}
    ]
    ports = schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "port"
    assert ports["x-kubernetes-patch-strategy"] == "merge"
    with urllib.request.urlopen(sandbox.server.url + "/openapi/v2") as resp:
        v2 = json.loads(resp.read())
    assert "io.k8s.api.apps.v1.Deployment" in v2["definitions"]


def test_metrics_api_reports_requests_as_usage(sandbox: Sandbox) -> None:
    sandbox.core.create_node(node("mx-n"))
    body = pod("mx-pod", "mx-n", {"app": "mx"})
    body["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "250m", "memory": "64Mi"}}
    body["status"] = {"phase": "Running"}
    sandbox.store.create("pods", body, "default")
    metrics = client.CustomObjectsApi(sandbox.api)
    nodes = metrics.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
    mine = next(n for n in nodes["items"] if n["metadata"]["name"] == "mx-n")
    assert mine["usage"] == {"cpu": "250m", "memory": "65536Ki"}
    pods = metrics.list_namespaced_custom_object(
        "metrics.k8s.io", "v1beta1", "default", "pods", label_selector="app=mx"
    )
    assert [p["metadata"]["name"] for p in pods["items"]] == ["mx-pod"]
    assert pods["items"][0]["containers"][0]["usage"]["cpu"] == "250m"
