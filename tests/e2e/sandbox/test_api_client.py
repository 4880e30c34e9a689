"""The official kubernetes Python client against the sandbox API server over real HTTP."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.e2e.sandbox.conftest import Sandbox, node, pod, run_pod, start_sandbox

pytestmark = pytest.mark.e2e


def test_node_crud_patch_and_stale_replace(sandbox: Sandbox) -> None:
    core = sandbox.core
    created = core.create_node(node("crud-1", {"pool": "a"}))
    assert created.metadata.uid and created.metadata.resource_version
    assert core.read_node("crud-1").status.conditions[0].type == "Ready"

    patched = core.patch_node(
        "crud-1", {"spec": {"unschedulable": True}, "metadata": {"labels": {"x": "1"}}}
    )
    assert patched.spec.unschedulable is True
    assert patched.metadata.labels == {"pool": "a", "x": "1"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)

    stale = created
    stale.metadata.labels = {"pool": "b"}
    with pytest.raises(ApiException) as err:
        core.replace_node("crud-1", stale)
    assert err.value.status == 409 and "the object has been modified" in err.value.body

    fresh = core.read_node("crud-1")
    fresh.metadata.labels = {"pool": "b"}
    assert core.replace_node("crud-1", fresh).metadata.labels == {"pool": "b"}

    with pytest.raises(ApiException) as err:  # a patch carrying a stale resourceVersion
        core.patch_node(
            "crud-1", {"metadata": {"resourceVersion": created.metadata.resource_version}}
        )
    assert err.value.status == 409
    core.delete_node("crud-1")
    with pytest.raises(ApiException) as err:
        core.read_node("crud-1")
    assert err.value.status == 404 and '"reason":"NotFound"' in err.value.body.replace(" ", "")


def test_status_subresource_and_main_resource_keep_each_other(sandbox: Sandbox) -> None:
    core = sandbox.core
    core.create_node(node("status-1"))
    core.patch_node_status(
        "status-1", {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    )
    # A write to the main resource may not change status; a write to /status may not change spec.
    core.patch_node("status-1", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    core.patch_node_status("status-1", {"spec": {"unschedulable": True}})
    got = core.read_node("status-1")
    assert [(c.type, c.status) for c in got.status.conditions] == [("Ready", "False")]
    assert not got.spec.unschedulable


def test_pods_selectors_and_paging(sandbox: Sandbox) -> None:
    core = sandbox.core
    core.create_namespace({"metadata": {"name": "sel"}})
    for i in range(7):
        core.create_namespaced_pod(
            "sel", pod(f"p{i}", f"n{i % 2}", {"tier": "web" if i < 4 else "db", "i": str(i)})
        )
    names = lambda pods: sorted(p.metadata.name for p in pods.items)  # noqa: E731
    assert names(core.list_namespaced_pod("sel", label_selector="tier=web")) == [
        "p0",
        "p1",
        "p2",
        "p3",
    ]
    assert names(core.list_namespaced_pod("sel", label_selector="tier!=web,i in (4,5)")) == [
        "p4",
        "p5",
    ]
    assert names(core.list_namespaced_pod("sel", label_selector="i notin (0,1,2,3,4,5),tier")) == [
        "p6"
    ]
    assert names(core.list_namespaced_pod("sel", label_selector="!tier")) == []
    assert names(core.list_namespaced_pod("sel", field_selector="spec.nodeName=n1")) == [
        "p1",
        "p3",
        "p5",
    ]
    assert names(
        core.list_pod_for_all_namespaces(field_selector="spec.nodeName=n1,metadata.namespace=sel")
    ) == ["p1", "p3", "p5"]
    assert names(
        core.list_namespaced_pod("sel", field_selector="status.phase=Pending,metadata.name!=p0")
    ) == [f"p{i}" for i in range(1, 7)]

    seen, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_pod("sel", limit=3, _continue=token)
        seen += [p.metadata.name for p in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert seen == [f"p{i}" for i in range(7)] and pages == 3

    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod("sel", label_selector="tier in (web")
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod("sel", field_selector="spec.bogus=1")
    assert err.value.status == 400 and "field label not supported" in err.value.body

    # Bound pods terminate gracefully: they stay, marked, until grace 0 (the kubelet) removes them.
    core.delete_collection_namespaced_pod("sel", label_selector="tier=db")
    marked = core.list_namespaced_pod("sel", label_selector="tier=db").items
    assert len(marked) == 3 and all(p.metadata.deletion_timestamp for p in marked)
    core.delete_collection_namespaced_pod("sel", label_selector="tier=db", grace_period_seconds=0)
    assert names(core.list_namespaced_pod("sel")) == ["p0", "p1", "p2", "p3"]


def test_errors_are_kubernetes_statuses(sandbox: Sandbox) -> None:
    core = sandbox.core
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("nope", {"metadata": {"name": "c"}})
    assert err.value.status == 404 and 'namespaces \\"nope\\" not found' in err.value.body
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", {"metadata": {}})
    assert err.value.status == 422 and "Invalid" in err.value.body
    core.create_namespaced_config_map("default", {"metadata": {"name": "dup"}, "data": {"a": "1"}})
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", {"metadata": {"name": "dup"}})
    assert err.value.status == 409 and "AlreadyExists" in err.value.body
    with pytest.raises(ApiException) as err:
        sandbox.api.call_api(
            "/api/v1/namespaces/default/configmaps/dup", "POST", body={}, _preload_content=False
        )
    assert err.value.status == 405
    dry = core.create_namespaced_config_map("default", {"metadata": {"name": "dry"}}, dry_run="All")
    assert dry.metadata.name == "dry"
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("dry", "default")
    gen = core.create_namespaced_config_map("default", {"metadata": {"generateName": "gen-"}})
    assert gen.metadata.name.startswith("gen-") and len(gen.metadata.name) == 9


def test_jobs_leases_configmaps(sandbox: Sandbox) -> None:
    batch, coord = sandbox.batch, client.CoordinationV1Api(sandbox.api)
    job = {
        "metadata": {"name": "j1"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}
            }
        },
    }
    made = batch.create_namespaced_job("default", job)
    assert (
        made.spec.completions == 1
        and made.spec.template.metadata.labels["batch.kubernetes.io/job-name"] == "j1"
    )
    batch.patch_namespaced_job_status("j1", "default", {"status": {"succeeded": 1}})
    assert batch.read_namespaced_job("j1", "default").status.succeeded == 1
    batch.patch_namespaced_job("j1", "default", {"spec": {"suspend": True}})
    assert [j.spec.suspend for j in batch.list_namespaced_job("default").items] == [True]
    batch.delete_namespaced_job("j1", "default")
    assert batch.list_job_for_all_namespaces().items == []

    lease = coord.create_namespaced_lease(
        "kube-node-lease", {"metadata": {"name": "l1"}, "spec": {"holderIdentity": "a"}}
    )
    lease.spec.holder_identity = "b"
    assert (
        coord.replace_namespaced_lease("l1", "kube-node-lease", lease).spec.holder_identity == "b"
    )
    with pytest.raises(ApiException) as err:
        coord.replace_namespaced_lease("l1", "kube-node-lease", lease)  # stale now
    assert err.value.status == 409

    core = sandbox.core
    core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map(
        "cm", "default", [{"op": "add", "path": "/data/b", "value": "2"}]
    )
    assert core.read_namespaced_config_map("cm", "default").data == {"a": "1", "b": "2"}
    core.delete_namespaced_config_map("cm", "default")


def _collect(sandbox: Sandbox, out: list, stop_name: str, **kwargs: object) -> threading.Thread:
    def run() -> None:
        w = watch.Watch()
        for ev in w.stream(sandbox.core.list_namespaced_pod, "watch", timeout_seconds=20, **kwargs):
            out.append(
                (ev["type"], ev["object"].metadata.name, ev["object"].metadata.resource_version)
            )
            if ev["type"] == "DELETED" and ev["object"].metadata.name == stop_name:
                w.stop()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_watch_events_resume_and_fan_out(sandbox: Sandbox) -> None:
    core = sandbox.core
    core.create_namespace({"metadata": {"name": "watch"}})
    core.create_namespaced_pod("watch", pod("before"))
    rv0 = core.list_namespaced_pod("watch").metadata.resource_version
    streams = [[] for _ in range(3)]
    threads = [_collect(sandbox, s, "w-last") for s in streams]
    resumed: list = []
    threads.append(_collect(sandbox, resumed, "w-last", resource_version=rv0))
    # Each fresh watcher first lists "before" as ADDED; wait until all saw it so none misses events.
    _wait(lambda: all(s for s in streams))
    core.create_namespaced_pod("watch", pod("w-a"))
    core.patch_namespaced_pod("w-a", "watch", {"metadata": {"labels": {"k": "v"}}})
    core.delete_namespaced_pod("w-a", "watch")
    for i in range(20):
        core.create_namespaced_pod("watch", pod(f"w-{i}"))
    core.create_namespaced_pod("watch", pod("w-last"))
    core.delete_namespaced_pod("w-last", "watch")
    for t in threads:
        t.join(20)
    expected = [("ADDED", "w-a"), ("MODIFIED", "w-a"), ("DELETED", "w-a")]
    expected += [("ADDED", f"w-{i}") for i in range(20)] + [
        ("ADDED", "w-last"),
        ("DELETED", "w-last"),
    ]
    for s in streams:
        assert [(t, n) for t, n, _ in s] == [("ADDED", "before"), *expected]
    assert [(t, n) for t, n, _ in resumed] == expected
    rvs = [int(rv) for _, _, rv in resumed]
    assert rvs == sorted(rvs)


def test_watch_selector_turns_relabel_into_added_and_deleted(sandbox: Sandbox) -> None:
    core = sandbox.core
    core.create_namespace({"metadata": {"name": "wsel"}})
    rv = core.list_namespaced_pod("wsel").metadata.resource_version
    core.create_namespaced_pod("wsel", pod("x"))
    core.patch_namespaced_pod("x", "wsel", {"metadata": {"labels": {"pick": "yes"}}})
    core.patch_namespaced_pod("x", "wsel", {"metadata": {"labels": {"pick": "no"}}})
    w = watch.Watch()
    got = []
    for ev in w.stream(
        core.list_namespaced_pod,
        "wsel",
        label_selector="pick=yes",
        resource_version=rv,
        timeout_seconds=1,
    ):
        got.append(ev["type"])
    assert got == ["ADDED", "DELETED"]


def test_watch_too_old_resource_version_is_410(tmp_path) -> None:
    sb = start_sandbox(tmp_path, history=5)
    try:
        rv = sb.core.list_namespaced_config_map("default").metadata.resource_version
        for i in range(300):
            sb.store.create("configmaps", {"metadata": {"name": f"c{i}"}}, "default")
        with pytest.raises(ApiException) as err:
            for _ in watch.Watch().stream(
                sb.core.list_namespaced_config_map,
                "default",
                resource_version=rv,
                timeout_seconds=2,
            ):
                pass
        assert err.value.status == 410
    finally:
        sb.api.close()
        sb.server.stop()


def test_watch_bookmarks(sandbox: Sandbox) -> None:
    rv = sandbox.core.list_namespaced_config_map("default").metadata.resource_version
    w = watch.Watch()
    kinds = []
    for ev in w.stream(
        sandbox.core.list_namespaced_config_map,
        "default",
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=3,
    ):
        kinds.append(ev["type"])
        if ev["type"] == "BOOKMARK":
            w.stop()
    assert "BOOKMARK" in kinds
    assert int(w.resource_version) >= int(rv)


def test_binding_sets_node_and_condition(sandbox: Sandbox) -> None:
    core = sandbox.core
    core.create_namespaced_pod("default", pod("to-bind"))
    body = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "to-bind"},
        "target": {"kind": "Node", "name": "n7"},
    }
    # The real server answers a Status, which this client cannot parse as V1Binding; read it raw.
    resp = core.create_namespaced_pod_binding("to-bind", "default", body, _preload_content=False)
    assert resp.status == 201 and b'"status":"Success"' in resp.data
    resp.release_conn()
    got = core.read_namespaced_pod("to-bind", "default")
    assert got.spec.node_name == "n7"
    assert [(c.type, c.status) for c in got.status.conditions] == [("PodScheduled", "True")]
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("to-bind", "default", body, _preload_content=False)
    assert err.value.status == 409


def test_eviction_respects_pod_disruption_budget(sandbox: Sandbox) -> None:
    core, policy = sandbox.core, client.PolicyV1Api(sandbox.api)
    core.create_namespace({"metadata": {"name": "evict"}})
    for i in range(2):
        run_pod(sandbox.store, f"e{i}", "n1", {"app": "e"}, "evict")
    run_pod(sandbox.store, "free", "n1", {"app": "other"}, "evict")
    policy.create_namespaced_pod_disruption_budget(
        "evict",
        {
            "metadata": {"name": "pdb"},
            "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "e"}}},
        },
    )
    status = _wait(lambda: policy.read_namespaced_pod_disruption_budget("pdb", "evict").status)
    assert (
        status.expected_pods,
        status.current_healthy,
        status.desired_healthy,
        status.disruptions_allowed,
    ) == (2, 2, 1, 1)

    def evict(name: str) -> None:
        core.create_namespaced_pod_eviction(
            name,
            "evict",
            {
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": {"name": name, "namespace": "evict"},
            },
        )

    evict("free")  # no budget selects it
    evict("e0")
    assert core.read_namespaced_pod("e0", "evict").metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as err:
        evict("e1")
    assert err.value.status == 429
    assert "Cannot evict pod as it would violate the pod's disruption budget." in err.value.body
    assert core.read_namespaced_pod("e1", "evict").metadata.deletion_timestamp is None
    assert (
        policy.read_namespaced_pod_disruption_budget("pdb", "evict").status.disruptions_allowed == 0
    )


def _wait(fn, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)
