"""uvicorn's h11 HTTP protocol with the two changes the local API needs.

A malformed request gets a JSON 400 like every other error, and a client that connects but
never completes a request is dropped after `timeout_keep_alive` (uvicorn's own timer
restarts on every byte). Imported by `server.py` only when the server starts: uvicorn is
not needed to bind the socket.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


class Protocol(H11Protocol):
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
