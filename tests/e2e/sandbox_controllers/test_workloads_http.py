"""Deployments, ReplicaSets, ReplicationControllers, PriorityClasses and cascading deletes over HTTP.

The official client drives a real-mode sandbox; every wait is on the real condition.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from tests.e2e.sandbox_controllers.conftest import Cluster, http
from tests.tools import wait_for

pytestmark = [pytest.mark.e2e]


def template(app: str, image: str = "nginx:1", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": image}], **spec},
    }


def deployment(name: str, replicas: int, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name),
            **spec,
        },
    }


def running(cluster: Cluster, selector: str) -> list[Any]:
    pods = cluster.core.list_namespaced_pod("default", label_selector=selector).items
    return [p for p in pods if p.status.phase == "Running" and not p.metadata.deletion_timestamp]


def test_deployment_scale_subresource_and_status(cluster: Cluster) -> None:
    cluster.sb.add_node("n1", cpu="8", memory="16Gi")
    made = cluster.apps.create_namespaced_deployment("default", deployment("web", 3))
    assert made.spec.strategy.rolling_update.max_surge == "25%"
    assert made.spec.revision_history_limit == 10
    wait_for(lambda: len(running(cluster, "app=web")) == 3, what="3 web pods running")
    d = wait_for(
        lambda: (
            (
                x := cluster.apps.read_namespaced_deployment("web", "default")
            ).status.available_replicas
            == 3
            and x
        ),
        what="web available",
    )
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    (rs,) = cluster.apps.list_namespaced_replica_set("default").items
    assert rs.metadata.owner_references[0].kind == "Deployment"
    assert rs.metadata.labels["pod-template-hash"] == rs.metadata.name.rsplit("-", 1)[1]

    scale = cluster.apps.read_namespaced_deployment_scale("web", "default")
    assert (scale.spec.replicas, scale.status.replicas, scale.status.selector) == (3, 3, "app=web")
    cluster.apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 5}})
    wait_for(lambda: len(running(cluster, "app=web")) == 5, what="5 web pods running")
    scale.spec.replicas = 1  # carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        cluster.apps.replace_namespaced_deployment_scale("web", "default", scale)
    assert err.value.status == 409
    with pytest.raises(ApiException) as err:
        cluster.apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": -1}})
    assert err.value.status == 422


def test_replicaset_and_replication_controller_replace_lost_pods(cluster: Cluster) -> None:
    cluster.sb.add_node("n1", cpu="8", memory="16Gi")
    rs = {
        "metadata": {"name": "front"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "front"}},
            "template": template("front"),
        },
    }
    cluster.apps.create_namespaced_replica_set("default", rs)
    rc = {"metadata": {"name": "legacy"}, "spec": {"replicas": 2, "template": template("legacy")}}
    made = cluster.core.create_namespaced_replication_controller("default", rc)
    assert made.spec.selector == {"app": "legacy"}
    for app in ("front", "legacy"):
        wait_for(lambda app=app: len(running(cluster, f"app={app}")) == 2, what=f"{app} pods")
    victim = running(cluster, "app=legacy")[0].metadata.name
    cluster.core.delete_namespaced_pod(victim, "default", grace_period_seconds=0)
    wait_for(
        lambda: (
            len(running(cluster, "app=legacy")) == 2
            and victim not in {p.metadata.name for p in running(cluster, "app=legacy")}
        ),
        what="replacement pod",
    )
    cluster.core.patch_namespaced_replication_controller_scale(
        "legacy", "default", {"spec": {"replicas": 0}}
    )
    cluster.apps.patch_namespaced_replica_set_scale("front", "default", {"spec": {"replicas": 3}})
    wait_for(lambda: not running(cluster, "app=legacy"), what="legacy scaled to zero")
    wait_for(lambda: len(running(cluster, "app=front")) == 3, what="front scaled to three")
    status = cluster.apps.read_namespaced_replica_set("front", "default").status
    assert status.replicas == 3 and status.observed_generation == 2


def test_cascading_deletes_background_foreground_and_orphan(cluster: Cluster) -> None:
    cluster.sb.add_node("n1", cpu="8", memory="16Gi")
    for name in ("bg", "fg", "orph"):
        cluster.apps.create_namespaced_deployment("default", deployment(name, 2))
    rc = {"metadata": {"name": "rc"}, "spec": {"replicas": 1, "template": template("rc")}}
    cluster.core.create_namespaced_replication_controller("default", rc)
    for app in ("bg", "fg", "orph", "rc"):
        want = 1 if app == "rc" else 2
        wait_for(lambda app=app, want=want: len(running(cluster, f"app={app}")) == want, what=app)

    cluster.apps.delete_namespaced_deployment("bg", "default")  # Background by default
    code, out = http(
        cluster.sb,
        "DELETE",
        "/apis/apps/v1/namespaces/default/deployments/fg",
        {"propagationPolicy": "Foreground"},
    )
    assert code == 200 and out["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert out["metadata"]["deletionTimestamp"]
    cluster.apps.delete_namespaced_deployment("orph", "default", propagation_policy="Orphan")
    cluster.core.delete_namespaced_replication_controller("rc", "default")  # v1 RCs orphan

    def gone(app: str) -> bool:
        return not cluster.core.list_namespaced_pod("default", label_selector=f"app={app}").items

    wait_for(lambda: gone("bg") and gone("fg"), what="background and foreground cascades")
    wait_for(
        lambda: not [d for d in cluster.apps.list_namespaced_deployment("default").items],
        what="deployments gone",
    )
    kept_rs = cluster.apps.list_namespaced_replica_set("default").items
    assert [r.metadata.name.startswith("orph-") for r in kept_rs] == [True]
    assert kept_rs[0].metadata.owner_references is None
    orphans = running(cluster, "app=orph") + running(cluster, "app=rc")
    assert len(orphans) == 3
    assert all(
        p.metadata.owner_references is None or p.metadata.owner_references[0].kind == "ReplicaSet"
        for p in orphans
    )


def test_priority_classes_resolve_pod_priority(cluster: Cluster) -> None:
    sched = cluster.scheduling
    names = {pc.metadata.name for pc in sched.list_priority_class().items}
    assert {"system-node-critical", "system-cluster-critical"} <= names
    sched.create_priority_class(
        {"metadata": {"name": "batch-low"}, "value": 10, "preemptionPolicy": "Never"}
    )
    sched.create_priority_class(
        {"metadata": {"name": "normal"}, "value": 100, "globalDefault": True}
    )
    with pytest.raises(ApiException) as err:
        sched.create_priority_class(
            {"metadata": {"name": "other"}, "value": 5, "globalDefault": True}
        )
    assert err.value.status == 422 and "already marked as default" in err.value.body
    with pytest.raises(ApiException) as err:
        sched.delete_priority_class("system-node-critical")
    assert err.value.status == 403

    def pod(name: str, cls: str | None) -> dict[str, Any]:
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x"}]}
        if cls:
            spec["priorityClassName"] = cls
        return {"metadata": {"name": name}, "spec": spec}

    low = cluster.core.create_namespaced_pod("default", pod("low", "batch-low"))
    assert (low.spec.priority, low.spec.preemption_policy) == (10, "Never")
    plain = cluster.core.create_namespaced_pod("default", pod("plain", None))
    assert (plain.spec.priority, plain.spec.priority_class_name) == (100, "normal")
    with pytest.raises(ApiException) as err:
        cluster.core.create_namespaced_pod("default", pod("bad", "nope"))
    assert err.value.status == 403
    assert "no PriorityClass with name nope was found" in err.value.body
