"""Client for the local cluesd API, over TCP or a Unix socket (stdlib http.client).

It turns transport failures into `DaemonUnreachable` with a message an operator can act on,
and error answers into `ApiError`. Rendering and exit codes are the CLI's business.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote, urlencode

from clues_py.api import DEFAULT_LIMIT, ApiError, DaemonUnreachable, parse_address

_START_HINT = (
    "Is it running? Start it with `systemctl start cluesd` or "
    "`cluesd -c /etc/clues/clues.yaml`; point the CLI elsewhere with --address or CLUES_ADDRESS."
)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class ApiClient:
    """Talks to cluesd at `address` (`host:port`, `http://host:port` or `unix:/path`)."""

    def __init__(self, address: str, token: str | None = None, timeout: float = 5) -> None:
        self._address = parse_address(address, what="--address")
        self.address = str(self._address)
        self._token = token
        self._timeout = timeout

    # ------------------------------------------------------------------ API
    def health(self) -> dict[str, Any]:
        return self._request("GET", "/healthz")  # type: ignore[no-any-return]

    def status(self) -> dict[str, Any]:
        return self._request("GET", "/v1/status")  # type: ignore[no-any-return]

    def passes(self) -> dict[str, Any]:
        return self._request("GET", "/v1/passes")  # type: ignore[no-any-return]

    def nodes(self) -> list[dict[str, Any]]:
        return self._request("GET", "/v1/nodes")  # type: ignore[no-any-return]

    def node(self, name: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/nodes/{quote(name, safe='')}")  # type: ignore[no-any-return]

    def explain(self, kind: str, name: str) -> dict[str, Any]:
        """`kind` "pod" (name "ns/name" or "job:ns/name") or "node"."""
        if kind == "pod":
            ns, _, pod = name.partition("/")
            path = f"/v1/explain/pod/{quote(ns, safe=':')}/{quote(pod, safe='')}"
        else:
            path = f"/v1/explain/node/{quote(name, safe='')}"
        return self._request("GET", path)  # type: ignore[no-any-return]

    def node_op(self, op: str, node: str) -> dict[str, Any]:
        path = f"/v1/nodes/{quote(node, safe='')}/{quote(op, safe='')}"
        return self._request("POST", path, body={})  # type: ignore[no-any-return]

    def actions(
        self,
        node: str | None = None,
        limit: int = DEFAULT_LIMIT,
        since: float | None = None,
        kinds: tuple[str, ...] = (),
    ) -> list[dict[str, Any]]:
        """Newest first; `kinds` filters by action kind, `since` is epoch seconds."""
        path = "/v1/actions" + _query(node, limit, since, kinds)
        return self._request("GET", path)  # type: ignore[no-any-return]

    def transitions(
        self,
        node: str | None = None,
        limit: int = DEFAULT_LIMIT,
        since: float | None = None,
        kinds: tuple[str, ...] = (),
    ) -> list[dict[str, Any]]:
        """Newest first; `kinds` filters by the state entered, `since` is epoch seconds."""
        path = "/v1/transitions" + _query(node, limit, since, kinds)
        return self._request("GET", path)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ transport
    def _connection(self) -> http.client.HTTPConnection:
        if self._address.is_unix:
            return _UnixHTTPConnection(self._address.unix_path, self._timeout)
        return http.client.HTTPConnection(
            self._address.host, self._address.port, timeout=self._timeout
        )

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = self._connection()
        try:
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except TimeoutError:
                raise self._unreachable(f"timed out after {self._timeout:g}s") from None
            except ConnectionRefusedError:
                raise self._unreachable("connection refused") from None
            except FileNotFoundError:
                raise self._unreachable("no socket file there") from None
            except PermissionError:
                raise self._unreachable(
                    "permission denied on the socket; run as a member of its group"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                raise self._unreachable(str(exc) or type(exc).__name__) from None
        finally:
            conn.close()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        if resp.status >= 400:
            message = payload.get("error") if isinstance(payload, dict) else None
            raise ApiError(resp.status, str(message or resp.reason or "error"))
        if payload is None:
            raise ApiError(resp.status, f"{self.address} answered with something that is not JSON")
        return payload

    def _unreachable(self, why: str) -> DaemonUnreachable:
        return DaemonUnreachable(f"cannot reach cluesd at {self.address} ({why}). {_START_HINT}")


def _query(
    node: str | None, limit: int, since: float | None = None, kinds: tuple[str, ...] = ()
) -> str:
    params: dict[str, str | int | float] = {"limit": limit}
    if node:
        params["node"] = node
    if since is not None:
        params["since"] = since
    if kinds:
        params["kind"] = ",".join(kinds)
    return "?" + urlencode(params)
