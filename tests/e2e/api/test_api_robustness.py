"""Hostile requests against a real ApiServer (uvicorn on 127.0.0.1:0): every one gets a JSON
`{error, code}` answer of the right status, none a 5xx, and slow clients are cut off
(issue 15; bench/api_abuse.py runs a wider set against a real daemon)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from api_fakes import FakeControl

from clues_py.api import parse_address
from clues_py.api.guard import MAX_JSON_DEPTH
from clues_py.api.server import ApiServer

pytestmark = pytest.mark.e2e


def exchange(server: ApiServer, raw: bytes) -> tuple[int, dict[str, Any]]:
    addr = parse_address(server.address)
    answer = b""
    with socket.create_connection((addr.host, addr.port), timeout=20) as s:
        s.sendall(raw)
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def post(body: bytes, **headers: str) -> bytes:
    h = {"Host": "x", "Connection": "close", "Content-Type": "application/json", **headers}
    h.setdefault("Content-Length", str(len(body)))
    head = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    return f"POST /v1/nodes/wn-3/poweron HTTP/1.1\r\n{head}\r\n".encode() + body


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 40 + b"1" + b"}" * 40],
    ids=["100k arrays", "40 objects"],
)
def test_deep_json_is_400_and_nothing_happens(
    tcp_server: ApiServer, control: FakeControl, body: bytes
) -> None:
    code, doc = exchange(tcp_server, post(body))
    assert (code, doc["code"]) == (400, 400)
    assert f"deeper than {MAX_JSON_DEPTH}" in doc["error"]
    assert control.nodes()[2]["state"] == "off"


def test_brackets_inside_strings_do_not_count(tcp_server: ApiServer) -> None:
    code, doc = exchange(tcp_server, post(b'{"note": "' + b"[" * 1000 + b'"}'))
    assert code == 200 and doc["state"] == "powering_on"


def test_content_length_larger_than_the_body_is_408(
    tcp_server: ApiServer, control: FakeControl
) -> None:
    code, doc = exchange(tcp_server, post(b"{}", **{"Content-Length": "100"}))
    assert code == 408 and "Content-Length" in doc["error"]
    assert control.nodes()[2]["state"] == "off"


@pytest.mark.parametrize("length", ["-5", "ten", "2, 3"])
def test_bad_content_length_is_a_json_400(
    tcp_server: ApiServer, control: FakeControl, length: str
) -> None:
    code, doc = exchange(tcp_server, post(b"{}", **{"Content-Length": length}))
    assert (code, doc["code"]) == (400, 400) and "malformed HTTP request" in doc["error"]
    assert control.nodes()[2]["state"] == "off"  # the operation did not run


def test_huge_content_length_is_413_without_reading(tcp_server: ApiServer) -> None:
    code, doc = exchange(tcp_server, post(b"{}", **{"Content-Length": "99999999999"}))
    assert code == 413 and doc["code"] == 413


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("limit=", "limit=''"),
        ("since=", "since=''"),
        ("since=nan", "since='nan'"),
        ("node=", "node=''"),
        ("kind=", "none empty"),
        ("kind=a,,b", "none empty"),
        ("kind=a&kind=", "none empty"),
        ("zzz=1", "unknown query parameter 'zzz'; valid: kind, limit, node, since"),
        ("limit=5&limit=6", "'limit' given more than once"),
    ],
)
def test_query_validation_is_strict(tcp_server: ApiServer, query: str, needle: str) -> None:
    code, doc = exchange(
        tcp_server,
        f"GET /v1/actions?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
    )
    assert code == 400 and needle in doc["error"]


def test_a_list_parameter_may_repeat(tcp_server: ApiServer) -> None:
    code, doc = exchange(
        tcp_server,
        b"GET /v1/actions?kind=poweron,poweroff&kind=reset HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert code == 200 and isinstance(doc, list)


def test_unknown_query_parameter_on_a_route_without_any(tcp_server: ApiServer) -> None:
    code, doc = exchange(
        tcp_server, b"GET /v1/status?verbose=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert code == 400 and "valid: none" in doc["error"]


def test_a_silent_client_is_dropped(tcp_server: ApiServer) -> None:
    addr = parse_address(tcp_server.address)
    with socket.create_connection((addr.host, addr.port), timeout=30) as s:
        s.sendall(b"GET /v1/sta")  # headers that never end
        assert s.recv(1024) == b""  # the server closed it (after its idle timeout)


def test_openapi_is_generated_from_the_routes(tcp_server: ApiServer) -> None:
    code, doc = exchange(
        tcp_server, b"GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert code == 200 and doc["openapi"].startswith("3.")
    paths = doc["paths"]
    assert set(paths) == {
        "/healthz", "/v1/status", "/v1/nodes", "/v1/passes", "/v1/nodes/{name}",
        "/v1/nodes/{name}/{op}", "/v1/actions", "/v1/transitions", "/v1/explain/node/{name}",
        "/v1/explain/pod/{namespace}/{name}",
    }  # fmt: skip
    op = paths["/v1/nodes/{name}/{op}"]["post"]
    assert set(op["responses"]) >= {"200", "400", "401", "404", "409"}
    assert "422" not in json.dumps(doc)
    params = {p["name"]: p["schema"] for p in paths["/v1/actions"]["get"]["parameters"]}
    assert params["limit"]["minimum"] == 1 and params["limit"]["maximum"] == 10_000
    states = doc["components"]["schemas"]["NodeState"]["enum"]
    assert "powering_on" in states and "off_error" in states
    assert paths["/healthz"]["get"]["security"] == []
