"""Merge, strategic merge and JSON patch semantics."""

from __future__ import annotations

import pytest

from clues_py.sandbox.patch import (
    PatchError,
    apply_patch,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)

SMP = "application/strategic-merge-patch+json"


def test_merge_patch_merges_maps_deletes_nulls_replaces_lists() -> None:
    target = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"taints": [{"key": "x"}]}}
    out = merge_patch(
        target, {"metadata": {"labels": {"b": None, "c": "3"}}, "spec": {"taints": []}}
    )
    assert out == {"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"taints": []}}
    assert target["metadata"]["labels"] == {"a": "1", "b": "2"}  # input untouched


def test_strategic_cordon_and_labels() -> None:
    node = {"metadata": {"name": "n", "labels": {"a": "1"}}, "spec": {}}
    out = apply_patch(
        SMP, node, {"spec": {"unschedulable": True}, "metadata": {"labels": {"b": "2"}}}
    )
    assert out == {
        "metadata": {"name": "n", "labels": {"a": "1", "b": "2"}},
        "spec": {"unschedulable": True},
    }


def test_strategic_merges_conditions_by_type_and_containers_by_name() -> None:
    target = {
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "DiskPressure", "status": "False"},
            ]
        },
        "spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]},
    }
    patch = {
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "New", "status": "True"}]
        },
        "spec": {
            "containers": [{"name": "b", "image": "2"}, {"name": "a", "$patch": "delete"}],
            "$setElementOrder/containers": [{"name": "b"}],
        },
    }
    out = strategic_merge_patch(target, patch)
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "DiskPressure", "status": "False"},
        {"type": "New", "status": "True"},
    ]
    assert out["spec"] == {"containers": [{"name": "b", "image": "2"}]}


def test_strategic_directives() -> None:
    target = {
        "metadata": {"finalizers": ["a", "b"]},
        "spec": {"tolerations": [{"key": "x"}], "keep": {"x": 1, "y": 2}},
    }
    out = strategic_merge_patch(
        target,
        {
            "metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {"tolerations": [{"key": "y"}], "keep": {"$patch": "replace", "z": 3}},
        },
    )
    assert out["metadata"]["finalizers"] == ["b", "c"]
    assert out["spec"]["tolerations"] == [{"key": "y"}]  # no merge key: replaced
    assert out["spec"]["keep"] == {"z": 3}
    with pytest.raises(PatchError, match="merge key"):
        strategic_merge_patch(
            {"spec": {"containers": []}}, {"spec": {"containers": [{"image": "x"}]}}
        )


def test_json_patch_operations() -> None:
    doc = {"metadata": {"labels": {"a": "1"}}, "list": [1, 2]}
    out = json_patch(
        doc,
        [
            {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
            {"op": "replace", "path": "/metadata/labels/a", "value": "9"},
            {"op": "add", "path": "/list/-", "value": 3},
            {"op": "remove", "path": "/list/0"},
            {"op": "copy", "from": "/list", "path": "/copy"},
            {"op": "move", "from": "/copy", "path": "/moved"},
            {"op": "test", "path": "/moved/0", "value": 2},
        ],
    )
    assert out == {"metadata": {"labels": {"a": "9", "b/c": "2"}}, "list": [2, 3], "moved": [2, 3]}
    assert doc == {"metadata": {"labels": {"a": "1"}}, "list": [1, 2]}
    with pytest.raises(PatchError) as err:
        json_patch(doc, [{"op": "test", "path": "/list/0", "value": 5}])
    assert err.value.code == 422
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "remove", "path": "/nope"}])
    with pytest.raises(PatchError) as err:
        apply_patch("application/apply-patch+yaml", doc, {})
    assert err.value.code == 415


def test_strategic_merge_follows_each_kinds_merge_keys() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "spec": {"ports": [{"name": "a", "port": 80, "targetPort": 80}]},
    }
    out = apply_patch(SMP, svc, {"spec": {"ports": [{"name": "b", "port": 8080}]}})
    assert [p["port"] for p in out["spec"]["ports"]] == [80, 8080]  # by port, not containerPort
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"finalizers": ["a"]},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
    }
    patch = {
        "metadata": {"finalizers": ["b"]},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 81}]}]},
    }
    out = apply_patch(SMP, pod, patch)
    assert out["metadata"]["finalizers"] == ["a", "b"]
    assert out["spec"]["containers"][0]["ports"] == [{"containerPort": 80}, {"containerPort": 81}]
    # A list without a patch strategy (a Service's externalIPs) is replaced.
    svc["spec"]["externalIPs"] = ["1.1.1.1"]
    out = apply_patch(SMP, svc, {"spec": {"externalIPs": ["2.2.2.2"]}})
    assert out["spec"]["externalIPs"] == ["2.2.2.2"]
