"""The typed pod decoder (`k8s_pods`, decision 0029) against the dict-walking semantics.

The oracle below reads a pod the way the conversion did before the decoder: `.get` on
parsed JSON. Hypothesis draws pods of many shapes (owners, sidecars, overhead, selectors,
tolerations, node affinity, volumes, gates, conditions, nulls) and every way in (a list
page, a watch event's dict) must give the oracle's record.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from k8s_objects import pod

from clues_py.model import PodInfo
from plugins.backends.k8s_cache import ClusterCache
from plugins.backends.k8s_convert import ConversionError, parse_time, placement_of, pod_requests
from plugins.backends.k8s_pods import PodDoc, PodRecord, decode_pod_list, pod_key, pod_record

Obj = dict[str, Any]


def oracle(p: Obj) -> PodRecord:
    meta, spec, status = p.get("metadata") or {}, p.get("spec") or {}, p.get("status") or {}
    ann = meta.get("annotations") or {}
    kind = owner = ""
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            kind, owner = ref.get("kind", ""), ref.get("name", "")
            break
    ns, name = meta.get("namespace", ""), meta.get("name", "")
    volumes = spec.get("volumes") or []
    info = PodInfo(
        namespace=ns,
        name=name,
        requests=pod_requests(spec, f"pod {ns}/{name}"),
        placement=placement_of(spec),
        node_name=spec.get("nodeName") or "",
        phase=status.get("phase") or "Pending",
        owner_kind=kind,
        owner_name=owner,
        created=parse_time(meta.get("creationTimestamp")),
        daemonset=kind == "DaemonSet",
        mirror="kubernetes.io/config.mirror" in ann,
        protected=bool(ann)
        and any(
            str(ann.get(k, "")).lower() == "false"
            for k in ("cluster-autoscaler.kubernetes.io/safe-to-evict", "clues-py.io/safe-to-evict")
        ),
        labels=tuple(sorted((str(k), str(v)) for k, v in (meta.get("labels") or {}).items())),
        local_storage=bool(volumes)
        and any("emptyDir" in v or "hostPath" in v for v in volumes if v),
    )
    return PodRecord(
        info=info,
        uid=meta.get("uid", ""),
        resource_version=meta.get("resourceVersion", ""),
        terminating=bool(meta.get("deletionTimestamp")),
        unschedulable=any(
            c.get("type") == "PodScheduled"
            and c.get("status") == "False"
            and c.get("reason") == "Unschedulable"
            for c in status.get("conditions") or ()
        ),
        gated=bool(spec.get("schedulingGates")),
        consumes=str(ann.get("autoscaling.x-k8s.io/consume-provisioning-request") or ""),
    )


def page(*items: Obj, cont: str = "", rv: str = "7") -> bytes:
    return json.dumps(
        {"metadata": {"continue": cont, "resourceVersion": rv}, "items": items}
    ).encode()


def via_page(p: Obj) -> PodRecord:
    items, _, _ = decode_pod_list(page(p))
    assert isinstance(items[0], PodDoc)
    return pod_record(items[0])


# --------------------------------------------------------------------------- shapes

quantity = st.sampled_from(["100m", "1", "2", "0.5", "250m", "1Gi", "512Mi", 3, "1500m"])
resources = st.fixed_dictionaries(
    {},
    optional={
        "requests": st.dictionaries(st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), quantity),
        "limits": st.dictionaries(st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), quantity),
    },
)
container = st.builds(
    lambda n, r, always: {
        "name": n,
        "resources": r,
        **({"restartPolicy": "Always"} if always else {}),
    },
    st.sampled_from(["a", "b", "c"]),
    resources,
    st.booleans(),
)
toleration = st.sampled_from(
    [
        {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
        {"operator": "Exists"},
    ]
)
affinity = st.sampled_from(
    [
        None,
        {},
        {"podAntiAffinity": {"x": 1}},
        {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        },
    ]
)
volume = st.sampled_from(
    [{"name": "t", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/x"}}, {"name": "c"}, {}]
)
condition = st.sampled_from(
    [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"},
        {"type": "PodScheduled", "status": "True", "reason": "Unschedulable"},
        {"type": "PodScheduled", "status": "False", "message": "Unschedulable here"},
        {"type": "Ready", "status": "True"},
    ]
)
annotations = st.dictionaries(
    st.sampled_from(
        [
            "kubernetes.io/config.mirror",
            "clues-py.io/safe-to-evict",
            "cluster-autoscaler.kubernetes.io/safe-to-evict",
            "autoscaling.x-k8s.io/consume-provisioning-request",
            "other",
        ]
    ),
    st.sampled_from(["false", "False", "true", "req-1", ""]),
)


@st.composite
def pods(draw: st.DrawFn) -> Obj:
    p = pod(
        draw(st.sampled_from(["web", "job-1", "x"])),
        ns=draw(st.sampled_from(["default", "oscar-svc"])),
        node=draw(st.sampled_from(["", "n1"])),
        phase=draw(st.sampled_from(["Pending", "Running", "Succeeded", "Failed"])),
        owner=draw(st.sampled_from([None, ("Job", "j"), ("DaemonSet", "d"), ("ReplicaSet", "r")])),
        annotations=draw(annotations) or None,
        deleting=draw(st.booleans()),
    )
    spec, meta, status = p["spec"], p["metadata"], p["status"]
    spec["containers"] = draw(st.lists(container, min_size=1, max_size=3))
    for field, strategy in (
        ("initContainers", st.lists(container, max_size=2)),
        ("overhead", st.sampled_from([{"cpu": "250m"}, {}])),
        ("nodeSelector", st.dictionaries(st.sampled_from(["zone", "disk"]), st.just("a"))),
        ("tolerations", st.lists(toleration, max_size=2)),
        ("affinity", affinity),
        ("volumes", st.lists(volume, max_size=3)),
        ("schedulingGates", st.sampled_from([[], [{"name": "wait"}]])),
    ):
        if draw(st.booleans()):
            spec[field] = draw(strategy)
    if draw(st.booleans()):
        meta["labels"] = draw(st.dictionaries(st.sampled_from(["app", "job-name"]), st.just("v")))
    if draw(st.booleans()):
        meta["ownerReferences"] = [
            {"kind": "Job", "name": "not-controller"},
            *meta.get("ownerReferences", []),
        ]
    if draw(st.booleans()):
        status["conditions"] = draw(st.lists(condition, max_size=3))
    for fields, key in ((spec, "nodeName"), (status, "phase"), (spec, "nodeSelector")):
        if draw(st.integers(0, 9)) == 0:
            fields[key] = None  # JSON null reads as absent, as `.get(k) or ...` did
    return p


@settings(max_examples=300, deadline=None)
@given(pods())
def test_every_way_in_gives_the_dict_walking_record(p: Obj) -> None:
    expected = oracle(p)
    assert pod_record(p) == expected  # a watch event's dict
    assert via_page(p) == expected  # a list page


def test_a_page_gives_its_continue_token_and_resource_version() -> None:
    items, cont, rv = decode_pod_list(page(pod("a"), pod("b"), cont="tok", rv="42"))
    assert [pod_key(i) for i in items] == ["default/a", "default/b"]
    assert (cont, rv) == ("tok", "42")
    assert decode_pod_list(b'{"items": null}') == ([], "", "")


def test_one_misshapen_pod_drops_only_itself(caplog: pytest.LogCaptureFixture) -> None:
    bad = pod("bad")
    bad["spec"]["containers"] = "not a list"
    items, _, _ = decode_pod_list(page(pod("a"), bad, pod("b")))
    assert not isinstance(items[0], PodDoc)  # the page fell back to plain objects
    cache = ClusterCache(pending_grace=0)
    with caplog.at_level(logging.WARNING):
        cache.replace_pods(items)
    assert cache.pod("default/a") is not None and cache.pod("default/b") is not None
    assert cache.pod("default/bad") is None
    assert "ignoring default/bad" in caplog.text and "spec.containers" in caplog.text


def test_a_misshapen_watch_event_names_the_pod_and_field() -> None:
    bad = pod("bad")
    bad["status"]["conditions"] = "Unschedulable"
    with pytest.raises(ConversionError, match=r"pod default/bad: status\.conditions"):
        pod_record(bad)
    bad = pod("bad")
    bad["metadata"]["ownerReferences"] = ["Job"]
    with pytest.raises(ConversionError, match=r"pod default/bad: .*ownerReferences"):
        pod_record(bad)


def test_requests_are_looked_up_by_their_text_not_confused_by_it() -> None:
    one = pod_record(pod("a", cpu="1", memory="1Gi"))
    same_other_order = pod("b", cpu=None, memory=None)
    same_other_order["spec"]["containers"][0]["resources"] = {
        "requests": {"memory": "1Gi", "cpu": "1"}
    }
    assert pod_record(same_other_order).info.requests == one.info.requests
    assert pod_record(pod("c", cpu="2", memory="1Gi")).info.requests.cpu_millis == 2000


def test_invalid_json_is_an_error_not_an_empty_page() -> None:
    with pytest.raises(ValueError):
        decode_pod_list(b'{"items": [')
