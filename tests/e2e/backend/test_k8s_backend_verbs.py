"""cordon, drain (Eviction API, DaemonSet skip, PDB and annotation blocks) and delete_node."""

from __future__ import annotations

import time

import pytest
from k8s_e2e_helpers import pod_body, wait_until
from kubernetes import client as k8s

from clues_py.contracts import PluginError
from clues_py.sandbox import Sandbox
from plugins.backends.kubernetes import KubernetesBackend

pytestmark = pytest.mark.e2e


def running(core: k8s.CoreV1Api, name: str) -> bool:
    return core.read_namespaced_pod(name, "default").status.phase == "Running"


def test_cordon_and_uncordon(sandbox: Sandbox, backend: KubernetesBackend) -> None:
    sandbox.add_node("n1")
    wait_until(lambda: "n1" in backend.observe(time.time()).nodes, what="n1 cached")
    backend.cordon("n1")
    assert sandbox.store.get("nodes", "n1")["spec"]["unschedulable"] is True
    wait_until(lambda: backend.observe(time.time()).nodes["n1"].unschedulable, what="cordon seen")
    backend.cordon("n1", cordoned=False)
    wait_until(lambda: not backend.observe(time.time()).nodes["n1"].unschedulable, what="uncordon")
    with pytest.raises(PluginError, match="cordon nope"):
        backend.cordon("nope")


def test_scale_down_taint_keeps_the_other_taints(
    sandbox: Sandbox, backend: KubernetesBackend, api: k8s.ApiClient
) -> None:
    from clues_py.contracts import SCALE_DOWN_TAINT

    sandbox.add_node("n1", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}])
    wait_until(lambda: "n1" in backend.observe(time.time()).nodes, what="n1 cached")
    core = k8s.CoreV1Api(api)

    def taints() -> list[tuple[str, str]]:
        return [(t.key, t.effect) for t in core.read_node("n1").spec.taints or ()]

    ours = (SCALE_DOWN_TAINT.key, "PreferNoSchedule")
    backend.set_scale_down_taint("n1", True)
    assert taints() == [("gpu", "NoSchedule"), ours]
    wait_until(
        lambda: SCALE_DOWN_TAINT in backend.observe(time.time()).nodes["n1"].taints,
        what="taint seen by the watch",
    )
    backend.set_scale_down_taint("n1", True)  # idempotent: no second copy
    assert taints() == [("gpu", "NoSchedule"), ours]
    backend.set_scale_down_taint("n1", False)
    assert taints() == [("gpu", "NoSchedule")]
    backend.set_scale_down_taint("gone", True)  # a node already gone is nothing to steer


def test_drain_evicts_skips_daemonsets_and_reports_pdb(
    sandbox: Sandbox, backend: KubernetesBackend, api: k8s.ApiClient
) -> None:
    sandbox.add_node("n1")
    core = k8s.CoreV1Api(api)
    apps = k8s.AppsV1Api(api)
    policy = k8s.PolicyV1Api(api)
    apps.create_namespaced_daemon_set(
        "default",
        {
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "a", "image": "x"}]},
                },
            },
        },
    )
    core.create_namespaced_pod("default", pod_body("web", node="n1"))
    core.create_namespaced_pod("default", pod_body("db", node="n1", labels={"app": "db"}))
    policy.create_namespaced_pod_disruption_budget(
        "default",
        {
            "metadata": {"name": "db-pdb"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}},
        },
    )
    wait_until(lambda: running(core, "web") and running(core, "db"), what="pods running")

    def ds_pods() -> list[str]:
        pods = core.list_namespaced_pod("default", label_selector="app=agent").items
        return [p.metadata.name for p in pods if p.spec.node_name == "n1"]

    wait_until(ds_pods, what="daemonset pod on n1")

    result = backend.drain("n1")
    assert not result.done
    assert set(result.blocked) == {"default/db"}
    assert "db-pdb" in result.blocked["default/db"]
    assert result.blocked["default/db"].startswith("PodDisruptionBudget")
    assert sandbox.store.get("nodes", "n1")["spec"]["unschedulable"] is True  # drain cordons

    # Idempotent: the daemon calls again until the evicted pod is gone.
    def web_gone() -> bool:
        r = backend.drain("n1")
        return "default/db" in r.blocked and not any(
            p["metadata"]["name"] == "web" for p in sandbox.store.list("pods", "default")[0]
        )

    wait_until(web_gone, what="web evicted")
    assert ds_pods(), "the DaemonSet pod must not be evicted"

    policy.delete_namespaced_pod_disruption_budget("db-pdb", "default")
    final = wait_until(lambda: (r := backend.drain("n1")).done and r, what="drain done")
    assert final.blocked == {}
    assert ds_pods()


def test_drain_blocks_protected_pods(
    sandbox: Sandbox, backend: KubernetesBackend, api: k8s.ApiClient
) -> None:
    sandbox.add_node("n1")
    core = k8s.CoreV1Api(api)
    core.create_namespaced_pod(
        "default",
        pod_body("keep", node="n1", annotations={"clues-py.io/safe-to-evict": "false"}),
    )
    wait_until(lambda: running(core, "keep"), what="keep running")
    result = backend.drain("n1")
    assert not result.done
    assert "protected" in result.blocked["default/keep"]
    assert running(core, "keep")


def test_drain_evicts_nothing_when_a_pod_it_may_not_evict_arrived(
    sandbox: Sandbox, backend: KubernetesBackend, api: k8s.ApiClient
) -> None:
    """A drain decided on an empty node finds a pod bound since (before the cordon): new
    work, which must run, so nothing is evicted and the pod is reported (decision 0021)."""
    sandbox.add_node("n1")
    core = k8s.CoreV1Api(api)
    core.create_namespaced_pod("default", pod_body("old", node="n1"))
    core.create_namespaced_pod("default", pod_body("new", node="n1"))
    wait_until(lambda: running(core, "old") and running(core, "new"), what="pods running")
    result = backend.drain("n1", may_evict={"default/old"})
    assert (result.done, result.arrived) == (False, ("default/new",))
    assert sandbox.store.get("nodes", "n1")["spec"]["unschedulable"] is True  # drain cordons
    for name in ("old", "new"):  # neither evicted
        assert core.read_namespaced_pod(name, "default").metadata.deletion_timestamp is None
    # Told it may evict both, it evicts both.
    wait_until(lambda: backend.drain("n1", may_evict={"default/old", "default/new"}).done,
               what="drain done")  # fmt: skip
    assert backend.drain("n1", may_evict=()).arrived == ()


def test_drain_of_empty_node_is_done(sandbox: Sandbox, backend: KubernetesBackend) -> None:
    sandbox.add_node("n1")
    assert backend.drain("n1").done


def test_delete_node(sandbox: Sandbox, backend: KubernetesBackend) -> None:
    sandbox.add_node("n1")
    wait_until(lambda: "n1" in backend.observe(time.time()).nodes, what="n1 cached")
    backend.delete_node("n1")
    wait_until(lambda: "n1" not in backend.observe(time.time()).nodes, what="n1 removed")
    backend.delete_node("n1")  # already gone: not an error
