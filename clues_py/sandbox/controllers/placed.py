"""The scheduler's incremental view of bound pods: requests, host ports and matching counts.

`PlacedPods` holds every pod bound to a node and not finished, kept up to date from
the runtime's events. It sums requests and host ports per node, lists the pods
that carry required anti-affinity (they constrain everyone else), and answers
"how many pods matching these terms are on each node" from counts that are built
once per distinct set of terms and then updated on every add and remove, so
affinity and spreading stay cheap however many pods are placed. Decisions are
`interpod.py`'s and `selection.py`'s.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from clues_py.model import Resources
from clues_py.sandbox.controllers.podterms import HostPort, Namespaces, PodSpecInfo, Selector

# Pods match a key when they match every (namespaces, selector) in it.
MatchKey = tuple[tuple[tuple[Namespaces, Selector], ...], bool]  # (terms, skip terminating)
_MAX_CACHED = 128


@dataclass(slots=True)
class PodRec:
    key: str
    node: str
    info: PodSpecInfo
    labels: dict[str, str] = field(default_factory=dict)
    deleting: bool = False
    created: str = ""

    def matches(self, terms: tuple[tuple[Namespaces, Selector], ...]) -> bool:
        ns = self.info.namespace
        return all(
            (names is None or ns in names) and sel.matches(self.labels) for names, sel in terms
        )


class PlacedPods:
    def __init__(self) -> None:
        self.pods: dict[str, PodRec] = {}
        self.by_node: dict[str, dict[str, PodRec]] = {}
        self.requested: dict[str, Resources] = {}
        self.ports: dict[str, Counter[HostPort]] = {}
        self.holders: dict[str, PodRec] = {}  # pods with required anti-affinity terms
        self._counts: OrderedDict[MatchKey, Counter[str]] = OrderedDict()
        self.changes = 0  # bumps on every add/remove (cache invalidation for callers)
        self._priorities: Counter[int] = Counter()  # priority -> placed pods with it

    def add(self, rec: PodRec) -> None:
        self.remove(rec.key)
        self.pods[rec.key] = rec
        self.by_node.setdefault(rec.node, {})[rec.key] = rec
        self.requested[rec.node] = self.requested.get(rec.node, Resources()) + rec.info.request
        if rec.info.ports:
            self.ports.setdefault(rec.node, Counter()).update(rec.info.ports)
        if rec.info.anti:
            self.holders[rec.key] = rec
        self._priorities[rec.info.priority] += 1
        self._update(rec, +1)
        self.changes += 1

    def remove(self, key: str) -> PodRec | None:
        rec = self.pods.pop(key, None)
        if rec is None:
            return None
        on_node = self.by_node.get(rec.node)
        if on_node is not None:
            on_node.pop(key, None)
            if not on_node:
                del self.by_node[rec.node]
        self.requested[rec.node] = self.requested.get(rec.node, Resources()) - rec.info.request
        if rec.info.ports:
            used = self.ports.get(rec.node)
            if used is not None:
                used.subtract(rec.info.ports)
        self.holders.pop(key, None)
        left = self._priorities[rec.info.priority] - 1
        if left:
            self._priorities[rec.info.priority] = left
        else:
            del self._priorities[rec.info.priority]
        self._update(rec, -1)
        self.changes += 1
        return rec

    def same(self, key: str, node: str, labels: dict[str, str], deleting: bool) -> bool:
        """Whether the stored record already says this (a status update changes nothing here)."""
        rec = self.pods.get(key)
        return rec is not None and (rec.node, rec.labels, rec.deleting) == (node, labels, deleting)

    def any_below(self, priority: int) -> bool:
        """Whether some placed pod has a lower priority (one preemption could evict)."""
        return any(p < priority for p in self._priorities)

    def on(self, node: str) -> list[PodRec]:
        return list(self.by_node.get(node, {}).values())

    # ----------------------------------------------------------------- matching counts
    def count(
        self, terms: tuple[tuple[Namespaces, Selector], ...], skip_terminating: bool = False
    ) -> Counter[str]:
        """Pods matching all `terms`, per node (do not modify the result)."""
        key: MatchKey = (terms, skip_terminating)
        hit = self._counts.get(key)
        if hit is not None:
            self._counts.move_to_end(key)
            return hit
        counts: Counter[str] = Counter()
        for rec in self.pods.values():
            if (not skip_terminating or not rec.deleting) and rec.matches(terms):
                counts[rec.node] += 1
        self._counts[key] = counts
        if len(self._counts) > _MAX_CACHED:
            self._counts.popitem(last=False)
        return counts

    def _update(self, rec: PodRec, sign: int) -> None:
        for (terms, skip), counts in self._counts.items():
            if (not skip or not rec.deleting) and rec.matches(terms):
                counts[rec.node] += sign
                if counts[rec.node] <= 0:
                    del counts[rec.node]
