"""Kubernetes protobuf <-> the JSON-shaped dicts the sandbox stores, message by message.

`to_json(data, message)` reads a message as the API server's Go types would and returns what
they would marshal to JSON: zero values of plain fields dropped (`omitempty`), zero values of
pointers and of fields without `omitempty` kept, inlined messages merged into their parent, and
the apimachinery value types turned into their JSON forms (Quantity, IntOrString, Time,
MicroTime, RawExtension, FieldsV1). `from_json(value, message)` is the reverse. The envelope
(`k8s\\x00` + runtime.Unknown) and watch framing are `__init__.py`'s; field numbers `schema.py`'s.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from clues_py.sandbox.protobuf import wire
from clues_py.sandbox.schema import FieldSpec, MessageSpec, messages

INTS = {"int32": 32, "int64": 64, "uint32": 0, "uint64": 0}  # type -> sign bits (0: unsigned)
SCALARS = {*INTS, "bool", "string", "bytes", "double", "float"}
PACKABLE = {*INTS, "bool"}  # repeated varints may arrive packed in one length-delimited field


class ProtobufError(ValueError):
    """A body or object that cannot be converted; the message names the message and field."""


# ----------------------------------------------------------------------------- value types
def _time_to_json(f: dict[int, Any], micro: bool) -> str | None:
    seconds, nanos = wire.signed(f.get(1, 0), 64), f.get(2, 0)
    if not seconds and not nanos:
        return None  # Go's zero Time marshals as null
    t = datetime.fromtimestamp(seconds, UTC)
    if micro:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos // 1000:06d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _time_from_json(value: Any) -> bytes:
    try:
        t = datetime.fromisoformat(str(value))
    except ValueError:
        raise ProtobufError(f"{value!r} is not an RFC 3339 time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    out = bytearray()
    wire.put_varint(out, 1, int(t.timestamp() // 1))
    if t.microsecond:
        wire.put_varint(out, 2, t.microsecond * 1000)
    return bytes(out)


def _raw_to_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return base64.b64encode(raw).decode()


def _intstr_from_json(value: Any) -> bytes:
    out = bytearray()
    if isinstance(value, str):
        wire.put_varint(out, 1, 1)
        wire.put_bytes(out, 3, value.encode())
    else:
        wire.put_varint(out, 1, 0)
        wire.put_varint(out, 2, int(value))
    return bytes(out)


def _only_raw(value: Any) -> bytes:
    out = bytearray()
    wire.put_bytes(out, 1, json.dumps(value, separators=(",", ":")).encode())
    return bytes(out)


def _quantity_from_json(value: Any) -> bytes:
    out = bytearray()
    wire.put_bytes(out, 1, str(value).encode())
    return bytes(out)


def _first(f: dict[int, Any], num: int) -> Any:
    return f.get(num, b"")


# Decoders get {field number: raw value}; encoders get the JSON value.
SPECIAL_TO_JSON: dict[str, Callable[[dict[int, Any]], Any]] = {
    "resource.Quantity": lambda f: _first(f, 1).decode(),
    "intstr.IntOrString": lambda f: (
        _first(f, 3).decode() if f.get(1) == 1 else wire.signed(f.get(2, 0), 32)
    ),
    "meta.v1.Time": lambda f: _time_to_json(f, micro=False),
    "meta.v1.MicroTime": lambda f: _time_to_json(f, micro=True),
    "runtime.RawExtension": lambda f: _raw_to_json(_first(f, 1)),
    "meta.v1.FieldsV1": lambda f: _raw_to_json(_first(f, 1)),
}
SPECIAL_FROM_JSON: dict[str, Callable[[Any], bytes]] = {
    "resource.Quantity": _quantity_from_json,
    "intstr.IntOrString": _intstr_from_json,
    "meta.v1.Time": _time_from_json,
    "meta.v1.MicroTime": _time_from_json,
    "runtime.RawExtension": _only_raw,
    "meta.v1.FieldsV1": _only_raw,
}


# ----------------------------------------------------------------------------- decoding
def _scalar(spec: FieldSpec, wt: int, value: int | bytes) -> Any:
    t = spec.type
    if t == "string":
        if not isinstance(value, bytes):
            raise ProtobufError(f"field {spec.json}: expected a string")
        return value.decode("utf-8", errors="replace")
    if t == "bytes":
        if not isinstance(value, bytes):
            raise ProtobufError(f"field {spec.json}: expected bytes")
        return base64.b64encode(value).decode()
    if isinstance(value, bytes):
        raise ProtobufError(f"field {spec.json}: expected a {t}, got a length-delimited value")
    if t == "bool":
        return bool(value)
    if t in INTS:
        return wire.signed(value, INTS[t]) if INTS[t] else value
    return wire.double(value, wt)


def _value(spec: FieldSpec, wt: int, value: int | bytes) -> Any:
    if spec.type in SCALARS:
        return _scalar(spec, wt, value)
    if not isinstance(value, bytes):
        raise ProtobufError(f"field {spec.json}: expected a {spec.type} message")
    return to_json(value, spec.type)


def _map_entry(spec: FieldSpec, data: bytes) -> tuple[str, Any]:
    key, val = "", None
    value_spec = FieldSpec("value", 2, spec.type, False, False, True, True, False)
    for num, wt, v in wire.fields(data):
        if num == 1 and isinstance(v, bytes):
            key = v.decode()
        elif num == 2:
            val = _value(value_spec, wt, v)
    if val is None:  # an absent value is the zero value of its type
        val = {"string": "", "bytes": ""}.get(spec.type, {})
    return key, val


def _dropped(f: FieldSpec, value: Any) -> bool:
    """Whether Go's JSON would leave this decoded value out (null, or a zero under omitempty)."""
    if value is None:
        return True
    if f.map or f.repeated or f.pointer or f.keep_zero:
        return False
    return value == "" or value is False or (value == 0 and value is not True)


def to_json(data: bytes, name: str) -> Any:
    """The JSON value of message `name` encoded in `data` (see the module docstring)."""
    special = SPECIAL_TO_JSON.get(name)
    try:
        if special is not None:
            raw: dict[int, Any] = {}
            for num, _, v in wire.fields(data):
                raw[num] = v
            return special(raw)
        spec = _spec(name)
        out: dict[str, Any] = {}
        for num, wt, v in wire.fields(data):
            f = spec.by_number.get(num)
            if f is None:
                continue  # a field newer than our description: the API server drops it too
            if f.map:
                if not isinstance(v, bytes):
                    raise ProtobufError(f"field {f.json}: expected a map entry")
                key, val = _map_entry(f, v)
                out.setdefault(f.json, {})[key] = val
            elif f.repeated:
                items = out.setdefault(f.json, [])
                if isinstance(v, bytes) and f.type in PACKABLE:
                    items.extend(_scalar(f, wire.VARINT, x) for x in wire.packed_varints(v))
                else:
                    items.append(_value(f, wt, v))
            elif f.inline:
                if not isinstance(v, bytes):
                    raise ProtobufError(f"field {f.json}: expected a {f.type} message")
                out.update(to_json(v, f.type))
            else:
                out[f.json] = _value(f, wt, v)
    except wire.WireError as e:
        raise ProtobufError(f"{name}: {e}") from None
    for f in spec.fields:
        if f.json in out and _dropped(f, out[f.json]):
            del out[f.json]
    if spec.list_wrapper:
        return out.get("items", [])
    return out


def _spec(name: str) -> MessageSpec:
    spec = messages().get(name)
    if spec is None:
        raise ProtobufError(f"no protobuf description of {name}")
    return spec


# ----------------------------------------------------------------------------- encoding
def _put(out: bytearray, f: FieldSpec, value: Any) -> None:
    t = f.type
    try:
        if t == "string":
            wire.put_bytes(out, f.number, str(value).encode())
        elif t == "bytes":
            wire.put_bytes(out, f.number, base64.b64decode(value))
        elif t == "bool":
            wire.put_varint(out, f.number, 1 if value else 0)
        elif t in INTS:
            wire.put_varint(out, f.number, int(value))
        elif t in ("double", "float"):
            wire.put_double(out, f.number, float(value), 64 if t == "double" else 32)
        else:
            wire.put_bytes(out, f.number, from_json(value, t))
    except (TypeError, ValueError) as e:
        if isinstance(e, ProtobufError):
            raise
        raise ProtobufError(f"field {f.json}: {value!r} is not a {t}") from None


@cache
def _encoding_plan(name: str) -> tuple[dict[str, FieldSpec], tuple[FieldSpec, ...]]:
    """A message's own fields by JSON name, and its inlined fields (encoded from the parent)."""
    spec = _spec(name)
    return (
        {f.json: f for f in spec.fields if not f.inline},
        tuple(f for f in spec.fields if f.inline),
    )


def from_json(value: Any, name: str) -> bytes:
    """Encode the JSON value `value` as message `name`; keys the message lacks are left out.

    Fields go out in the order of the JSON keys (decoders accept any order): walking the keys
    an object has is much cheaper than walking every field its message could have.
    """
    special = SPECIAL_FROM_JSON.get(name)
    if special is not None:
        return special(value)
    by_json, inlined = _encoding_plan(name)
    if isinstance(value, list) and _spec(name).list_wrapper:
        value = {"items": value}
    if not isinstance(value, dict):
        raise ProtobufError(f"{name}: expected an object, got {type(value).__name__}")
    out = bytearray()
    for sub in inlined:
        wire.put_bytes(out, sub.number, from_json(value, sub.type))
    for key, v in value.items():
        f = by_json.get(key)
        if f is None or v is None:
            continue
        if f.map:
            if not isinstance(v, dict):
                raise ProtobufError(f"field {f.json}: expected an object")
            value_spec = FieldSpec("value", 2, f.type, False, False, True, True, False)
            for k, item in v.items():
                entry = bytearray()
                wire.put_bytes(entry, 1, str(k).encode())
                if item is not None:
                    _put(entry, value_spec, item)
                wire.put_bytes(out, f.number, bytes(entry))
        elif f.repeated:
            if not isinstance(v, list):
                raise ProtobufError(f"field {f.json}: expected an array")
            for item in v:
                _put(out, f, item)
        else:
            _put(out, f, v)
    return bytes(out)
