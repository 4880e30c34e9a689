"""The backend mirrors a live sandbox cluster: sync, binding, pending demand, deletes, Jobs."""

from __future__ import annotations

import time

import pytest
from k8s_e2e_helpers import Changes, pod_body, wait_until
from kubernetes import client as k8s

from clues_py.sandbox import Sandbox
from plugins.backends.kubernetes import KubernetesBackend

pytestmark = pytest.mark.e2e


def names(pods: tuple) -> set[str]:
    return {p.name for p in pods}


def test_nodes_and_their_pods_appear(
    sandbox: Sandbox, backend: KubernetesBackend, api: k8s.ApiClient
) -> None:
    sandbox.add_node("n1", cpu="2", memory="4Gi", labels={"pool": "a"})
    core = k8s.CoreV1Api(api)
    core.create_namespaced_pod("default", pod_body("web-1"))

    def bound() -> bool:
        n = backend.observe(time.time()).nodes.get("n1")
        return n is not None and "web-1" in names(n.pods)

    wait_until(bound, what="web-1 bound to n1 in the cache")
    node = backend.observe(time.time()).nodes["n1"]
    assert node.ready and not node.unschedulable
    assert node.allocatable.cpu_millis == 2000 and node.allocatable.memory_bytes == 4 * 2**30
    assert ("pool", "a") in node.labels
    (pod,) = [p for p in node.pods if p.name == "web-1"]
    assert pod.requests.cpu_millis == 100 and pod.requests.pods == 1


def test_unfittable_pod_is_pending_and_fires_on_change(
    sandbox: Sandbox, backend: KubernetesBackend, api: k8s.ApiClient, changes: Changes
) -> None:
    sandbox.add_node("n1", cpu="2", memory="4Gi")
    before = changes.count
    k8s.CoreV1Api(api).create_namespaced_pod("default", pod_body("huge", cpu="64"))
    # pending_grace is 600 s here: only the scheduler's Unschedulable condition can make it pending.
    pending = wait_until(lambda: backend.observe(time.time()).pending, what="huge pod in pending")
    assert [p.name for p in pending] == ["huge"]
    assert pending[0].requests.cpu_millis == 64000
    assert changes.count > before


def test_old_unbound_pod_counts_after_grace_without_scheduler_verdict(
    sandbox: Sandbox, backend: KubernetesBackend, api: k8s.ApiClient
) -> None:
    # No nodes at all; whatever the scheduler says, an unbound pod older than the grace counts.
    k8s.CoreV1Api(api).create_namespaced_pod("default", pod_body("lonely"))
    wait_until(lambda: backend.cache.pod("default/lonely"), what="lonely pod cached")
    later = time.time() + backend.config.pending_grace + 5
    assert [p.name for p in backend.observe(later).pending] == ["lonely"]


def test_deleted_pod_leaves_the_cache(
    sandbox: Sandbox, backend: KubernetesBackend, api: k8s.ApiClient
) -> None:
    core = k8s.CoreV1Api(api)
    core.create_namespaced_pod("default", pod_body("tmp", cpu="64"))
    wait_until(lambda: backend.observe(time.time()).pending, what="tmp pending")
    core.delete_namespaced_pod("tmp", "default")
    wait_until(
        lambda: (
            backend.cache.pod("default/tmp") is None and not backend.observe(time.time()).pending
        ),
        what="tmp gone from the cache",
    )


def test_suspended_job_is_hidden_demand_until_resumed(
    sandbox: Sandbox, backend: KubernetesBackend, api: k8s.ApiClient
) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {
            "suspend": True,
            "parallelism": 3,
            "completions": 10,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "w",
                            "image": "x",
                            "resources": {"requests": {"cpu": "2", "memory": "1Gi"}},
                        }
                    ],
                }
            },
        },
    }
    batch = k8s.BatchV1Api(api)
    batch.create_namespaced_job("default", job)
    hidden = wait_until(lambda: backend.observe(time.time()).hidden, what="hidden demand")
    assert [(h.kind, h.name, h.count, h.per_pod.cpu_millis) for h in hidden] == [
        ("Job", "train", 3, 2000)
    ]
    batch.patch_namespaced_job("train", "default", {"spec": {"suspend": False}})
    wait_until(lambda: not backend.observe(time.time()).hidden, what="hidden demand gone")


def test_stop_ends_every_informer_thread(kubeconfig: str, sandbox: Sandbox) -> None:
    from k8s_e2e_helpers import make_backend

    b = make_backend(kubeconfig)
    b.start(lambda: None)
    wait_until(b.synced, what="synced")
    b.stop()
    assert not any(i._thread and i._thread.is_alive() for i in b.informers)
