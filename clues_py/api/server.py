"""Serving the local API with uvicorn, over TCP or a Unix socket, from a background thread.

`ApiServer` binds the socket itself (so a taken port or a live socket fails at once, and port
0 tells its real port), creates a Unix socket with mode 0660 from the start, refuses to
touch a live socket or a file that is not one, and runs uvicorn on it in a thread with its
own event loop. Binding (`bind()`) needs only the standard library; uvicorn and FastAPI are
imported by `start()`, so cluesd can bind, sync and make its first pass before it imports
the web stack (decisions 0023, 0028). The HTTP protocol is `protocol.py`'s,
routes are `app.py`'s, the token and body limits `guard.py`'s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from clues_py.api import Address, DaemonControl, parse_address

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("clues_py.api")

# Unix socket paths longer than this do not fit in sockaddr_un on Linux.
MAX_UNIX_PATH = 107
# A connection with no complete request this long after it opened or after its last answer
# is closed.
IDLE_TIMEOUT = 5
START_TIMEOUT = 15.0


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
        self._token = read_token_file(token_file) if token_file else None
        self._control = control
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.address = str(self._listen)

    def bind(self) -> None:
        """Bind and listen now (errors at once, `.address` tells a port 0's real port); until
        `start()` serves, clients that connect wait in the listen backlog, not refused.
        Cheap: cluesd binds before its initial sync and imports the HTTP stack after."""
        if self._sock is None:
            self._sock = (
                self._bind_unix(self._listen.unix_path)
                if self._listen.is_unix
                else self._bind_tcp()
            )

    def start(self) -> None:
        """Bind (unless `bind()` did) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("ApiServer already started")
        # The web stack costs seconds to import on a loaded machine: only when serving.
        import uvicorn

        from clues_py.api.app import build_app
        from clues_py.api.guard import Guard
        from clues_py.api.protocol import Protocol

        self.bind()
        sock = self._sock
        assert sock is not None
        config = uvicorn.Config(
            Guard(build_app(self._control), self._token),
            http=Protocol,
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
                self._sock = None
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
        sock, self._sock = self._sock, None
        if server is None and sock is None:
            return
        if server is not None:
            server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=10)
        elif sock is not None:  # bound, never served
            sock.close()
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
