"""Kubernetes' protobuf media type for the sandbox API server: bodies in, responses out.

kubectl (since 1.32, for its typed clients) and Cluster Autoscaler (by default) send request
bodies as `application/vnd.kubernetes.protobuf`: the magic `k8s\\x00`, then a runtime.Unknown
whose typeMeta names apiVersion/kind and whose raw bytes are the kind's message. They list
protobuf first in Accept, so answers go back the same way when the kind has a message. Watches
answer with `;stream=watch`: each event is a 4-byte big-endian length and a meta.v1.WatchEvent
whose object holds an enveloped object. Message conversion is `codec.py`'s, the message
descriptions `schema.py`'s; which media type a client gets is decided here (`negotiate`).
"""

from __future__ import annotations

from typing import Any

from clues_py.sandbox.protobuf import wire
from clues_py.sandbox.protobuf.codec import ProtobufError, from_json, to_json
from clues_py.sandbox.schema import message_for

__all__ = [
    "MEDIA_TYPE",
    "WATCH_MEDIA_TYPE",
    "ProtobufError",
    "can_encode",
    "decode",
    "encode",
    "negotiate",
    "watch_frame",
]

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
WATCH_MEDIA_TYPE = MEDIA_TYPE + ";stream=watch"
MAGIC = b"k8s\x00"


def decode(body: bytes) -> dict[str, Any]:
    """The object in an enveloped protobuf body, as a JSON-shaped dict with apiVersion/kind."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the protobuf magic number k8s\\x00")
    api_version = kind = ""
    raw = b""
    try:
        for num, _, value in wire.fields(body[len(MAGIC) :]):
            if not isinstance(value, bytes):
                continue
            if num == 1:
                for n, _, v in wire.fields(value):
                    if n == 1 and isinstance(v, bytes):
                        api_version = v.decode()
                    elif n == 2 and isinstance(v, bytes):
                        kind = v.decode()
            elif num == 2:
                raw = value
            elif num == 3 and value:
                raise ProtobufError(f"unsupported content encoding {value.decode()!r}")
    except wire.WireError as e:
        raise ProtobufError(f"runtime.Unknown: {e}") from None
    spec = message_for(api_version, kind)
    if spec is None:
        raise ProtobufError(f"no protobuf description of {kind!r} in {api_version!r}")
    obj = to_json(raw, spec.name)
    if not isinstance(obj, dict):
        raise ProtobufError(f"{kind} is not an object")
    return {"kind": kind, "apiVersion": api_version, **obj}


def can_encode(obj: dict[str, Any]) -> bool:
    return message_for(str(obj.get("apiVersion", "")), str(obj.get("kind", ""))) is not None


def encode(obj: dict[str, Any]) -> bytes:
    """The enveloped protobuf form of `obj` (which carries apiVersion and kind)."""
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    spec = message_for(api_version, kind)
    if spec is None:
        raise ProtobufError(f"no protobuf description of {kind!r} in {api_version!r}")
    type_meta = bytearray()
    wire.put_bytes(type_meta, 1, api_version.encode())
    wire.put_bytes(type_meta, 2, kind.encode())
    out = bytearray(MAGIC)
    wire.put_bytes(out, 1, bytes(type_meta))
    wire.put_bytes(out, 2, from_json(obj, spec.name))
    wire.put_bytes(out, 3, b"")  # contentEncoding and contentType, empty as Go writes them
    wire.put_bytes(out, 4, b"")
    return bytes(out)


def watch_frame(event_type: str, obj: dict[str, Any]) -> bytes:
    """One length-prefixed meta.v1.WatchEvent frame carrying the enveloped `obj`."""
    raw_ext = bytearray()
    wire.put_bytes(raw_ext, 1, encode(obj))
    event = bytearray()
    wire.put_bytes(event, 1, event_type.encode())
    wire.put_bytes(event, 2, bytes(raw_ext))
    return len(event).to_bytes(4, "big") + bytes(event)


def negotiate(accept: str | None, protobuf_possible: bool) -> str:
    """The media type to answer with: MEDIA_TYPE or "application/json", by Accept order and q.

    As kube-apiserver does, the first acceptable entry wins; protobuf is acceptable only for
    plain objects the sandbox can encode (not Tables or other `as=` conversions). Anything
    unusable falls back to JSON, which every Kubernetes client reads.
    """
    entries = []
    for i, part in enumerate((accept or "").split(",")):
        fields = [p.strip() for p in part.split(";")]
        params = dict(p.split("=", 1) for p in fields[1:] if "=" in p)
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 1.0
        entries.append((-q, i, fields[0].lower(), params))
    for _, _, media, params in sorted(entries):
        if media == MEDIA_TYPE and protobuf_possible and "as" not in params:
            return MEDIA_TYPE
        if media in ("application/json", "application/*", "*/*"):
            return "application/json"
    return "application/json"
