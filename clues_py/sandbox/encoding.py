"""How the sandbox API server writes its answers: JSON or protobuf, as the client's Accept asks.

Handlers produce one of three things: a dict, the stored JSON encoding of one object (bytes), or
a `ListBody` of stored encodings. `encode_response` turns it into (content type, body) after
negotiating the media type with `protobuf.negotiate`; the JSON path never decodes what the store
already encoded. `watch_encoder` does the same for each watch event. The HTTP side (headers,
chunks) stays in `httpio.py`, the protobuf details in `protobuf/`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from clues_py.sandbox import protobuf

log = logging.getLogger("clues_py.sandbox.server")

Obj = dict[str, Any]
JSON = "application/json"


class ListBody:
    """A list response kept in pieces: joining 100 MB of items costs more than sending them."""

    def __init__(self, head: Obj, items: list[bytes]) -> None:
        self.head = head  # kind, apiVersion and metadata of the list
        self.items = items
        self._open = json.dumps(head)[:-1].encode() + b',"items":['

    def __len__(self) -> int:
        n = len(self.items)
        return len(self._open) + 3 + sum(map(len, self.items)) + max(n - 1, 0)

    def chunks(self, batch: int = 2000) -> Iterator[bytes]:
        yield self._open
        for i in range(0, len(self.items), batch):
            yield (b"," if i else b"") + b",".join(self.items[i : i + batch])
        yield b"]}\n"

    def document(self) -> Obj:
        return {**self.head, "items": [json.loads(r) for r in self.items]}


Body = Obj | bytes | ListBody


def _document(body: Body) -> Obj:
    if isinstance(body, ListBody):
        return body.document()
    if isinstance(body, bytes):
        return dict(json.loads(body))
    return body


def _kind_of(body: Body) -> Obj:
    if isinstance(body, ListBody):
        return body.head
    if isinstance(body, bytes):
        return {}  # stored objects of built-in kinds; decided on the decoded object below
    return body


def encode_response(accept: str | None, body: Body) -> tuple[str, bytes | ListBody]:
    """(Content-Type, payload) for `body`; protobuf only when asked and the kind has a message."""
    head = _kind_of(body)
    possible = isinstance(body, bytes) or protobuf.can_encode(head)
    if protobuf.negotiate(accept, possible) == protobuf.MEDIA_TYPE:
        doc = _document(body)
        try:
            return protobuf.MEDIA_TYPE, protobuf.encode(doc)
        except protobuf.ProtobufError as e:
            # A kind without a message (a CRD) or a stored value Go could not hold: JSON is
            # always acceptable to Kubernetes clients, so answer in it rather than fail.
            log.debug("sandbox API: answering JSON, protobuf not possible: %s", e)
    # Compact, one document per line: what Go's json.Encoder writes (clients compare Status
    # bodies as text).
    if isinstance(body, ListBody):
        return JSON, body
    if isinstance(body, bytes):
        return JSON, body + b"\n"
    return JSON, json.dumps(body, separators=(",", ":")).encode() + b"\n"


def watch_encoder(accept: str | None, kind: Obj) -> tuple[str, Callable[[str, bytes], bytes]]:
    """(Content-Type, frame(type, raw object)) for a watch of objects shaped like `kind`."""
    if protobuf.negotiate(accept, protobuf.can_encode(kind)) == protobuf.MEDIA_TYPE:

        def proto_frame(type_: str, raw: bytes) -> bytes:
            return protobuf.watch_frame(type_, json.loads(raw))

        return protobuf.WATCH_MEDIA_TYPE, proto_frame

    def json_frame(type_: str, raw: bytes) -> bytes:
        return b'{"type":"' + type_.encode() + b'","object":' + raw + b"}\n"

    return JSON, json_frame
