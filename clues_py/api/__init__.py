"""The local HTTP API of cluesd: the seam between the daemon and its operators.

This module holds what both sides share: the `DaemonControl` protocol the daemon implements
(`clues_py.daemon.control.Control`; the API server only exposes it, it owns no state), the
node operations, address parsing, and the errors. `server.py` serves a `DaemonControl` over
TCP or a Unix socket with uvicorn (`app.py`: the FastAPI routes, `models.py`: the answers,
`guard.py`: token and body limits, `protocol.py`: uvicorn's HTTP protocol adapted,
`history.py`: history queries); `client.py` talks to it
for the `clues` CLI with the standard library only, so that the CLI does not import the
server (import `ApiServer` from `clues_py.api.server`). The routes and JSON shapes are
documented in docs/api.md and served as OpenAPI at GET /v1/openapi.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# Operations an operator may ask for on one node (POST /v1/nodes/{name}/{op}).
NODE_OPS: tuple[str, ...] = ("poweron", "poweroff", "enable", "disable", "resetstate")

DEFAULT_ADDRESS = "127.0.0.1:8484"
DEFAULT_LIMIT = 50
MAX_LIMIT = 10_000


class DaemonControl(Protocol):
    """What cluesd offers to the API server. Every method is required and must be thread-safe
    (the server calls it from one thread per request)."""

    def status(self) -> dict[str, Any]:
        """The whole status document (see docs/cli.md)."""
        ...

    def nodes(self) -> list[dict[str, Any]]:
        """The node dicts, as in `status()["nodes"]`."""
        ...

    def node_op(self, op: str, node: str) -> dict[str, Any]:
        """Apply `op` (one of NODE_OPS) to `node`. Raise KeyError for an unknown node (404) or
        ValueError with an operator-facing message when the op is not allowed now (409)."""
        ...

    def actions(self, node: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` actions, newest first, optionally for one node."""
        ...

    def transitions(self, node: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` lifecycle transitions, newest first, optionally for one node."""
        ...

    def passes(self) -> dict[str, Any]:
        """Timing of the loop's recent passes (see `clues_py.daemon.passes`)."""
        ...


class ApiError(Exception):
    """The daemon answered with an error status; `message` is its `error` field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.message = message


class DaemonUnreachable(Exception):
    """No daemon answered at the address; the message tells the operator what to do."""


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed listen/connect address: TCP `host:port` or a Unix socket path."""

    host: str = ""
    port: int = 0
    unix_path: str = ""

    @property
    def is_unix(self) -> bool:
        return bool(self.unix_path)

    def __str__(self) -> str:
        if self.is_unix:
            return f"unix:{self.unix_path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_address(text: str, *, what: str = "address") -> Address:
    """Parse `HOST:PORT`, `http://HOST:PORT`, `[::1]:PORT` or `unix:/path/to.sock`.

    Raises ValueError naming `what` and the accepted forms."""
    raw = text.strip()
    hint = f"use HOST:PORT (e.g. {DEFAULT_ADDRESS}) or unix:/path/to/cluesd.sock"
    if raw.startswith("unix:"):
        path = raw[len("unix:") :]
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise ValueError(f"{what} {text!r} has no socket path: {hint}")
        return Address(unix_path=path)
    if raw.startswith("https://"):
        raise ValueError(f"{what} {text!r}: https is not supported by the local API; {hint}")
    if raw.startswith("http://"):
        raw = raw[len("http://") :].rstrip("/")
    if raw.startswith("["):
        host, sep, port_text = raw[1:].partition("]:")
    else:
        host, sep, port_text = raw.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{what} {text!r} is not HOST:PORT: {hint}")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{what} {text!r} has a bad port {port_text!r}: {hint}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"{what} {text!r}: port {port} is out of range 0-65535")
    return Address(host=host, port=port)


from clues_py.api.client import ApiClient  # noqa: E402  (re-export; client needs the above)

__all__ = [
    "DEFAULT_ADDRESS",
    "NODE_OPS",
    "Address",
    "ApiClient",
    "ApiError",
    "DaemonControl",
    "DaemonUnreachable",
    "parse_address",
]
