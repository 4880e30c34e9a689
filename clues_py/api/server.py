"""HTTP server for the local cluesd API (stdlib only), over TCP or a Unix socket.

It maps routes onto a `DaemonControl`, turns bad input into JSON errors (400/401/404/405/409/
413) and never leaks a traceback (500 with a short message; the traceback goes to the log).
It owns no state: what the answers mean is the daemon's business. Routes are listed in
docs/cli.md.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import socket
import socketserver
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import clues_py
from clues_py.api import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    NODE_OPS,
    Address,
    DaemonControl,
    parse_address,
)
from clues_py.redact import SCRUBBER

log = logging.getLogger("clues_py.api")

MAX_BODY_BYTES = 1 << 20
# Unix socket paths longer than this do not fit in sockaddr_un on Linux.
MAX_UNIX_PATH = 107


class _HttpError(Exception):
    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


class _TcpServer(ThreadingHTTPServer):
    daemon_threads = True
    control: DaemonControl
    token: str | None

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a DNS lookup that can hang without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Tcp6Server(_TcpServer):
    address_family = socket.AF_INET6


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    control: DaemonControl
    token: str | None


class _Handler(BaseHTTPRequestHandler):
    server_version = f"cluesd/{clues_py.__version__}"
    # A client that connects and says nothing must not hold a thread forever.
    timeout = 30
    # Only ApiServer builds this handler, always on one of these servers (the stdlib
    # declares the wider BaseServer, which lacks `control` and `token`).
    server: _TcpServer | _UnixServer

    # ------------------------------------------------------------------ plumbing
    def address_string(self) -> str:
        # Unix socket peers have no (host, port); the stdlib would index an empty string.
        if isinstance(self.client_address, tuple) and self.client_address:
            return str(self.client_address[0])
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The stdlib answers malformed requests and unknown methods with HTML; keep it JSON.
        self.close_connection = True
        # A request line too broken to parse leaves HTTP/0.9, which would drop status and headers.
        if not str(getattr(self, "request_version", "")).startswith("HTTP/1"):
            self.request_version = "HTTP/1.0"
        text = message or self.responses.get(code, ("error",))[0]
        with contextlib.suppress(OSError):
            self._send(code, {"error": text, "code": code}, {"Connection": "close"})

    def _send(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        # Defence in depth: no known secret value leaves the daemon, whatever carried it here.
        data = (SCRUBBER.scrub(json.dumps(body, default=str)) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            path = url.path.rstrip("/") or "/"
            if path != "/healthz":
                self._check_auth()
            code, body = self._route(method, path, parse_qs(url.query))
            self._send(code, body)
        except _HttpError as exc:
            self._send(exc.code, {"error": exc.message, "code": exc.code}, exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client went away during %s %s", method, self.path)
        except Exception as exc:
            log.exception("API %s %s failed", method, self.path)
            msg = f"internal error ({type(exc).__name__}); see the cluesd log"
            with contextlib.suppress(OSError):
                self._send(500, {"error": msg, "code": 500})

    def _check_auth(self) -> None:
        token = self.server.token
        if token is None:
            return
        header = self.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
        if not ok:
            raise _HttpError(
                401,
                "missing or wrong token: send 'Authorization: Bearer <token>' "
                "(clues: --token-file or CLUES_TOKEN_FILE)",
                {"WWW-Authenticate": 'Bearer realm="cluesd"'},
            )

    def _read_json_body(self) -> dict[str, Any]:
        length_text = self.headers.get("Content-Length") or "0"
        try:
            length = int(length_text)
        except ValueError:
            raise _HttpError(400, f"bad Content-Length {length_text!r}") from None
        if length > MAX_BODY_BYTES:
            raise _HttpError(413, f"request body over {MAX_BODY_BYTES} bytes")
        if length <= 0:
            return {}
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _HttpError(400, f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _HttpError(400, "request body must be a JSON object")
        return body

    # ------------------------------------------------------------------ routes
    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        control = self.server.control
        parts = [unquote(p) for p in path.strip("/").split("/")] if path != "/" else []

        def allow(*methods: str) -> None:
            if method not in methods:
                raise _HttpError(
                    405,
                    f"method {method} not allowed on {path}; use {', '.join(methods)}",
                    {"Allow": ", ".join(methods)},
                )

        if parts == ["healthz"]:
            allow("GET")
            return 200, {"ok": True}
        if parts[:1] != ["v1"] or len(parts) < 2:
            raise _HttpError(404, f"no route {path}; see docs/cli.md for the API")
        resource, rest = parts[1], parts[2:]
        if resource == "openapi.json" and not rest:
            allow("GET")
            from clues_py.api.openapi import openapi_document

            return 200, openapi_document(clues_py.__version__)
        if resource == "status" and not rest:
            allow("GET")
            return 200, control.status()
        if resource == "nodes" and not rest:
            allow("GET")
            return 200, control.nodes()
        if resource == "passes" and not rest:
            allow("GET")
            return 200, control.passes()
        if resource == "nodes" and len(rest) == 1:
            allow("GET")
            for row in control.nodes():
                if row.get("name") == rest[0]:
                    return 200, row
            raise _HttpError(404, f"unknown node {rest[0]!r}")
        if resource == "nodes" and len(rest) == 2:
            allow("POST")
            name, op = rest
            if op not in NODE_OPS:
                raise _HttpError(404, f"unknown operation {op!r}; use one of {', '.join(NODE_OPS)}")
            self._read_json_body()  # no options yet, but a malformed body is still an error
            try:
                return 200, control.node_op(op, name)
            except KeyError:
                raise _HttpError(404, f"unknown node {name!r}") from None
            except ValueError as exc:
                raise _HttpError(409, str(exc) or f"{op} not allowed on {name} now") from None
        if resource == "explain":
            allow("GET")
            return 200, _explain(control, rest)
        if resource in ("actions", "transitions") and not rest:
            allow("GET")
            node, limit = _history_query(query)
            return 200, _history(control, resource, node, limit, *_history_filters(query))
        raise _HttpError(404, f"no route {path}; see docs/cli.md for the API")


def _explain(control: DaemonControl, rest: list[str]) -> Any:
    """GET /v1/explain/pod/{namespace}/{name} and /v1/explain/node/{name}."""
    if rest[:1] == ["pod"] and len(rest) == 3:
        kind, name = "pod", f"{rest[1]}/{rest[2]}"
    elif rest[:1] == ["node"] and len(rest) == 2:
        kind, name = "node", rest[1]
    else:
        raise _HttpError(404, "use /v1/explain/pod/{namespace}/{name} or /v1/explain/node/{name}")
    explain = getattr(control, "explain", None)  # optional in DaemonControl
    if explain is None:
        raise _HttpError(404, "this daemon does not keep explanations")
    try:
        return explain(kind, name)
    except KeyError:
        raise _HttpError(404, f"unknown node {name!r}") from None


def _history_query(query: dict[str, list[str]]) -> tuple[str | None, int]:
    node = (query.get("node") or [""])[-1] or None
    limit_text = (query.get("limit") or [""])[-1]
    if not limit_text:
        return node, DEFAULT_LIMIT
    try:
        limit = int(limit_text)
    except ValueError:
        raise _HttpError(400, f"limit={limit_text!r} is not an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _HttpError(400, f"limit={limit} is out of range 1-{MAX_LIMIT}")
    return node, limit


def _history_filters(query: dict[str, list[str]]) -> tuple[float | None, frozenset[str]]:
    """`since` (epoch seconds) and `kind` (comma list, repeatable) of a history query."""
    since_text = (query.get("since") or [""])[-1]
    since = None
    if since_text:
        try:
            since = float(since_text)
        except ValueError:
            raise _HttpError(400, f"since={since_text!r} is not epoch seconds") from None
    kinds = frozenset(k for v in query.get("kind", []) for k in v.split(",") if k)
    return since, kinds


def _history(
    control: DaemonControl,
    resource: str,
    node: str | None,
    limit: int,
    since: float | None,
    kinds: frozenset[str],
) -> list[dict[str, Any]]:
    """Actions (by `kind`) or transitions (by new state), newest first, filtered.

    With filters the daemon's store is asked directly when it has one (SQL `since`);
    otherwise the newest MAX_LIMIT rows are filtered here, which is enough for history
    that the daemon prunes.
    """
    fetch = control.actions if resource == "actions" else control.transitions
    if since is None and not kinds:
        return fetch(node, limit)
    want = MAX_LIMIT if kinds else limit
    store_fetch = getattr(getattr(control, "store", None), resource, None)
    if callable(store_fetch):
        rows = store_fetch(node=node, since=since, limit=want)
    else:
        rows = [r for r in fetch(node, want) if since is None or float(r.get("at", 0)) >= since]
    if kinds:
        field = "kind" if resource == "actions" else "new"
        rows = [r for r in rows if str(r.get(field)) in kinds]
    return list(rows[:limit])


def read_token_file(path: str) -> str:
    """The bearer token in `path` (surrounding whitespace removed); ValueError if unusable."""
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise ValueError(f"token file {path}: {exc.strerror or exc}") from None
    if not token:
        raise ValueError(f"token file {path} is empty; put a random secret in it")
    return token


class ApiServer:
    """Serves a `DaemonControl` on `listen` (`HOST:PORT`, port 0 allowed, or `unix:/path`)."""

    def __init__(self, control: DaemonControl, listen: str, token_file: str | None = None) -> None:
        self._control = control
        self._listen = parse_address(listen, what="daemon.listen")
        self._token = read_token_file(token_file) if token_file else None
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None
        self.address = str(self._listen)

    def start(self) -> None:
        """Bind and serve in a daemon thread; `.address` then tells the real address."""
        if self._server is not None:
            raise RuntimeError("ApiServer already started")
        server: _TcpServer | _UnixServer
        if self._listen.is_unix:
            server = self._bind_unix(self._listen.unix_path)
        else:
            cls = _Tcp6Server if ":" in self._listen.host else _TcpServer
            try:
                server = cls((self._listen.host, self._listen.port), _Handler)
            except OSError as exc:
                raise OSError(
                    exc.errno, f"cannot listen on {self._listen}: {exc.strerror}"
                ) from exc
            host, port = server.server_address[:2]
            self.address = str(Address(host=str(host), port=int(port)))
        server.control = self._control
        server.token = self._token
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="clues-api",
            daemon=True,
        )
        self._thread.start()
        log.info("API listening on %s%s", self.address, " (token required)" if self._token else "")

    def _bind_unix(self, path: str) -> _UnixServer:
        if len(os.fsencode(path)) > MAX_UNIX_PATH:
            raise ValueError(f"unix socket path {path} is longer than {MAX_UNIX_PATH} bytes")
        parent = Path(path).parent
        if not parent.is_dir():
            raise ValueError(f"unix socket directory {parent} does not exist; create it first")
        _remove_stale_socket(path)
        # Created with 0660 from the start, so no moment where others could connect.
        old_umask = os.umask(0o117)
        try:
            server = _UnixServer(path, _Handler)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o660)
        return server

    def stop(self) -> None:
        """Stop serving, close the socket and remove a Unix socket file. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listen.is_unix:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._listen.unix_path)

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _remove_stale_socket(path: str) -> None:
    """Remove a socket file left by a dead daemon; refuse to touch anything else."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ValueError(f"{path} exists and is not a socket; remove it or pick another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1)
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listening: stale
        return
    finally:
        probe.close()
    raise ValueError(f"another process is serving on {path}; is cluesd already running?")
