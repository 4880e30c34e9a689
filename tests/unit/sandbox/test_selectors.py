"""Label and field selector parsing and matching."""

from __future__ import annotations

import pytest

from clues_py.sandbox.selectors import (
    SelectorError,
    field_value,
    match_label_dict,
    parse_field_selector,
    parse_label_selector,
)


def obj(labels: dict | None = None, **fields: object) -> dict:
    return {"metadata": {"name": "x", "namespace": "ns", "labels": labels or {}}, **fields}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("a=1", {"a": "1"}, True),
        ("a==1", {"a": "2"}, False),
        ("a!=1", {}, True),
        ("a!=1", {"a": "1"}, False),
        ("a in (1, 2)", {"a": "2"}, True),
        ("a in (1,2)", {}, False),
        ("a notin (1,2)", {}, True),
        ("a notin (1,2)", {"a": "1"}, False),
        ("a", {"a": ""}, True),
        ("!a", {"a": ""}, False),
        ("!a", {"b": "1"}, True),
        ("a=1,b in (x,y),!c", {"a": "1", "b": "y"}, True),
        ("a=1,b in (x,y),!c", {"a": "1", "b": "y", "c": "z"}, False),
        ("example.com/role=gpu", {"example.com/role": "gpu"}, True),
        ("n>3", {"n": "4"}, True),
        ("n<3", {"n": "4"}, False),
    ],
)
def test_label_selector(selector: str, labels: dict, expected: bool) -> None:
    m = parse_label_selector(selector)
    assert m is not None and m(obj(labels)) is expected


def test_empty_selector_is_none() -> None:
    assert parse_label_selector("") is None and parse_field_selector("") is None


@pytest.mark.parametrize("bad", ["a in (1", "a=1,,b=2", "a b", "=1", "in in (", "a=b=c"])
def test_bad_label_selectors_raise(bad: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(bad)


def test_field_selector() -> None:
    pod = obj(spec={"nodeName": "n1", "hostNetwork": True}, status={"phase": "Running"})
    allowed = ("spec.nodeName", "status.phase", "spec.hostNetwork")
    assert parse_field_selector("spec.nodeName=n1,status.phase!=Failed", allowed)(pod)
    assert not parse_field_selector("spec.nodeName==n2", allowed)(pod)
    assert parse_field_selector("metadata.namespace=ns,metadata.name=x", allowed)(pod)
    assert parse_field_selector("spec.hostNetwork=true", allowed)(pod)
    assert parse_field_selector("spec.nodeName=", allowed)(obj(spec={}))  # unscheduled pods
    assert field_value(pod, "status.nothing") == ""


def test_field_selector_rejects_unknown_fields_and_syntax() -> None:
    with pytest.raises(SelectorError, match="field label not supported: spec.bogus"):
        parse_field_selector("spec.bogus=1", ("spec.nodeName",))
    with pytest.raises(SelectorError):
        parse_field_selector("spec.nodeName~1", ("spec.nodeName",))


def test_structured_label_selector() -> None:
    sel = {
        "matchLabels": {"app": "a"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["1", "2"]},
            {"key": "x", "operator": "DoesNotExist"},
        ],
    }
    assert match_label_dict(sel, {"app": "a", "tier": "1"})
    assert not match_label_dict(sel, {"app": "a", "tier": "3"})
    assert not match_label_dict(sel, {"app": "a", "tier": "1", "x": ""})
    assert match_label_dict({}, {"anything": "1"})
    assert not match_label_dict(None, {"anything": "1"})


def test_field_selector_values_as_the_registries_report_them() -> None:
    node = obj(spec={})
    assert parse_field_selector("spec.unschedulable=false", ("spec.unschedulable",))(node)
    assert not parse_field_selector("spec.unschedulable=true", ("spec.unschedulable",))(node)
    event = obj(source={"component": "kubelet", "host": "n1"})
    assert parse_field_selector("source=kubelet", ("source",))(event)
