"""Conversion of pod, node and job JSON into PodInfo, NodeRecord and HiddenDemand."""

from __future__ import annotations

import pytest
from k8s_objects import T0_EPOCH, job, node, pod

from clues_py.model import Placement, Resources, SelectorRequirement, Taint, Toleration
from plugins.backends.k8s_convert import (
    ConversionError,
    node_record,
    placement_of,
    pod_requests,
)
from plugins.backends.k8s_kueue import job_hidden_demand
from plugins.backends.k8s_pods import pod_info, pod_record

MI = 2**20
GI = 2**30


def c(name: str, requests: dict | None = None, limits: dict | None = None, **kw: object) -> dict:
    res: dict = {}
    if requests is not None:
        res["requests"] = requests
    if limits is not None:
        res["limits"] = limits
    return {"name": name, "resources": res, **kw}


def test_requests_sum_containers_and_add_one_pod_slot() -> None:
    spec = {
        "containers": [
            c("a", {"cpu": "250m", "memory": "1Gi"}),
            c("b", {"cpu": "1", "memory": "512Mi"}),
        ]
    }
    assert pod_requests(spec) == Resources(1250, GI + 512 * MI, 0, 1)


def test_limits_stand_in_for_missing_requests_per_resource() -> None:
    spec = {
        "containers": [
            c("a", {"cpu": "100m"}, {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "1"})
        ]
    }
    assert pod_requests(spec) == Resources(100, GI, 1, 1)


def test_init_containers_take_the_max_and_sidecars_add() -> None:
    spec = {
        "containers": [c("main", {"cpu": "500m", "memory": "100Mi"})],
        "initContainers": [
            c("migrate", {"cpu": "2", "memory": "10Mi"}),
            c("proxy", {"cpu": "100m", "memory": "50Mi"}, restartPolicy="Always"),
        ],
    }
    # cpu: max(500+100, 2000) ; memory: max(100+50, 10)
    assert pod_requests(spec) == Resources(2000, 150 * MI, 0, 1)


def test_overhead_is_added() -> None:
    spec = {"containers": [c("a", {"cpu": "1"})], "overhead": {"cpu": "250m"}}
    assert pod_requests(spec).cpu_millis == 1250


def test_pod_without_resources_still_takes_a_slot() -> None:
    assert pod_requests({"containers": [{"name": "a"}]}) == Resources(pods=1)


def test_bad_quantity_names_the_pod_and_container() -> None:
    p = pod("web", cpu="lots")
    with pytest.raises(ConversionError, match="pod default/web container 'main'"):
        pod_info(p)


def test_placement_selector_tolerations_and_affinity() -> None:
    spec = {
        "nodeSelector": {"zone": "a", "disk": "ssd"},
        "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "pool", "operator": "In", "values": ["batch", "hpc"]},
                                {"key": "spot", "operator": "DoesNotExist"},
                                {"key": "cores", "operator": "Gt", "values": ["4"]},
                            ]
                        },
                        {
                            "matchExpressions": [
                                {"key": "pool", "operator": "NotIn", "values": ["web"]}
                            ]
                        },
                    ]
                }
            }
        },
    }
    pl = placement_of(spec)
    assert pl.node_selector == (("disk", "ssd"), ("zone", "a"))
    assert pl.tolerations == (Toleration("gpu", "Exists", "", "NoSchedule"),)
    assert pl.affinity_terms == (
        (
            SelectorRequirement("pool", "In", ("batch", "hpc")),
            SelectorRequirement("spot", "DoesNotExist"),
        ),
        (SelectorRequirement("pool", "NotIn", ("web",)),),
    )
    assert pl.labels_match({"zone": "a", "disk": "ssd", "pool": "hpc"})
    assert not pl.labels_match({"zone": "a", "disk": "ssd", "pool": "web"})


def test_empty_placement_is_shared() -> None:
    assert placement_of({}) == Placement()
    assert placement_of({}) is placement_of({"nodeSelector": {}})


def test_pod_info_owner_daemonset_mirror_protected_created() -> None:
    ds = pod_info(pod("agent", owner=("DaemonSet", "agent"), node="n1", phase="Running"))
    assert (ds.owner_kind, ds.owner_name, ds.daemonset, ds.node_name, ds.phase) == (
        "DaemonSet",
        "agent",
        True,
        "n1",
        "Running",
    )
    assert ds.created == T0_EPOCH
    mirror = pod_info(pod("etcd", annotations={"kubernetes.io/config.mirror": "abc"}))
    assert mirror.mirror and not mirror.daemonset
    for key in ("cluster-autoscaler.kubernetes.io/safe-to-evict", "clues-py.io/safe-to-evict"):
        assert pod_info(pod("db", annotations={key: "false"})).protected
    assert not pod_info(pod("db", annotations={"clues-py.io/safe-to-evict": "true"})).protected


def test_non_controller_owner_is_ignored() -> None:
    p = pod("x")
    p["metadata"]["ownerReferences"] = [{"kind": "ConfigMap", "name": "cm"}]
    assert pod_info(p).owner_kind == ""


def test_pod_record_flags() -> None:
    r = pod_record(pod("p", unschedulable=True))
    assert r.unschedulable and r.pending_candidate and not r.terminating
    assert not pod_record(pod("p", node="n1")).pending_candidate
    assert not pod_record(pod("p", deleting=True)).pending_candidate
    assert pod_record(pod("p", node="n1", phase="Succeeded")).terminal
    other = pod("p")
    other["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
    ]
    assert not pod_record(other).unschedulable


def test_node_record() -> None:
    n = node(
        "n1",
        cpu="3800m",
        memory="7Gi",
        unschedulable=True,
        labels={"pool": "batch"},
        taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}],
    )
    r = node_record(n)
    assert r.ready and r.unschedulable
    assert r.allocatable == Resources(3800, 7 * GI, 0, 110)
    assert r.labels == (("pool", "batch"),)
    assert r.taints == (Taint("gpu", "yes", "NoSchedule"),)
    assert r.provider_id == "sim://n1"
    assert not node_record(node("n2", ready=False)).ready
    bare = {"metadata": {"name": "n3"}, "status": {"conditions": []}}
    assert not node_record(bare).ready and node_record(bare).allocatable == Resources()


def test_suspended_job_is_hidden_demand() -> None:
    d = job_hidden_demand(job("train", parallelism=4, completions=10, succeeded=8))
    assert d is not None
    assert (d.kind, d.namespace, d.name, d.count) == ("Job", "default", "train", 2)
    assert d.per_pod == Resources(1000, GI, 0, 1)
    assert d.placement.node_selector == (("pool", "batch"),)
    assert d.created == T0_EPOCH
    assert d.key == "job:default/train"


@pytest.mark.parametrize(
    ("kw", "count"),
    [
        ({"parallelism": None, "completions": None}, 1),
        ({"parallelism": 3, "completions": None}, 3),
        ({"parallelism": 5, "completions": 2}, 2),
        ({"suspend": False}, None),
        ({"finished": "Complete"}, None),
        ({"finished": "Failed"}, None),
        ({"completions": 5, "succeeded": 5}, None),
        ({"parallelism": 0}, None),
    ],
)
def test_job_counts(kw: dict, count: int | None) -> None:
    d = job_hidden_demand(job("j", **kw))
    assert (d.count if d else None) == count


def test_gated_pods_are_not_demand() -> None:
    gated = pod_record(pod("p", schedulingGates=[{"name": "example.com/wait"}]))
    assert gated.gated and not gated.pending_candidate


def test_one_container_shapes_are_remembered_and_bad_ones_still_named() -> None:
    # Pods of one shape share one parsed request; a different shape is its own.
    a = pod_requests({"containers": [c("a", {"cpu": "300m", "memory": "1Gi"})]})
    b = pod_requests({"containers": [c("b", {"cpu": "300m", "memory": "1Gi"})]})
    assert a is b and a == Resources(300, GI, 0, 1)
    limits_only = {"containers": [{"name": "l", "resources": {"limits": {"cpu": "300m"}}}]}
    assert pod_requests(limits_only) == Resources(300, 0, 0, 1)
    assert pod_requests({"containers": [c("c", {"cpu": "301m"})]}).cpu_millis == 301
    # A bad quantity is never remembered, and an unhashable one takes the slow path's error.
    for bad in ("lots", ["1"]):
        spec = {"containers": [c("main", {"cpu": bad})]}
        for _ in range(2):
            with pytest.raises(ConversionError, match="pod default/web container 'main'"):
                pod_requests(spec, "pod default/web")


def test_placements_without_node_affinity_are_remembered_by_selector_and_tolerations() -> None:
    tol = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
    spec = {"nodeSelector": {"pool": "a"}, "tolerations": [dict(tol, tolerationSeconds=300)]}
    first, again = placement_of(spec), placement_of(dict(spec))
    assert first is again and first.node_selector == (("pool", "a"),)
    assert first.tolerations[0].key == "node.kubernetes.io/not-ready"
    other = placement_of({"nodeSelector": {"pool": "b"}, "tolerations": [tol]})
    assert other.node_selector == (("pool", "b"),) and other is not first
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["x"]}]}
                ]
            }
        }
    }
    assert placement_of({**spec, "affinity": affinity}).affinity_terms != ()
