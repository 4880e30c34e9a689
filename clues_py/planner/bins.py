"""The packer's bins, kept between passes: free room of running nodes, booting nodes, OFF pools.

Every node name a snapshot knows (managed and unmanaged) has a fixed position p in name
order. Slot p holds a node's free room while it can take pods now (managed IDLE/USED or
unmanaged, Ready and schedulable: allocatable minus what its Pending and Running pods
request), slot N+p its template's room while it is POWERING_ON, and slots from 2N on the
nodes one packing opens; every other slot holds -1 and fits nothing. Slot order is the
packer's scan order: free room by name, then booting nodes by name, then opened nodes.
`MaxTree` answers first-fit over the slots. OFF enabled nodes wait in per-template pools
ordered by (failed attempts, name); nodes not OFF are counted per template (max_count).

`BinIndex.sync(snap, dirty)` follows a snapshot: the nodes the memo says changed get their
slots recomputed, the others keep them (a full rebuild when the memo cannot say, or when
the templates or the set of names change). A packing writes into the tree and `restore()` undoes it,
so the next packing starts from the snapshot's room again. How demand is placed is
`packing.py`'s; which node is compatible with a placement is cached here per placement.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping

from clues_py.model import (
    ClusterSnapshot,
    ManagedNode,
    NodeObservation,
    NodeState,
    NodeTemplate,
    Placement,
    Resources,
    Taint,
)
from clues_py.planner.firstfit import MaxTree

__all__ = ["DEFAULT_POD_SLOTS", "BinIndex", "Signatures"]

DEFAULT_POD_SLOTS = 110
_ON = (NodeState.IDLE, NodeState.USED)
_MAX_PLACEMENTS = 256  # cached compatible-slot lists


def _slots(n: int) -> int:
    return n if n > 0 else DEFAULT_POD_SLOTS


class Signatures:
    """Interns (labels, taints) pairs so compatibility is computed once per pair and group."""

    def __init__(self) -> None:
        self.index: dict[tuple[tuple[tuple[str, str], ...], tuple[Taint, ...]], int] = {}
        self.table: list[tuple[dict[str, str], tuple[Taint, ...]]] = []

    def of(self, labels: tuple[tuple[str, str], ...], taints: tuple[Taint, ...]) -> int:
        key = (labels, taints)
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.table)
            self.table.append((dict(labels), taints))
        return i


class BinIndex:
    def __init__(self) -> None:
        self.sigs = Signatures()
        self.names: list[str] = []
        self.pos: dict[str, int] = {}
        self.n = 0
        self.templates: Mapping[str, NodeTemplate] = {}
        self.tsig: dict[str, tuple[int, int]] = {}  # template -> (sig, taint-only sig)
        # slot -> (name, template, base cpu, mem, gpus, pods, sig, taint-only sig)
        self.base: dict[int, tuple[str, str, int, int, int, int, int, int]] = {}
        self.tree = MaxTree(1)
        self.pool: dict[str, list[tuple[int, str, float]]] = {}  # (attempts, name, retry_at)
        self.not_off: dict[str, int] = {}
        self.ref = (1, 1, 0)  # largest template cpu, memory, gpus (dominant shares)
        self._managed: dict[str, ManagedNode] = {}
        self._unmanaged: dict[str, NodeObservation] = {}
        self._unmanaged_src: tuple[NodeObservation, ...] | None = None
        self._bulk = False  # rebuilding: slots set without their maxima (`MaxTree.refresh`)
        # placement -> sorted slots (free room and booting tiers) whose signature admits it
        self._compat: dict[Placement, list[int]] = {}
        self._why_not: dict[tuple[Placement, int], str | None] = {}
        # Demand no template admits, whatever is on or off: (placement, requests, GPU
        # templates for CPU work) -> the reason (kept until the templates change).
        self.hopeless: dict[tuple[Placement, Resources, bool], str] = {}
        # (group keys list, reason) -> {key: reason}, reused while both stay the same
        self._fills: dict[tuple[int, str], tuple[list[str], dict[str, str]]] = {}

    # ------------------------------------------------------------------ following snapshots

    def sync(self, snap: ClusterSnapshot, dirty: set[int] | None) -> None:
        """Follow `snap`; `dirty`: positions in `snap.nodes` of the nodes that changed since
        the last sync (None: anything may have, rebuild)."""
        templates = snap.templates
        if dirty is None or (templates is not self.templates and templates != self.templates):
            self._rebuild(snap)
            return
        for i in sorted(dirty):
            self._set_managed(snap.nodes[i])
        if snap.unmanaged is not self._unmanaged_src:
            fresh = {o.name: o for o in snap.unmanaged}
            if fresh.keys() - self.pos.keys():
                self._rebuild(snap)
                return
            for name in self._unmanaged.keys() | fresh.keys():
                if self._unmanaged.get(name) is not fresh.get(name):
                    self._set_unmanaged(name, fresh.get(name))
            self._unmanaged_src = snap.unmanaged

    def _rebuild(self, snap: ClusterSnapshot) -> None:
        self.templates = snap.templates
        self.tsig = {
            n: (self.sigs.of(t.labels, t.taints), self.sigs.of((), t.taints))
            for n, t in self.templates.items()
        }
        ref = [t.resources for t in self.templates.values()]
        self.ref = (
            max((r.cpu_millis for r in ref), default=0) or 1,
            max((r.memory_bytes for r in ref), default=0) or 1,
            max((r.gpus for r in ref), default=0),
        )
        names = {n.name for n in snap.nodes} | {o.name for o in snap.unmanaged}
        self.names = sorted(names)
        self.pos = {name: i for i, name in enumerate(self.names)}
        self.n = len(self.names)
        managed = sum(1 for _ in snap.nodes)
        self.tree = MaxTree(2 * self.n + managed)
        self.base = {}
        self.pool = {t: [] for t in self.templates}
        self.not_off = dict.fromkeys(self.templates, 0)
        self._managed, self._unmanaged = {}, {}
        self._compat = {}
        self.hopeless, self._fills = {}, {}
        self._bulk = True  # leaves only; the maxima once at the end
        try:
            for node in snap.nodes:
                self._set_managed(node)
            for obs in snap.unmanaged:
                self._set_unmanaged(obs.name, obs)
        finally:
            self._bulk = False
            self.tree.refresh()
        self._unmanaged_src = snap.unmanaged

    def _set_managed(self, node: ManagedNode) -> None:
        old = self._managed.get(node.name)
        if old is not None:
            self._count(old, -1)
        self._managed[node.name] = node
        self._count(node, +1)
        p = self.pos[node.name]
        obs = node.observed
        ts = self.tsig.get(node.template)
        if node.state in _ON and obs is not None and obs.ready and not obs.unschedulable:
            self._put(p, self._free(obs.name, node.template, obs))
            self._put(self.n + p, None)
        elif node.state is NodeState.POWERING_ON and ts is not None:
            r = self.templates[node.template].resources
            entry = (node.name, node.template, r.cpu_millis, r.memory_bytes, r.gpus,
                     _slots(r.pods), ts[0], ts[1])  # fmt: skip
            self._put(p, None)
            self._put(self.n + p, entry)
        else:
            self._put(p, None)
            self._put(self.n + p, None)

    def _count(self, node: ManagedNode, sign: int) -> None:
        t = node.template
        if t not in self.not_off:
            return
        if node.state is not NodeState.OFF:
            self.not_off[t] += sign
        elif node.enabled:
            entry = (node.attempts, node.name, node.retry_at)
            if sign > 0:
                insort(self.pool[t], entry)
            else:
                pool = self.pool[t]
                del pool[bisect_left(pool, entry)]

    def _set_unmanaged(self, name: str, obs: NodeObservation | None) -> None:
        if obs is None:
            self._unmanaged.pop(name, None)
        else:
            self._unmanaged[name] = obs
        p = self.pos[name]
        if name in self._managed:
            return  # a managed node's own slots win
        ok = obs is not None and obs.ready and not obs.unschedulable
        self._put(p, self._free(name, "", obs) if ok and obs is not None else None)

    def _free(
        self, name: str, template: str, obs: NodeObservation
    ) -> tuple[str, str, int, int, int, int, int, int]:
        cpu, mem, gpus, pods = obs.in_use
        a = obs.allocatable
        return (name, template, a.cpu_millis - cpu, a.memory_bytes - mem, a.gpus - gpus,
                _slots(a.pods) - pods, self.sigs.of(obs.labels, obs.taints),
                self.sigs.of((), obs.taints))  # fmt: skip

    def _put(self, slot: int, entry: tuple[str, str, int, int, int, int, int, int] | None) -> None:
        old = self.base.get(slot)
        put = self.tree.set_leaf if self._bulk else self.tree.set
        if entry is None:
            if old is None:
                return
            del self.base[slot]
            put(slot, -1, -1, -1, -1)
        else:
            self.base[slot] = entry
            put(slot, entry[2], entry[3], entry[4], entry[5])
        if self._compat and (old is None or entry is None or old[6] != entry[6]):
            for placement, slots in self._compat.items():
                i = bisect_left(slots, slot)
                present = i < len(slots) and slots[i] == slot
                want = entry is not None and self.admits(placement, entry[6])
                if want and not present:
                    slots.insert(i, slot)
                elif present and not want:
                    del slots[i]

    # ------------------------------------------------------------------ queries

    def why_not(self, placement: Placement, sig: int) -> str | None:
        """`placement.why_not` for nodes of signature `sig` (cached: both are immutable)."""
        key = (placement, sig)
        try:
            return self._why_not[key]
        except KeyError:
            if len(self._why_not) > 200_000:
                self._why_not.clear()
            why = self._why_not[key] = placement.why_not(*self.sigs.table[sig])
            return why

    def admits(self, placement: Placement, sig: int) -> bool:
        """Whether nodes of signature `sig` admit `placement` (cached)."""
        return self.why_not(placement, sig) is None

    def compatible_slots(self, placement: Placement) -> list[int]:
        """Slots of the free-room and booting tiers whose node admits `placement`, in order."""
        slots = self._compat.get(placement)
        if slots is None:
            if len(self._compat) >= _MAX_PLACEMENTS:
                self._compat.clear()
            slots = self._compat[placement] = sorted(
                s for s, e in self.base.items() if self.admits(placement, e[6])
            )
        return slots

    def fill(self, keys: list[str], reason: str) -> dict[str, str]:
        """`dict.fromkeys(keys, reason)`, the same dict again while `keys` is the same list
        (a group's keys that did not change) and the reason too."""
        got = self._fills.get((id(keys), reason))
        if got is not None and got[0] is keys:
            return got[1]
        if len(self._fills) > 1024:
            self._fills.clear()
        out = dict.fromkeys(keys, reason)
        self._fills[(id(keys), reason)] = (keys, out)
        return out

    def restore(self, touched: set[int]) -> None:
        """Put the snapshot's room back into the slots a packing changed or opened."""
        for slot in touched:
            e = self.base.get(slot)
            if e is None:
                self.tree.set(slot, -1, -1, -1, -1)
            else:
                self.tree.set(slot, e[2], e[3], e[4], e[5])
