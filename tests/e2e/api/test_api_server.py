"""Every route of the cluesd HTTP API over real sockets: TCP, Unix socket, token auth, errors."""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
from api_fakes import FakeControl

from clues_py.api import ApiClient, ApiError, DaemonUnreachable, parse_address
from clues_py.api.server import ApiServer

pytestmark = pytest.mark.e2e


def raw(
    server: ApiServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    """One request with http.client, so the tests see exactly what goes over the wire."""
    addr = parse_address(server.address)
    conn = http.client.HTTPConnection(addr.host, addr.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        assert resp.getheader("Content-Type") == "application/json"
        return resp.status, resp.headers, json.loads(data)  # headers: case-insensitive
    finally:
        conn.close()


def test_tcp_port_zero_reports_real_address(tcp_server: ApiServer) -> None:
    addr = parse_address(tcp_server.address)
    assert addr.host == "127.0.0.1" and addr.port > 0


def test_healthz_and_status(tcp_server: ApiServer) -> None:
    assert raw(tcp_server, "GET", "/healthz")[0::2] == (200, {"ok": True})
    code, _, body = raw(tcp_server, "GET", "/v1/status")
    assert code == 200
    assert body["cluster"] == "clues" and body["pending"]["pods"] == 3
    assert [n["name"] for n in body["nodes"]][:3] == ["wn-1", "wn-2", "wn-3"]


def test_nodes_and_one_node(tcp_server: ApiServer) -> None:
    client = ApiClient(tcp_server.address)
    assert len(client.nodes()) == 4
    assert client.node("wn-2")["state"] == "idle"
    assert client.node("wn odd name")["provider_id"] == "sim://wn odd name"
    with pytest.raises(ApiError) as err:
        client.node("nope")
    assert err.value.status == 404 and "unknown node 'nope'" in err.value.message


def test_node_ops_change_state_and_history(tcp_server: ApiServer) -> None:
    client = ApiClient(tcp_server.address)
    assert client.node_op("poweron", "wn-3")["state"] == "powering_on"
    assert client.node_op("poweroff", "wn-2")["state"] == "draining"
    assert client.node_op("disable", "wn-1")["enabled"] is False
    assert client.node_op("enable", "wn-1")["enabled"] is True
    assert client.node_op("poweron", "wn odd name")["state"] == "powering_on"
    actions = client.actions()
    assert [a["node"] for a in actions] == ["wn odd name", "wn-3"]  # newest first
    assert [a["node"] for a in client.actions(node="wn-3")] == ["wn-3"]
    assert len(client.actions(limit=1)) == 1
    trans = client.transitions(node="wn-2")
    assert [(t["old"], t["new"]) for t in trans] == [("idle", "draining")]


def test_op_conflict_is_409_with_message(tcp_server: ApiServer) -> None:
    code, _, body = raw(tcp_server, "POST", "/v1/nodes/wn-1/poweron")
    assert code == 409
    assert body == {"error": "wn-1 is used; only an off node can be powered on", "code": 409}


def test_op_unknown_node_and_unknown_op_are_404(tcp_server: ApiServer) -> None:
    code, _, body = raw(tcp_server, "POST", "/v1/nodes/ghost/poweron")
    assert (code, body["code"]) == (404, 404) and "ghost" in body["error"]
    code, _, body = raw(tcp_server, "POST", "/v1/nodes/wn-1/explode")
    assert code == 404 and "poweron" in body["error"]  # lists the valid ones


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v1/status", "GET"),
        ("DELETE", "/v1/nodes", "GET"),
        ("GET", "/v1/nodes/wn-1/poweron", "POST"),
        ("PUT", "/v1/actions", "GET"),
    ],
)
def test_wrong_method_is_405_with_allow(
    tcp_server: ApiServer, method: str, path: str, allowed: str
) -> None:
    code, headers, body = raw(tcp_server, method, path)
    assert code == 405 and body["code"] == 405
    assert headers["Allow"] == allowed


def test_head_on_the_openapi_document_is_405(tcp_server: ApiServer) -> None:
    addr = parse_address(tcp_server.address)
    conn = http.client.HTTPConnection(addr.host, addr.port, timeout=5)
    conn.request("HEAD", "/v1/openapi.json")  # starlette's own route would take HEAD
    resp = conn.getresponse()
    assert resp.status == 405 and resp.headers["Allow"] == "GET"
    conn.close()


@pytest.mark.parametrize("path", ["/", "/v1", "/v2/status", "/v1/status/extra", "/v1/nodes/a/b/c"])
def test_unknown_routes_are_404(tcp_server: ApiServer, path: str) -> None:
    code, _, body = raw(tcp_server, "GET", path)
    assert code == 404 and body["code"] == 404 and body["error"]


@pytest.mark.parametrize(
    ("body", "needle"), [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object")]
)
def test_bad_json_body_is_400(
    tcp_server: ApiServer, control: FakeControl, body: bytes, needle: str
) -> None:
    code, _, resp = raw(
        tcp_server,
        "POST",
        "/v1/nodes/wn-3/poweron",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert code == 400 and needle in resp["error"]
    assert control.nodes()[2]["state"] == "off"  # nothing happened


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=10001"])
def test_bad_limit_is_400(tcp_server: ApiServer, query: str) -> None:
    code, _, body = raw(tcp_server, "GET", f"/v1/actions?{query}")
    assert code == 400 and "limit" in body["error"]


def test_internal_error_is_500_without_traceback(
    tcp_server: ApiServer, control: FakeControl, caplog: pytest.LogCaptureFixture
) -> None:
    control.fail_with = RuntimeError("database is on fire at /secret/path")
    with caplog.at_level(logging.ERROR, logger="clues_py.api"):
        code, _, body = raw(tcp_server, "GET", "/v1/status")
    assert code == 500
    assert body == {"error": "internal error (RuntimeError); see the cluesd log", "code": 500}
    # The details go to the log, not to the client.
    assert any("database is on fire" in (r.exc_text or "") for r in caplog.records)


# ---------------------------------------------------------------------- token auth
def test_token_required(token_server: ApiServer) -> None:
    code, headers, body = raw(token_server, "GET", "/v1/status")
    assert code == 401 and body["code"] == 401 and "Bearer" in headers["WWW-Authenticate"]
    code, _, _ = raw(token_server, "GET", "/v1/status", headers={"Authorization": "Bearer wrong"})
    assert code == 401
    code, _, _ = raw(
        token_server, "GET", "/v1/status", headers={"Authorization": "Basic s3cret-token"}
    )
    assert code == 401
    code, _, body = raw(
        token_server, "GET", "/v1/status", headers={"Authorization": "Bearer s3cret-token"}
    )
    assert code == 200 and body["cluster"] == "clues"
    # Liveness probes need no token.
    assert raw(token_server, "GET", "/healthz")[0] == 200


def test_token_on_post_and_client(token_server: ApiServer, control: FakeControl) -> None:
    with pytest.raises(ApiError) as err:
        ApiClient(token_server.address).node_op("poweron", "wn-3")
    assert err.value.status == 401
    assert control.nodes()[2]["state"] == "off"
    assert (
        ApiClient(token_server.address, token="s3cret-token").node_op("poweron", "wn-3")["state"]
        == "powering_on"
    )


def test_empty_or_missing_token_file_is_refused(control: FakeControl, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    with pytest.raises(ValueError, match="empty"):
        ApiServer(control, "127.0.0.1:0", token_file=str(empty))
    with pytest.raises(ValueError, match="missing"):
        ApiServer(control, "127.0.0.1:0", token_file=str(tmp_path / "missing"))


# ---------------------------------------------------------------------- unix socket
def test_unix_socket_serves_with_0660_and_cleans_up(control: FakeControl, sock_path: Path) -> None:
    server = ApiServer(control, f"unix:{sock_path}")
    server.start()
    try:
        mode = os.stat(sock_path).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
        client = ApiClient(server.address)
        assert server.address == f"unix:{sock_path}"
        assert client.status()["cluster"] == "clues"
        assert client.node_op("poweron", "wn-3")["state"] == "powering_on"
        with pytest.raises(ApiError) as err:
            client.node_op("poweron", "wn-3")
        assert err.value.status == 409
    finally:
        server.stop()
    assert not sock_path.exists()
    server.stop()  # idempotent


def test_stale_socket_is_replaced(control: FakeControl, sock_path: Path) -> None:
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sock_path))
    dead.close()  # the file stays, nobody listens: what a crashed daemon leaves
    assert sock_path.exists()
    with ApiServer(control, f"unix:{sock_path}") as server:
        assert ApiClient(server.address).health() == {"ok": True}


def test_live_socket_and_regular_file_are_not_touched(
    unix_server: ApiServer, control: FakeControl, tmp_path: Path, sock_path: Path
) -> None:
    with pytest.raises(ValueError, match="already running"):
        ApiServer(control, f"unix:{sock_path}").start()
    assert ApiClient(unix_server.address).health() == {"ok": True}
    plain = tmp_path / "not-a-socket"
    plain.write_text("keep me")
    with pytest.raises(ValueError, match="not a socket"):
        ApiServer(control, f"unix:{plain}").start()
    assert plain.read_text() == "keep me"
    with pytest.raises(ValueError, match="does not exist"):
        ApiServer(control, f"unix:{tmp_path}/no/such/dir.sock").start()


# ---------------------------------------------------------------------- client errors
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_client_unreachable_messages(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(DaemonUnreachable) as err:
        ApiClient(f"127.0.0.1:{port}").status()
    msg = str(err.value)
    assert msg.startswith(
        f"cannot reach cluesd at 127.0.0.1:{port} (connection refused). Is it running?"
    )
    assert "systemctl start cluesd" in msg and "CLUES_ADDRESS" in msg
    with pytest.raises(DaemonUnreachable, match="no socket file there"):
        ApiClient(f"unix:{tmp_path}/none.sock").status()


def test_client_times_out_on_silent_server() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts in the kernel, never answers
        port = listener.getsockname()[1]
        with pytest.raises(DaemonUnreachable, match=r"timed out after 0.2s"):
            ApiClient(f"http://127.0.0.1:{port}", timeout=0.2).status()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8484", "127.0.0.1:8484"),
        ("http://localhost:80/", "localhost:80"),
        ("[::1]:8484", "[::1]:8484"),
        ("unix:/run/clues/cluesd.sock", "unix:/run/clues/cluesd.sock"),
    ],
)
def test_parse_address(text: str, expected: str) -> None:
    assert str(parse_address(text)) == expected


@pytest.mark.parametrize(
    "bad", ["8484", "localhost", "host:http", "host:70000", "unix:", "https://h:1"]
)
def test_parse_address_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT|https|out of range|socket path"):
        parse_address(bad)


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "HEAD", "PATCH", "BREW"])
def test_unsupported_methods_are_405_and_garbage_gets_json(
    tcp_server: ApiServer, method: str
) -> None:
    addr = parse_address(tcp_server.address)
    conn = http.client.HTTPConnection(addr.host, addr.port, timeout=5)
    conn.request(method, "/v1/status")
    resp = conn.getresponse()
    assert resp.status == 405 and resp.headers["Allow"] == "GET"
    data = resp.read()
    assert method == "HEAD" or json.loads(data)["code"] == 405
    conn.close()
    addr = parse_address(tcp_server.address)
    with socket.create_connection((addr.host, addr.port), timeout=5) as s:
        s.sendall(b"GET /v1/status HTTP/1.1 extra words\r\n\r\n")
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(payload)["code"] == 400


def test_a_client_connecting_between_bind_and_start_is_answered_not_refused(
    control: FakeControl, sock_path: Path
) -> None:
    """cluesd binds its socket before the initial sync and serves after importing the web
    stack (decision 0023): a client in between is queued in the backlog, not refused, and
    gets its answer once the server runs. A bound socket never served is closed by stop()."""
    server = ApiServer(control, f"unix:{sock_path}")
    server.bind()
    try:
        assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o660
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as early:
            early.settimeout(10)
            early.connect(str(sock_path))  # accepted by the kernel: nothing serves yet
            early.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            server.start()
            answer = b""
            while chunk := early.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and json.loads(body) == {"ok": True}
    finally:
        server.stop()
    assert not sock_path.exists()

    unserved = ApiServer(control, "127.0.0.1:0")
    unserved.bind()
    port = parse_address(unserved.address).port
    assert port > 0
    unserved.stop()
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))
