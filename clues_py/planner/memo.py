"""What the planner keeps from one plan to the next, so a pass re-plans only what changed.

`PlanMemo` holds three indexes over the snapshots it is shown and brings each up to date
from what changed since the snapshot it last saw:

- `NodeIndex` (here): managed nodes by state, the disabled ones and counts per (state,
  template), so policies look only at the nodes that matter to them;
- `BinIndex` (`bins.py`): the packer's free room, booting nodes and OFF pools;
- `DemandGroups` (`demand.py`): demand grouped by (requests, placement).

Which managed nodes changed comes from the snapshot's hints (`version`, `base`, `changed`)
when they follow the snapshot seen last, else from comparing the node tuples by identity
(the daemon keeps unchanged `ManagedNode`s as the same objects); demand follows its own
version and delta (`Demand.version`/`base`/`delta`). A memo that has seen nothing builds
each index from scratch on first use; that is what `plan()` does without a memo, so
incremental and from-scratch planning share every line of the planning code and differ
only in how the indexes were reached (the property tests compare both). Owned by one
caller (the daemon), used by one `plan()` at a time. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from clues_py.model import ClusterSnapshot, ManagedNode, NodeState
from clues_py.planner.bins import BinIndex
from clues_py.planner.demand import DemandGroups

__all__ = ["NodeIndex", "PlanMemo"]


class NodeIndex:
    def __init__(self) -> None:
        self._nodes: list[ManagedNode] = []
        self._by_state: dict[NodeState, set[int]] = {s: set() for s in NodeState}
        self.disabled: set[str] = set()
        self.counts: Counter[tuple[NodeState, str]] = Counter()
        self.enabled_counts: Counter[tuple[NodeState, str]] = Counter()
        self._listed: dict[NodeState, list[ManagedNode]] = {}  # in_state's answers, until a change

    def sync(self, snap: ClusterSnapshot, dirty: set[int] | None) -> None:
        self._listed = {}
        if dirty is None:
            self._nodes = list(snap.nodes)
            self._by_state = {s: set() for s in NodeState}
            self.disabled, self.counts, self.enabled_counts = set(), Counter(), Counter()
            for i, n in enumerate(self._nodes):
                self._add(i, n)
            return
        for i in dirty:
            self._remove(i, self._nodes[i])
            self._nodes[i] = snap.nodes[i]
            self._add(i, self._nodes[i])

    def _add(self, i: int, n: ManagedNode) -> None:
        self._by_state[n.state].add(i)
        self.counts[(n.state, n.template)] += 1
        if n.enabled:
            self.enabled_counts[(n.state, n.template)] += 1
        else:
            self.disabled.add(n.name)

    def _remove(self, i: int, n: ManagedNode) -> None:
        self._by_state[n.state].discard(i)
        self.counts[(n.state, n.template)] -= 1
        if n.enabled:
            self.enabled_counts[(n.state, n.template)] -= 1
        else:
            self.disabled.discard(n.name)

    def in_state(self, state: NodeState) -> list[ManagedNode]:
        """Nodes in `state`, in snapshot order (a list the caller must not change)."""
        got = self._listed.get(state)
        if got is None:
            nodes = self._nodes
            got = self._listed[state] = [nodes[i] for i in sorted(self._by_state[state])]
        return got

    def count(self, state: NodeState) -> int:
        return len(self._by_state[state])


class PlanMemo:
    def __init__(self) -> None:
        self._nodes = NodeIndex()
        self._bins = BinIndex()
        self._demand = DemandGroups()
        self._seen: ClusterSnapshot | None = None
        # (id(chunk), policy) -> (chunk, its keys attributed to the policy), see `attributed`
        self._attributed: dict[tuple[int, str], tuple[Mapping[str, str], dict[str, str]]] = {}
        self._pos: dict[str, int] = {}  # name -> position in the node tuples seen
        # positions changed since each index last synced (None: it must rebuild)
        self._dirty: dict[str, set[int] | None] = {"nodes": None, "bins": None}

    def see(self, snap: ClusterSnapshot) -> None:
        """Note what changed in `snap` since the snapshot seen before (once per plan)."""
        old = self._seen
        self._seen = snap
        if old is not None and snap.nodes is old.nodes:
            return
        changed = None if old is None else self._changed(old, snap)
        if changed is None:
            self._pos = {n.name: i for i, n in enumerate(snap.nodes)}
        for key, dirty in self._dirty.items():
            if changed is None or dirty is None:
                self._dirty[key] = None if changed is None else dirty
            else:
                dirty |= changed

    def _changed(self, old: ClusterSnapshot, snap: ClusterSnapshot) -> set[int] | None:
        if len(old.nodes) != len(snap.nodes):
            return None
        if snap.base is not None and snap.base == old.version:
            pos = self._pos
            if not snap.changed <= pos.keys():
                return None
            return {pos[name] for name in snap.changed}
        out = {i for i, (a, b) in enumerate(zip(old.nodes, snap.nodes, strict=True)) if a is not b}
        if any(old.nodes[i].name != snap.nodes[i].name for i in out):
            return None
        return out

    def _take(self, key: str, snap: ClusterSnapshot) -> set[int] | None:
        if self._seen is not snap:
            self.see(snap)
        dirty = self._dirty[key]
        self._dirty[key] = set()
        return dirty

    def nodes(self, snap: ClusterSnapshot) -> NodeIndex:
        """The node index, synced to `snap`."""
        dirty = self._take("nodes", snap)
        if dirty is None or dirty:
            self._nodes.sync(snap, dirty)
        return self._nodes

    def bins(self, snap: ClusterSnapshot) -> BinIndex:
        """The packer's bins, synced to `snap`."""
        self._bins.sync(snap, self._take("bins", snap))
        return self._bins

    def attributed(self, chunk: Mapping[str, str], policy: str) -> dict[str, str]:
        """`dict.fromkeys(chunk, policy)`, the same dict again while `chunk` is the same
        (shared reasons of a demand group: `clues_py.planner.reasons`)."""
        key = (id(chunk), policy)
        got = self._attributed.get(key)
        if got is not None and got[0] is chunk:
            return got[1]
        if len(self._attributed) > 4096:
            self._attributed.clear()
        out = dict.fromkeys(chunk, policy)
        self._attributed[key] = (chunk, out)
        return out

    def demand(self, snap: ClusterSnapshot) -> DemandGroups:
        """The demand groups, synced to `snap.demand`."""
        self._demand.update(snap.demand)
        return self._demand
