"""The protobuf media type: wire format, message conversion both ways, envelope, negotiation.

Pure functions over bytes and dicts; the bodies kubectl really sends are decoded in
`test_protobuf_fixtures.py`, and the server's use of all this in tests/e2e/sandbox.
"""

from __future__ import annotations

import pytest

from clues_py.sandbox import protobuf, resources
from clues_py.sandbox.protobuf import wire
from clues_py.sandbox.protobuf.codec import from_json, to_json
from clues_py.sandbox.schema import message_for


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31 - 1, 2**63 - 1])
def test_varints_round_trip(value: int) -> None:
    data = wire.varint(value)
    assert wire.read_varint(data, 0) == (value, len(data))


def test_negative_ints_use_ten_bytes_and_read_back_signed() -> None:
    data = wire.varint(-5)
    assert len(data) == 10
    raw, _ = wire.read_varint(data, 0)
    assert wire.signed(raw, 32) == -5 and wire.signed(raw, 64) == -5


def test_truncated_input_is_a_clear_error() -> None:
    with pytest.raises(wire.WireError, match="runs past the end"):
        list(wire.fields(b"\x0a\x05ab"))
    with pytest.raises(protobuf.ProtobufError, match="magic"):
        protobuf.decode(b'{"kind":"Pod"}')


def _round_trip(obj: dict) -> dict:
    return protobuf.decode(protobuf.encode(obj))


def test_pointer_zero_survives_but_plain_zero_is_omitted() -> None:
    # Deployment.spec.replicas is *int32 (0 means zero replicas, not "default to 1");
    # minReadySeconds is a plain int32 with omitempty, so Go drops its zero.
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {"replicas": 0, "minReadySeconds": 0, "paused": False},
    }
    data = protobuf.encode(dep)
    assert data.startswith(b"k8s\x00")
    out = protobuf.decode(data)
    assert out["spec"] == {"replicas": 0}
    job = {"apiVersion": "batch/v1", "kind": "Job", "spec": {"suspend": False}}
    assert _round_trip(job)["spec"] == {"suspend": False}  # *bool


def test_value_types_and_inlined_volume_source() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "labels": {"app": "x"},
            "creationTimestamp": "2026-01-01T00:00:05Z",
        },
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                    "ports": [{"containerPort": 80, "hostPort": 8080}],
                    "readinessProbe": {"tcpSocket": {"port": "http"}},
                    "livenessProbe": {"httpGet": {"port": 8080, "path": "/"}},
                }
            ],
            "volumes": [{"name": "scratch", "emptyDir": {}}],
            "securityContext": {"supplementalGroups": [1, 2]},
        },
    }
    out = _round_trip(pod)
    assert out["metadata"] == pod["metadata"]
    c = out["spec"]["containers"][0]
    assert c["resources"] == {"limits": {"cpu": "500m", "memory": "1Gi"}}
    assert c["readinessProbe"]["tcpSocket"] == {"port": "http"}  # IntOrString, string form
    assert c["livenessProbe"]["httpGet"]["port"] == 8080  # IntOrString, int form
    assert out["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {}}]
    assert out["spec"]["securityContext"]["supplementalGroups"] == [1, 2]


def test_micro_time_bytes_and_list_wrapped_values() -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "n"},
        "spec": {"holderIdentity": "n", "renewTime": "2026-01-01T00:00:01.250000Z"},
    }
    assert _round_trip(lease)["spec"] == lease["spec"]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"k": "dg=="},
    }
    assert _round_trip(secret)["data"] == {"k": "dg=="}
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview",
        "metadata": {},
        "status": {"userInfo": {"username": "admin", "extra": {"scopes": ["a", "b"]}}},
    }
    assert _round_trip(review)["status"] == review["status"]


def test_packed_repeated_varints_are_read() -> None:
    packed = bytearray()
    wire.put_bytes(packed, 4, wire.varint(1) + wire.varint(2) + wire.varint(300))
    assert to_json(bytes(packed), "core.v1.PodSecurityContext") == {
        "supplementalGroups": [1, 2, 300]
    }


def test_unknown_fields_are_skipped() -> None:
    data = from_json({"name": "c"}, "core.v1.Container") + bytes([0xF8, 0x3E, 0x01])  # field 999
    assert to_json(data, "core.v1.Container") == {"name": "c"}


def test_lists_and_status() -> None:
    lst = {
        "apiVersion": "v1",
        "kind": "PodList",
        "metadata": {"resourceVersion": "7"},
        "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}],
    }
    assert _round_trip(lst) == lst
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "x" not found',
        "reason": "NotFound",
        "details": {"name": "x", "kind": "pods"},
        "code": 404,
    }
    assert _round_trip(status) == status


def test_watch_frame_is_length_prefixed_watch_event() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    frame = protobuf.watch_frame("ADDED", obj)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    event = dict((n, v) for n, _, v in wire.fields(frame[4:]))
    assert event[1] == b"ADDED"
    inner = dict((n, v) for n, _, v in wire.fields(event[2]))  # RawExtension.raw
    assert protobuf.decode(inner[1]) == obj


@pytest.mark.parametrize(
    ("accept", "possible", "want"),
    [
        ("application/vnd.kubernetes.protobuf,application/json", True, protobuf.MEDIA_TYPE),
        ("application/vnd.kubernetes.protobuf, */*", True, protobuf.MEDIA_TYPE),
        ("application/vnd.kubernetes.protobuf,application/json", False, "application/json"),
        ("application/json, */*", True, "application/json"),
        ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", True, "application/json"),
        (
            "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io",
            True,
            "application/json",
        ),
        ("application/json;q=0.5,application/vnd.kubernetes.protobuf", True, protobuf.MEDIA_TYPE),
        ("", True, "application/json"),
        (None, True, "application/json"),
    ],
)
def test_negotiation_follows_accept_order_and_q(
    accept: str | None, possible: bool, want: str
) -> None:
    assert protobuf.negotiate(accept, possible) == want


# Served kinds without a Kubernetes protobuf form: custom resources (Kueue, Cluster
# Autoscaler's ProvisioningRequests) answer JSON, as on a real server; metrics.k8s.io is
# served here from JSON only.
NO_PROTOBUF_GROUPS = {"kueue.x-k8s.io", "autoscaling.x-k8s.io", "metrics.k8s.io"}


def test_every_built_in_kind_served_has_a_protobuf_form() -> None:
    missing = [
        f"{info.api_version} {kind}"
        for gv, infos in resources.groups().items()
        for info in infos
        if info.group not in NO_PROTOBUF_GROUPS
        for kind in (info.kind, info.list_kind)
        if message_for(gv, kind) is None
        and not (kind.endswith("List") and "list" not in info.verbs)
    ]
    # A new built-in kind needs its message in ROOTS of tools/protobuf_schema.py.
    assert missing == []
