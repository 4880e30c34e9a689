"""The fast path of the scheduler: the best node for a plain pod without scanning every node.

A plain pod (no inter-pod terms, spreading, host ports or node preferences) scores
nodes by LeastAllocated plus TaintToleration only. Among nodes with the same
allocatable, LeastAllocated orders them by `cpu_used/cpu + mem_used/mem`, i.e. by the
integer `cpu_used*mem + mem_used*cpu`; so `FastIndex` keeps, per pod placement,
the eligible nodes in heaps grouped by (allocatable, untolerated PreferNoSchedule
taints) and keyed by that load. Picking a node looks at the top of each heap
(skipping nodes the pod does not fit), then compares the groups' winners with the
full score, which yields the node a full scan would (`selection.best_node`). Node
loads change through `touch`; stale heap entries are skipped and compacted.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from clues_py.model import Placement, Resources
from clues_py.sandbox.controllers import scheduling
from clues_py.sandbox.controllers.scheduling import MAX_NODE_SCORE, NodeInfo
from clues_py.sandbox.controllers.selection import fit_score, fits

Entry = tuple[int, str, int]  # (load key, node name, version)
GroupKey = tuple[Resources, int]


def load_key(used: Resources, alloc: Resources) -> int:
    return used.cpu_millis * alloc.memory_bytes + used.memory_bytes * alloc.cpu_millis


class FastIndex:
    def __init__(
        self,
        placement: Placement,
        nodes: Iterable[NodeInfo],
        requested: Mapping[str, Resources],
        versions: Mapping[str, int],
    ) -> None:
        self.placement = placement
        self.nodes: dict[str, NodeInfo] = {}
        self.group_of: dict[str, GroupKey] = {}
        self.heaps: dict[GroupKey, list[Entry]] = {}
        self.sizes: dict[GroupKey, int] = {}
        zero = Resources()
        for n in nodes:
            if scheduling.static_reason(n, placement) is not None:
                continue
            g = (n.allocatable, scheduling.soft_taint_count(n, placement))
            self.nodes[n.name] = n
            self.group_of[n.name] = g
            self.sizes[g] = self.sizes.get(g, 0) + 1
            entry = (
                load_key(requested.get(n.name, zero), n.allocatable),
                n.name,
                versions.get(n.name, 0),
            )
            self.heaps.setdefault(g, []).append(entry)
        for heap in self.heaps.values():
            heapq.heapify(heap)

    def touch(self, name: str, used: Resources, version: int) -> None:
        """`name`'s requests changed (now `used`, at `version`)."""
        g = self.group_of.get(name)
        if g is None:
            return
        heap = self.heaps[g]
        heapq.heappush(heap, (load_key(used, self.nodes[name].allocatable), name, version))
        if len(heap) > 4 * self.sizes[g] + 64:
            self._compact(g)

    def _compact(self, g: GroupKey) -> None:
        latest: dict[str, Entry] = {}
        for e in self.heaps[g]:
            if e[1] not in latest or e[2] > latest[e[1]][2]:
                latest[e[1]] = e
        heap = list(latest.values())
        heapq.heapify(heap)
        self.heaps[g] = heap

    def pick(
        self,
        request: Resources,
        requested: Mapping[str, Resources],
        versions: Mapping[str, int],
        reserved: Mapping[str, Resources],
    ) -> str | None:
        """The best node the pod fits on (None: it fits on none of them)."""
        zero = Resources()
        winners: list[tuple[GroupKey, str]] = []
        for g, heap in self.heaps.items():
            skipped: list[Entry] = []
            while heap:
                key, name, ver = heap[0]
                if ver != versions.get(name, 0):
                    heapq.heappop(heap)  # stale: a newer entry exists
                    continue
                used = requested.get(name, zero)
                extra = reserved.get(name)
                if extra is not None:
                    used = used + extra
                if fits(request, used, self.nodes[name].allocatable):
                    winners.append((g, name))
                    break
                skipped.append(heapq.heappop(heap))
            for e in skipped:
                heapq.heappush(heap, e)
        if not winners:
            return None
        top = max(g[1] for g, _ in winners)

        def score(item: tuple[GroupKey, str]) -> tuple[float, str]:
            g, name = item
            fit = fit_score(request, requested.get(name, zero), g[0], False)
            taint = MAX_NODE_SCORE - MAX_NODE_SCORE * g[1] // top if top else MAX_NODE_SCORE
            return (-(fit + scheduling.TAINT_TOLERATION_WEIGHT * taint), name)

        return min(winners, key=score)[1]
