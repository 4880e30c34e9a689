"""The protobuf wire format: varints, tags and length-delimited fields, read and written.

Knows nothing of Kubernetes or of message schemas: `fields()` splits a message into
(number, wire type, value) triples and the `put_*` helpers append encoded fields to a buffer.
What a field means is `codec.py`'s business.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The varint at `pos` and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field: ints for VARINT/FIXED*, bytes for LEN."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise WireError("field number 0")
        if wt == VARINT:
            value, pos = read_varint(buf, pos)
            yield num, wt, value
        elif wt == LEN:
            n, pos = read_varint(buf, pos)
            if pos + n > end:
                raise WireError(f"field {num}: length {n} runs past the end of the message")
            yield num, wt, buf[pos : pos + n]
            pos += n
        elif wt == FIXED64:
            if pos + 8 > end:
                raise WireError(f"field {num}: truncated fixed64")
            yield num, wt, int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wt == FIXED32:
            if pos + 4 > end:
                raise WireError(f"field {num}: truncated fixed32")
            yield num, wt, int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        else:
            raise WireError(f"field {num}: unsupported wire type {wt}")


def packed_varints(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(data):
        v, pos = read_varint(data, pos)
        out.append(v)
    return out


def signed(value: int, bits: int) -> int:
    """Two's-complement reading of a varint for int32/int64 fields (negatives use 10 bytes)."""
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 32:
        value = ((value + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    return value


def double(value: int, wire_type: int) -> float:
    if wire_type == FIXED64:
        return float(struct.unpack("<d", value.to_bytes(8, "little"))[0])
    return float(struct.unpack("<f", value.to_bytes(4, "little"))[0])


_SMALL = [bytes((i,)) for i in range(128)]


def varint(value: int) -> bytes:
    if 0 <= value < 128:
        return _SMALL[value]  # tags, lengths and most numbers: one byte
    value &= (1 << 64) - 1  # negatives as 10-byte two's complement, as Go writes them
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def put_varint(out: bytearray, num: int, value: int) -> None:
    out += varint(num << 3 | VARINT)
    out += varint(value)


def put_bytes(out: bytearray, num: int, data: bytes) -> None:
    out += varint(num << 3 | LEN)
    out += varint(len(data))
    out += data


def put_double(out: bytearray, num: int, value: float, bits: int = 64) -> None:
    if bits == 64:
        out += varint(num << 3 | FIXED64)
        out += struct.pack("<d", value)
    else:
        out += varint(num << 3 | FIXED32)
        out += struct.pack("<f", value)
