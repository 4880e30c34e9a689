"""Label and field selectors with Kubernetes syntax, parsed once and matched against dicts.

Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma = AND.
Field selectors: `path=v`, `path==v`, `path!=v`, comma = AND, over a per-kind allow list given by
`resources.py`. Bad syntax raises `SelectorError`; the store turns it into a 400 BadRequest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

Matcher = Callable[[dict[str, Any]], bool]

_KEY = re.compile(
    r"^([A-Za-z0-9][-A-Za-z0-9_.]{0,252}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


class SelectorError(ValueError):
    """A selector string that does not parse; the message names the bad part."""


class UnsupportedFieldLabel(SelectorError):
    """A field selector on a field the kind does not index (the server answers 400)."""

    def __init__(self, label: str) -> None:
        super().__init__(f"field label not supported: {label}")
        self.label = label


# Field labels whose value is not simply the field at that path: the registries' field sets
# report absent booleans as "false", absent counts as "0", and an Event's `source` is its
# source.component.
FIELD_PATHS = {"source": "source.component"}
FIELD_DEFAULTS = {
    "spec.unschedulable": "false",
    "spec.hostNetwork": "false",
    "status.successful": "0",
}


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced ')' in selector {text!r}")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise SelectorError(f"unbalanced '(' in selector {text!r}")
    parts.append("".join(cur))
    return parts


def _check_key(key: str, text: str) -> str:
    if not _KEY.match(key):
        raise SelectorError(f"invalid label key {key!r} in selector {text!r}")
    return key


def _check_value(value: str, text: str) -> str:
    if not _VALUE.match(value):
        raise SelectorError(f"invalid label value {value!r} in selector {text!r}")
    return value


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _requirement(req: str, text: str) -> Matcher:
    req = req.strip()
    m = re.match(r"^(\S+)\s+(in|notin)\s*\((.*)\)$", req)
    if m:
        key = _check_key(m.group(1), text)
        values = frozenset(_check_value(v.strip(), text) for v in m.group(3).split(","))
        if m.group(2) == "in":
            return lambda o: _labels(o).get(key) in values
        return lambda o: _labels(o).get(key) not in values
    if req.startswith("!"):
        key = _check_key(req[1:].strip(), text)
        return lambda o: key not in _labels(o)
    m = re.match(r"^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(\S*)$", req)
    if m:
        key, op, value = _check_key(m.group(1), text), m.group(2), m.group(3)
        if op in (">", "<"):
            try:
                bound = int(value)
            except ValueError:
                raise SelectorError(f"{op} needs an integer value in selector {text!r}") from None

            def cmp(o: dict[str, Any]) -> bool:
                v = _labels(o).get(key)
                try:
                    return v is not None and (int(v) > bound if op == ">" else int(v) < bound)
                except ValueError:
                    return False

            return cmp
        _check_value(value, text)
        if op == "!=":
            return lambda o: _labels(o).get(key) != value
        return lambda o: _labels(o).get(key) == value
    key = _check_key(req, text)
    return lambda o: key in _labels(o)


def _all(matchers: list[Matcher]) -> Matcher | None:
    if not matchers:
        return None
    if len(matchers) == 1:
        return matchers[0]
    return lambda o: all(m(o) for m in matchers)


@lru_cache(maxsize=512)
def parse_label_selector(text: str) -> Matcher | None:
    """Compile a label selector; None means "everything" (empty selector)."""
    if not text or not text.strip():
        return None
    reqs = _split_top(text)
    if any(not r.strip() for r in reqs):
        raise SelectorError(f"empty requirement in selector {text!r}")
    return _all([_requirement(r, text) for r in reqs])


def field_value(obj: dict[str, Any], path: str) -> str:
    """The string form of a dotted field, as the API server compares it ("" when absent)."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def _field_matcher(label: str, value: str, *, negate: bool) -> Matcher:
    path = FIELD_PATHS.get(label, label)
    default = FIELD_DEFAULTS.get(label, "")
    if negate:
        return lambda o: (field_value(o, path) or default) != value
    return lambda o: (field_value(o, path) or default) == value


@lru_cache(maxsize=512)
def parse_field_selector(text: str, allowed: Iterable[str] = ()) -> Matcher | None:
    """Compile a field selector; `allowed` lists the labels the kind supports besides metadata.*."""
    if not text or not text.strip():
        return None
    ok = {"metadata.name", "metadata.namespace", *allowed}
    matchers: list[Matcher] = []
    for req in text.split(","):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*([^,]*?)\s*$", req)
        if not m:
            raise SelectorError(f"invalid field selector requirement {req!r} in {text!r}")
        path, op, value = m.groups()
        if path not in ok:
            raise UnsupportedFieldLabel(path)
        matchers.append(_field_matcher(path, value, negate=op == "!="))
    return _all(matchers)


def match_label_dict(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Match a structured LabelSelector (matchLabels + matchExpressions), as PDBs and Jobs use.

    A null selector matches nothing and an empty one matches everything, like the API server.
    """
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
