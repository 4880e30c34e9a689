"""Bounds of configuration values: types, numeric ranges, string syntax, Kubernetes keys.

Pure functions that return the problem with a value as operator-facing text ("" when it is
fine), shared by the core keys (`clues_py.config.check`, tables in `schema.py`) and plugin
options (`clues_py.plugins`, `Range`/`Pattern` annotations from `clues_py.contracts`), so a
number or a name is judged the same way wherever it is written. Attaching the text to a
file:line:col is left to the callers.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from clues_py.contracts import DNS_SUBDOMAIN, LABEL_NAME, LABEL_VALUE, Pattern, Range

TYPE_NAMES = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}
_SHOW_MAX = 60  # characters of a bad value quoted back in a message


def show(value: Any) -> str:
    """`repr(value)`, shortened: a 10,000-character name must not become a 10,000-byte error."""
    text = repr(value)
    return text if len(text) <= _SHOW_MAX else f"{text[: _SHOW_MAX - 20]}...({len(text)} chars)"


def num(x: float) -> str:
    """A bound as written by hand: 3600, 0.01, 1e+06 (never 2.14748e+09 for an int)."""
    if isinstance(x, int) or (math.isfinite(x) and x == int(x) and abs(x) < 1e15):
        return str(int(x))
    return f"{x:g}"


def type_problem(value: Any, kind: str) -> str:
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
    }[kind]
    return "" if ok else f"must be {TYPE_NAMES[kind]}, got {show(value)}"


def range_problem(value: float, lo: float | None, hi: float | None) -> str:
    """Checks ints exactly (a 400-digit integer is compared, never converted to float)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if lo is not None and hi is not None and not lo <= value <= hi:
        return f"must be between {num(lo)} and {num(hi)}, got {show(value)}"
    if lo is not None and value < lo:
        return f"must be >= {num(lo)}, got {show(value)}"
    if hi is not None and value > hi:
        return f"must be <= {num(hi)}, got {show(value)}"
    return ""


@lru_cache(maxsize=256)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def pattern_problem(value: str, regex: str, max_len: int = 4096) -> str:
    """What is wrong with a string of a given syntax; the caller adds the hint."""
    if len(value) > max_len:
        return f"longer than {max_len} characters ({len(value)})"
    if regex and not _compiled(regex).fullmatch(value):
        return "must not be empty" if not value.strip() else f"not valid: {show(value)}"
    return ""


def annotation_problem(value: Any, marker: object) -> str:
    """A plugin option's `Range` or `Pattern` annotation applied to its (type-checked) value."""
    if isinstance(marker, Range) and isinstance(value, int | float) and not isinstance(value, bool):
        return range_problem(value, marker.min, marker.max)
    if isinstance(marker, Pattern) and isinstance(value, str):
        problem = pattern_problem(value, marker.regex, marker.max_len)
        return f"{problem} ({marker.hint})" if problem and marker.hint else problem
    return ""


def label_key_problem(key: str) -> str:
    """Kubernetes label (and taint) key syntax: an optional DNS-subdomain prefix and `/`, then
    a name of at most 63 characters."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _compiled(DNS_SUBDOMAIN).fullmatch(prefix)):
        return f"prefix {show(prefix)} of {show(key)} is not a DNS subdomain"
    if not name or len(name) > 63 or not _compiled(LABEL_NAME).fullmatch(name):
        return (
            f"not a valid key: {show(key)}; at most 63 letters, digits, '-', '_' and '.' "
            "(starting and ending with a letter or digit), after an optional prefix/"
        )
    return ""


def label_value_problem(value: str) -> str:
    if len(value) > 63 or not _compiled(LABEL_VALUE).fullmatch(value):
        return (
            f"not a valid label value: {show(value)}; at most 63 letters, digits, '-', '_' "
            "and '.', starting and ending with a letter or digit (or empty)"
        )
    return ""
