"""Kubernetes resource quantities: parse `500m`, `2Gi`, `1e3` exactly, and format them back.

Parsing follows Kubernetes' `resource.Quantity` rules so that a quantity means here what
kubectl means by it; CPU rounds up to millicores and bytes/counts to integers, as the kubelet
does. Pure functions only, no I/O. The resource vector built from these (`Resources`) and the
other snapshot types are model.py's; which quantities a config or a backend accepts is theirs.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY_RE = re.compile(
    r"^(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))(?:(?P<exp>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$"
)


# Kubernetes stores quantities in int64 with scales down to nano; nothing real needs more.
_MAX_EXPONENT = 100
_MAX_DIGITS = 200


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse_quantity(value: str | int | float) -> Fraction:
    """Parse a Kubernetes quantity exactly (`"500m"` -> 1/2, `"2Gi"` -> 2147483648)."""
    if isinstance(value, bool):
        raise QuantityError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"not a quantity: {value!r}")
        return Fraction(Decimal(repr(value)))
    text = str(value).strip()
    if len(text) > _MAX_DIGITS:
        raise QuantityError(f"not a usable quantity: {text[:20]!r}... ({len(text)} characters)")
    m = _QUANTITY_RE.match(text)
    if not m:
        raise QuantityError(
            f"not a Kubernetes quantity: {value!r} (expected e.g. '500m', '2', '4Gi', '1e3')"
        )
    try:
        number = Fraction(Decimal(m.group("num")))
    except InvalidOperation as exc:  # pragma: no cover - the regex already filters
        raise QuantityError(f"not a Kubernetes quantity: {value!r}") from exc
    if m.group("exp"):
        exp = int(m.group("exp")[1:])
        if abs(exp) > _MAX_EXPONENT:  # 1e999999999 would take minutes to compute
            raise QuantityError(f"not a usable quantity: {value!r} (exponent out of range)")
        number *= Fraction(10) ** exp
    suffix = m.group("suffix") or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL[suffix]


def cpu_millis(value: str | int | float) -> int:
    """CPU quantity in millicores, rounded up as the kubelet does."""
    return math.ceil(parse_quantity(value) * 1000)


def to_int(value: str | int | float) -> int:
    """Byte or count quantity as an integer, rounded up."""
    return math.ceil(parse_quantity(value))


def format_cpu(millis: int) -> str:
    return f"{millis // 1000}" if millis % 1000 == 0 else f"{millis}m"


def format_bytes(n: int) -> str:
    for suffix, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size}{suffix}"
    for suffix, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20)):
        if n >= size:
            return f"{n / size:.1f}{suffix}"
    return str(n)


GPU_RESOURCE_NAMES = ("nvidia.com/gpu", "amd.com/gpu", "gpu")
