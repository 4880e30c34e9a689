"""Protobuf over real HTTP: kubectl's captured bodies created, answers as Accept asks, watches.

The module's sandbox API server (conftest.py); requests go over http.client with the exact headers
kubectl (and Cluster Autoscaler, which adds `*/*`) sends.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from clues_py.sandbox import protobuf
from clues_py.sandbox.protobuf import wire
from tests.e2e.sandbox.conftest import Sandbox, node

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kubectl_requests" / "v1.32"
KUBECTL_ACCEPT = "application/vnd.kubernetes.protobuf,application/json"
CA_ACCEPT = "application/vnd.kubernetes.protobuf, */*"


@pytest.fixture(scope="module")
def sb(sandbox: Sandbox) -> Sandbox:
    return sandbox  # this module's API server (conftest.py)


def call(
    sb: Sandbox, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, str, bytes]:
    u = urlsplit(sb.server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.getheader("Content-Type") or "", data


def test_kubectl_bodies_create_objects_and_answers_are_protobuf(sb: Sandbox) -> None:
    index = json.loads((FIXTURES / "index.json").read_text())
    created = 0
    for entry in index["requests"]:
        if "file" not in entry:
            continue
        body = (FIXTURES / entry["file"]).read_bytes()
        code, ctype, data = call(
            sb,
            "POST",
            entry["path"],
            body,
            Content_Type=protobuf.MEDIA_TYPE,
            Accept=KUBECTL_ACCEPT,
        )
        assert code == 201, (entry["file"], data[:300])
        assert ctype == protobuf.MEDIA_TYPE
        answer = protobuf.decode(data)
        assert answer["kind"] == protobuf.decode(body)["kind"]
        created += 1
    assert created == 19
    # What kubectl sent is what is stored, read back as JSON.
    d0 = sb.store.get("deployments", "d0", "rec")
    assert d0["spec"]["replicas"] == 0
    svc = sb.store.get("services", "svc1", "rec")
    assert svc["spec"]["clusterIP"].startswith("10.96.") and svc["status"] == {"loadBalancer": {}}
    assert sb.store.get("namespaces", "rec")["status"] == {"phase": "Active"}


def test_answers_follow_accept(sb: Sandbox) -> None:
    sb.store.create("nodes", node("pb-n1"))
    code, ctype, data = call(sb, "GET", "/api/v1/nodes/pb-n1", Accept=CA_ACCEPT)
    assert (code, ctype) == (200, protobuf.MEDIA_TYPE)
    assert protobuf.decode(data)["metadata"]["name"] == "pb-n1"
    code, ctype, data = call(sb, "GET", "/api/v1/nodes/pb-n1", Accept="application/json, */*")
    assert ctype == "application/json" and json.loads(data)["kind"] == "Node"
    code, ctype, data = call(sb, "GET", "/api/v1/nodes", Accept=KUBECTL_ACCEPT)
    listed = protobuf.decode(data)
    assert listed["kind"] == "NodeList" and "pb-n1" in [
        n["metadata"]["name"] for n in listed["items"]
    ]
    # Errors come back as a protobuf Status with the same fields as the JSON one.
    code, ctype, data = call(sb, "GET", "/api/v1/nodes/missing", Accept=KUBECTL_ACCEPT)
    status = protobuf.decode(data)
    assert code == 404 and status["kind"] == "Status" and status["reason"] == "NotFound"
    assert status["message"] == 'nodes "missing" not found'
    # Tables stay JSON even for a protobuf-first client.
    code, ctype, data = call(
        sb,
        "GET",
        "/api/v1/nodes",
        Accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    assert json.loads(data)["kind"] == "Table"


def test_custom_resources_answer_json_to_protobuf_clients(sb: Sandbox) -> None:
    code, ctype, data = call(sb, "GET", "/apis/kueue.x-k8s.io/v1beta1/workloads", Accept=CA_ACCEPT)
    assert code == 200 and ctype == "application/json"


def test_protobuf_watch_frames(sb: Sandbox) -> None:
    u = urlsplit(sb.server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    rv = sb.store.resource_version()
    conn.request(
        "GET",
        f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=5",
        headers={"Accept": CA_ACCEPT},
    )
    resp = conn.getresponse()
    assert resp.getheader("Content-Type") == protobuf.WATCH_MEDIA_TYPE
    sb.store.create("configmaps", {"metadata": {"name": "w1"}, "data": {"k": "v"}}, "default")
    size = int.from_bytes(resp.read(4), "big")
    event = dict((n, v) for n, _, v in wire.fields(resp.read(size)))
    assert event[1] == b"ADDED"
    raw = dict((n, v) for n, _, v in wire.fields(event[2]))[1]
    obj = protobuf.decode(raw)  # type: ignore[arg-type]
    assert obj["kind"] == "ConfigMap" and obj["data"] == {"k": "v"}
    conn.close()


def test_bad_protobuf_is_a_400_and_unknown_media_a_415(sb: Sandbox) -> None:
    code, _, data = call(
        sb,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        b"k8s\x00\x0a\xff",
        Content_Type=protobuf.MEDIA_TYPE,
    )
    assert code == 400 and json.loads(data)["reason"] == "BadRequest"
    code, _, data = call(
        sb, "POST", "/api/v1/namespaces/default/configmaps", b"x", Content_Type="text/plain"
    )
    assert code == 415 and json.loads(data)["reason"] == "UnsupportedMediaType"
