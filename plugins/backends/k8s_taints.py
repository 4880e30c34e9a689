"""The scale-down candidate taint on a Node object, for both Kubernetes-shaped backends.

`toggle_taint` computes a Node's new `spec.taints` with `SCALE_DOWN_TAINT` added or
removed and every other taint kept (Node taints are a plain list: a patch replaces it
whole, so the caller writes it back under the object's resourceVersion). How the
Node is read and written is the caller's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clues_py.contracts import SCALE_DOWN_TAINT


def _is_ours(t: Any) -> bool:
    return (
        isinstance(t, dict)
        and t.get("key") == SCALE_DOWN_TAINT.key
        and t.get("effect") == SCALE_DOWN_TAINT.effect
    )


def toggle_taint(taints: Sequence[Any], present: bool) -> list[Any] | None:
    """`taints` with the scale-down taint present or absent; None when nothing changes."""
    has = any(_is_ours(t) for t in taints)
    if has == present:
        return None
    if present:
        t = SCALE_DOWN_TAINT
        return [*taints, {"key": t.key, "value": t.value, "effect": t.effect}]
    return [t for t in taints if not _is_ours(t)]
