"""What every request passes before the routes: the bearer token, and a bounded body.

An ASGI middleware in front of the FastAPI app (`app.py`): on a TCP listener every path but
/healthz needs `Authorization: Bearer <token>` (401 otherwise, before anything is read); the
body is read whole, at most MAX_BODY_BYTES (413) within BODY_TIMEOUT seconds (408: a
Content-Length larger than what arrives costs half a second, not a worker), and JSON nested
deeper than MAX_JSON_DEPTH is refused (400) before any parser recurses into it. Trailing
slashes are ignored. Answers are JSON `{"error", "code"}` with every known secret value
scrubbed (`encode`, shared with the app). Routing and what the answers mean are the app's.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from clues_py.redact import SCRUBBER

MAX_BODY_BYTES = 1 << 20
BODY_TIMEOUT = 0.5
MAX_JSON_DEPTH = 32
UNAUTHORIZED = (
    "missing or wrong token: send 'Authorization: Bearer <token>' "
    "(clues: --token-file or CLUES_TOKEN_FILE)"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_TOKENS = re.compile(rb'"(?:\\.|[^"\\])*"|[\[\]{}]')


def encode(body: Any) -> bytes:
    """JSON of an answer, one line; no known secret value leaves the daemon, whatever
    carried it here (defence in depth behind the redaction of each field)."""
    return (SCRUBBER.scrub(json.dumps(body, default=str)) + "\n").encode()


def too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `raw` nests arrays and objects deeper than `limit` (strings skipped), found
    without parsing it and stopping as soon as it is."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for m in _TOKENS.finditer(raw):
        tok = m.group()
        if tok in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif tok in (b"]", b"}"):
            depth -= 1
    return False


async def reply(send: Send, code: int, message: str, headers: dict[str, str] | None = None) -> None:
    """An error answer; the connection closes after it (the request may be half read)."""
    data = encode({"error": message, "code": code})
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"no-store"),
        (b"connection", b"close"),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": code, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class _TooLarge(Exception):
    pass


class Guard:
    """The middleware; `token` None means no authentication (the Unix socket)."""

    def __init__(self, app: App, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if self.token is not None and scope["path"] != "/healthz":
            scheme, _, given = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
            ok = scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode("latin-1"), self.token.encode()
            )
            if not ok:
                await reply(send, 401, UNAUTHORIZED, {"WWW-Authenticate": 'Bearer realm="cluesd"'})
                return
        length = headers.get(b"content-length", b"0")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            await reply(send, 413, f"request body over {MAX_BODY_BYTES} bytes")
            return
        try:
            body = await asyncio.wait_for(self._read(receive), BODY_TIMEOUT)
        except TimeoutError:
            await reply(send, 408, f"request body not received within {BODY_TIMEOUT} s "
                        "(is Content-Length larger than the body?)")  # fmt: skip
            return
        except _TooLarge:
            await reply(send, 413, f"request body over {MAX_BODY_BYTES} bytes")
            return
        if body and too_deep(body):
            await reply(send, 400, f"request body nested deeper than {MAX_JSON_DEPTH} levels")
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _read(receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then waits for disconnect."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
