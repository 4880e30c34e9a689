"""Pods by `spec.nodeName`: kubelets, drains and `kubectl describe node` list one node's pods a lot.

The store keeps the index current as pods are stored and removed, and asks it for the candidate
keys when a field selector pins `spec.nodeName`, so such a list touches a node's pods instead of
all of them. Matching the rest of the selector stays the store's job.
"""

from __future__ import annotations

import re
from typing import Any

Key = tuple[str, str]  # (namespace, name)

_NODE_REQ = re.compile(r"^\s*spec\.nodeName\s*==?\s*([^,!=\s]*)\s*$")


def _node(pod: dict[str, Any] | None) -> str:
    return ((pod or {}).get("spec") or {}).get("nodeName") or ""


class PodIndex:
    """Keys of pods per node name ("" = unscheduled)."""

    def __init__(self) -> None:
        self._by_node: dict[str, set[Key]] = {}

    def clear(self) -> None:
        self._by_node = {}

    def put(self, key: Key, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        old_node = _node(old) if old is not None else None
        node = _node(new)
        if old_node != node:
            if old_node is not None:
                self._by_node[old_node].discard(key)
            self._by_node.setdefault(node, set()).add(key)

    def remove(self, key: Key, pod: dict[str, Any]) -> None:
        self._by_node[_node(pod)].discard(key)

    def candidates(self, field_selector: str) -> list[Key] | None:
        """Sorted keys of one node's pods when the selector pins spec.nodeName, else None."""
        for req in field_selector.split(","):
            m = _NODE_REQ.match(req)
            if m:
                return sorted(self._by_node.get(m.group(1), ()))
        return None
