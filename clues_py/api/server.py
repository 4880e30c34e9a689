"""Serving the local API with uvicorn, over TCP or a Unix socket, from a background thread.

`ApiServer` binds the socket itself (so a taken port or a live socket fails at once, and port
0 tells its real port), creates a Unix socket with mode 0660 from the start, refuses to
touch a live socket or a file that is not one, and runs uvicorn on it in a thread with its
own event loop. The HTTP protocol is uvicorn's h11 one with two changes: a malformed request
gets a JSON 400 like every other error, and a client that connects but never completes a
request is dropped after `timeout_keep_alive`. Routes are `app.py`'s, the token and body
limits `guard.py`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from clues_py.api import Address, DaemonControl, parse_address
from clues_py.api.app import build_app
from clues_py.api.guard import Guard

log = logging.getLogger("clues_py.api")

# Unix socket paths longer than this do not fit in sockaddr_un on Linux.
MAX_UNIX_PATH = 107
# A connection with no complete request this long after it opened or after its last answer
# is closed.
IDLE_TIMEOUT = 5
START_TIMEOUT = 15.0


class _Protocol(H11Protocol):
    """uvicorn's h11 protocol; malformed requests get the API's JSON error shape."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._arm_deadline()

    def _arm_deadline(self) -> None:
        """Until the next request's headers are complete (a new cycle), at most
        timeout_keep_alive seconds: uvicorn's own timer restarts on every byte, so a client
        sending a byte now and then could hold the connection forever."""
        if self._deadline is not None:
            self._deadline.cancel()
        waiting_for = self.cycle
        self._deadline = self.loop.call_later(
            self.timeout_keep_alive, self._drop_if_no_request, waiting_for
        )

    def _drop_if_no_request(self, waiting_for: object) -> None:
        if self.cycle is waiting_for and not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": f"malformed HTTP request: {msg}", "code": 400}).encode()
        head = (
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body) + 1).encode() + b"\r\n\r\n"
        )
        self.transport.write(head + body + b"\n")
        self.transport.close()


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
        self._listen = parse_address(listen, what="daemon.listen")
        token = read_token_file(token_file) if token_file else None
        self._app = Guard(build_app(control), token)
        self._token = token
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.address = str(self._listen)

    def start(self) -> None:
        """Bind and serve in a daemon thread; `.address` then tells the real address."""
        if self._server is not None:
            raise RuntimeError("ApiServer already started")
        sock = self._bind_unix(self._listen.unix_path) if self._listen.is_unix else self._bind_tcp()
        config = uvicorn.Config(
            self._app,
            http=_Protocol,
            loop="asyncio",
            lifespan="off",
            ws="none",
            interface="asgi3",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=IDLE_TIMEOUT,
            timeout_graceful_shutdown=3,
        )
        # uvicorn says at INFO that it started and stopped; cluesd says that itself.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="clues-api", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"the API server on {self.address} did not start")
            time.sleep(0.01)
        self._server, self._thread = server, thread
        log.info("API listening on %s%s", self.address, " (token required)" if self._token else "")

    def _bind_tcp(self) -> socket.socket:
        host, port = self._listen.host, self._listen.port
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot listen on {self._listen}: {exc.strerror}") from exc
        sock.listen(128)
        bound_host, bound_port = sock.getsockname()[:2]
        self.address = str(Address(host=str(bound_host), port=int(bound_port)))
        return sock

    def _bind_unix(self, path: str) -> socket.socket:
        if len(os.fsencode(path)) > MAX_UNIX_PATH:
            raise ValueError(f"unix socket path {path} is longer than {MAX_UNIX_PATH} bytes")
        parent = Path(path).parent
        if not parent.is_dir():
            raise ValueError(f"unix socket directory {parent} does not exist; create it first")
        _remove_stale_socket(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Created with 0660 from the start, so no moment where others could connect.
        old_umask = os.umask(0o117)
        try:
            sock.bind(path)
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o660)
        sock.listen(128)
        return sock

    def stop(self) -> None:
        """Stop serving, close the socket and remove a Unix socket file. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
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
