"""Cells of server-side Tables shared by every kind: name, age, paths, containers, selectors.

Each cell is `(object, now) -> value`; `tables.py` and `tables_workloads.py` list the
columns per kind with them. Building the Table document is `tables.py`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

Obj = dict[str, Any]
Column = tuple[str, str, int, Callable[[Obj, float], Any]]  # name, type, priority, cell


def human_duration(seconds: float) -> str:
    """Kubernetes' duration.HumanDuration (the AGE column)."""
    if seconds < -1:
        return "<invalid>"
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        days = h // 24
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{h // 24 // 365}y"


def ts(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def age(obj: Obj, now: float) -> str:
    t = ts((obj.get("metadata") or {}).get("creationTimestamp"))
    return "<unknown>" if t is None else human_duration(now - t)


def name(obj: Obj, now: float) -> str:
    return cast(str, obj["metadata"]["name"])


def get(*path: str, default: str | int = "<none>") -> Callable[[Obj, float], Any]:
    def cell(obj: Obj, now: float) -> Any:
        cur: Any = obj
        for p in path:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return default if cur is None or cur == "" else cur

    return cell


def containers(field: str) -> Callable[[Obj, float], str]:
    def cell(obj: Obj, now: float) -> str:
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        return ",".join(str(c.get(field, "")) for c in spec.get("containers") or []) or "<none>"

    return cell


def count(field: str) -> Callable[[Obj, float], int]:
    return lambda obj, now: len(obj.get(field) or {})


def format_selector(selector: Mapping[str, Any] | None, legacy: bool = False) -> str:
    """A label selector as text, like metav1.FormatLabelSelector (or a plain map for RCs)."""
    if not selector:
        return ""
    if legacy:
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or ():
        key, op, values = e.get("key", ""), e.get("operator", ""), e.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


NAME: Column = ("Name", "string", 0, name)
AGE: Column = ("Age", "string", 0, age)
