"""First-fit-decreasing multi-resource bin packing of demand onto nodes.

Pending pods and hidden demand are grouped by identical (requests, placement), since
batch work is mostly many copies of one pod, and groups are packed with counts, so
the cost grows with groups x nodes rather than pods x nodes. Groups are taken in
decreasing order of their dominant share (the largest of their cpu, memory and GPU
fractions of the biggest template), ties by their first key; booked capacity (groups
that may not open a node) goes first and only onto steps 1 and 2. Each group goes:

1. onto free room of Ready, schedulable nodes (managed IDLE/USED and unmanaged):
   allocatable minus what running and pending pods there request. No power-on.
2. onto nodes already POWERING_ON (their template's resources);
3. onto nodes opened earlier in this same packing (first fit);
4. onto a newly opened OFF node. Template choice among those whose labels/taints
   admit the group and whose resources hold one pod is the expander chain's
   (`chain.py`; the daemon's default chain: highest `priority`, then lowest
   `cost_per_hour`, then least waste; the name breaks the last tie). GPU templates are options only for GPU work unless
   `gpu_nodes_for_cpu_work`. Within a template, OFF enabled nodes whose
   `retry_at` has passed, fewest failed attempts first, then by name; `max_count`
   counts the template's nodes that are not OFF.

A pod slot capacity of 0 (template or node without `pods`) means the Kubernetes
default of 110. Limits (max_booting, max_nodes) are not applied here: the `limits`
policy vetoes afterwards. This module decides nothing about scale-down. The bins (free
room, booting nodes, OFF pools) live in a `BinIndex` (`bins.py`) that the planner keeps
between passes; a packing changes its tree and gives it back as it found it. Grouping the
demand is `demand.py`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from clues_py.model import ClusterSnapshot, NodeTemplate, Resources
from clues_py.planner.bins import DEFAULT_POD_SLOTS, BinIndex
from clues_py.planner.chain import ExpanderChain, Option
from clues_py.planner.demand import Group, group_demand
from clues_py.planner.reasons import Reasons

__all__ = [
    "DEFAULT_POD_SLOTS",
    "Group",
    "NewNode",
    "PackResult",
    "group_demand",
    "never_fits",
    "pack",
]

# Reasons meaning no template can ever hold the work, whatever is powered on or off.
NEVER_FITS_MARKERS = ("fits no template", "no template matches", "fits only GPU template")


@dataclass(frozen=True, slots=True)
class NewNode:
    node: str
    template: str
    keys: tuple[str, ...]  # demand units packed onto it, in packing order
    requested: Resources
    why: str = ""  # how the template was chosen (expander chain)


@dataclass(slots=True)
class PackResult:
    existing: dict[str, list[str]] = field(default_factory=dict)  # node -> keys on free room
    booting: dict[str, list[str]] = field(default_factory=dict)  # node -> keys waiting for it
    new_nodes: list[NewNode] = field(default_factory=list)
    # key -> why no node; a group's reasons are shared between packings while it stays
    unplaceable: Reasons = field(default_factory=Reasons)
    # The packing may differ from then on with nothing else changing: a node it had to
    # skip may be retried, or a template's back-off ends.
    revisit_at: float = float("inf")


def never_fits(reason: str) -> bool:
    """True when an unplaceable reason says that no template can ever hold the work."""
    return any(m in reason for m in NEVER_FITS_MARKERS)


def _slots(n: int) -> int:
    return n if n > 0 else DEFAULT_POD_SLOTS


class _Packer:
    """One packing over a `BinIndex`: places groups, then restores the index."""

    def __init__(
        self,
        snap: ClusterSnapshot,
        bins: BinIndex,
        taken: frozenset[str],
        chain: ExpanderChain,
        gpu_for_cpu: bool,
    ) -> None:
        self.snap = snap
        self.ix = bins
        self.tree = bins.tree
        self.chain = chain
        self.gpu_for_cpu = gpu_for_cpu
        self.taken = taken
        self.last_choice = ""
        self.templates = bins.templates
        self.not_off = dict(bins.not_off)
        self.cursor = dict.fromkeys(bins.pool, 0)  # next pool entry to look at, per template
        self.touched: set[int] = set()
        self.keys: dict[int, list[str]] = {}  # slot -> demand units placed on it
        # Opened nodes: slot 2N + i is new[i] = (name, template, why)
        self.new: list[tuple[str, str, str]] = []
        self.first_new = 2 * bins.n
        self.ref_cpu, self.ref_mem, self.ref_gpu = bins.ref
        self.revisit_at = float("inf")

    def dominant(self, r: Resources) -> float:
        share = max(r.cpu_millis / self.ref_cpu, r.memory_bytes / self.ref_mem)
        if r.gpus:
            share = max(share, r.gpus / self.ref_gpu if self.ref_gpu else float("inf"))
        return share

    # ------------------------------------------------------------------ packing

    def pack(self, groups: list[Group]) -> PackResult:
        res = PackResult()
        try:
            order = sorted(
                groups, key=lambda g: (g.may_open, -self.dominant(g.requests), g.keys[0])
            )
            for g in order:
                self._pack_group(g, res)
            tree, base = self.tree, self.ix.base
            for slot in sorted(self.keys):
                keys = self.keys[slot]
                if slot >= self.first_new:
                    name, tname, why = self.new[slot - self.first_new]
                    t = self.templates[tname].resources
                    j = tree.size + slot
                    requested = Resources(
                        t.cpu_millis - tree.cpu[j],
                        t.memory_bytes - tree.mem[j],
                        t.gpus - tree.gpu[j],
                        _slots(t.pods) - tree.pods[j],
                    )
                    res.new_nodes.append(NewNode(name, tname, tuple(keys), requested, why))
                else:
                    out = res.existing if slot < self.ix.n else res.booting
                    out[base[slot][0]] = keys
        finally:
            self.ix.restore(self.touched)
        res.revisit_at = self.revisit_at
        return res

    def _fit(self, i: int, rc: int, rm: int, rg: int, rp: int) -> int:
        t, j = self.tree, self.tree.size + i
        n = t.pods[j] // rp
        if rc and n > 0:
            n = min(n, t.cpu[j] // rc)
        if rm and n > 0:
            n = min(n, t.mem[j] // rm)
        if rg and n > 0:
            n = min(n, t.gpu[j] // rg)
        return n

    def _place(self, i: int, g: Group, pos: int, n: int) -> int:
        t, j, r = self.tree, self.tree.size + i, g.requests
        t.set(
            i,
            t.cpu[j] - n * r.cpu_millis,
            t.mem[j] - n * r.memory_bytes,
            t.gpu[j] - n * r.gpus,
            t.pods[j] - n * max(r.pods, 1),
        )
        self.touched.add(i)
        self.keys.setdefault(i, []).extend(g.keys[pos : pos + n])
        return pos + n

    def _new_sig(self, i: int) -> tuple[int, int]:
        return self.ix.tsig[self.new[i - self.first_new][1]]

    def _pack_group(self, g: Group, res: PackResult) -> None:
        r = g.requests
        rc, rm, rg, rp = r.cpu_millis, r.memory_bytes, r.gpus, max(r.pods, 1)
        pl = g.placement
        pos, total = 0, len(g.keys)
        ix, tree = self.ix, self.tree
        if pl.node_selector or pl.affinity_terms:
            # Label constraints: usually few nodes qualify; scan only those (then new ones).
            pods = tree.pods
            for i in ix.compatible_slots(pl):
                if pods[tree.size + i] <= 0:
                    continue
                if (n := min(self._fit(i, rc, rm, rg, rp), total - pos)) > 0:
                    pos = self._place(i, g, pos, n)
                    if pos == total:
                        return
            for k in range(len(self.new)):
                i = self.first_new + k
                if pods[tree.size + i] <= 0 or not ix.admits(pl, self._new_sig(i)[0]):
                    continue
                if (n := min(self._fit(i, rc, rm, rg, rp), total - pos)) > 0:
                    pos = self._place(i, g, pos, n)
                    if pos == total:
                        return
        else:
            i = tree.find(0, rc, rm, rg, rp)
            while i >= 0:
                tsig = self._new_sig(i)[1] if i >= self.first_new else ix.base[i][7]
                if ix.admits(pl, tsig):
                    pos = self._place(i, g, pos, min(self._fit(i, rc, rm, rg, rp), total - pos))
                    if pos == total:
                        return
                i = tree.find(i + 1, rc, rm, rg, rp)
        if not g.may_open:
            booked = "booked capacity no longer fits on Ready or booting nodes"
            res.unplaceable.update(dict.fromkeys(g.keys[pos:], booked))
            return
        while pos < total:
            t = self._choose_template(g, total - pos, res)
            if t is None:
                return
            name = self._take(t.name)
            self.not_off[t.name] += 1
            i = self.first_new + len(self.new)
            self.new.append((name, t.name, self.last_choice))
            tr = t.resources
            tree.set(i, tr.cpu_millis, tr.memory_bytes, tr.gpus, _slots(tr.pods))
            self.touched.add(i)
            pos = self._place(i, g, pos, min(self._fit(i, rc, rm, rg, rp), total - pos))

    def _peek(self, template: str) -> str | None:
        """The next OFF node of `template` that may be opened now, or None."""
        pool, at = self.ix.pool[template], self.cursor[template]
        now, taken = self.snap.now, self.taken
        while at < len(pool) and (pool[at][2] > now or pool[at][1] in taken):
            if pool[at][2] > now:
                self.revisit_at = min(self.revisit_at, pool[at][2])
            at += 1
        self.cursor[template] = at
        return pool[at][1] if at < len(pool) else None

    def _take(self, template: str) -> str:
        name = self._peek(template)
        assert name is not None  # _available said so
        self.cursor[template] += 1
        return name

    def _choose_template(self, g: Group, remaining: int, res: PackResult) -> NodeTemplate | None:
        r = g.requests
        hopeless = self.ix.hopeless.get((g.placement, r, self.gpu_for_cpu))
        if hopeless is not None:  # no template admits it: the same answer as last time
            self._unplaceable(res, g, remaining, hopeless)
            return None
        rc, rm, rg, rp = r.cpu_millis, r.memory_bytes, r.gpus, max(r.pods, 1)
        admitting: list[NodeTemplate] = []
        rejected: list[str] = []
        options: list[Option] = []
        gpu_only: list[NodeTemplate] = []
        for name in sorted(self.templates):
            t = self.templates[name]
            why = self.ix.why_not(g.placement, self.ix.tsig[name][0])
            if why is None and not rg and t.resources.gpus and not self.gpu_for_cpu:
                why = "GPU nodes are kept for GPU work (gpu_nodes_for_cpu_work: false)"
                gpu_only.append(t)
            if why is not None:
                rejected.append(f"{name}: {why}")
                continue
            admitting.append(t)
            tr = t.resources
            per_node = _slots(tr.pods) // rp
            if rc and per_node > 0:
                per_node = min(per_node, tr.cpu_millis // rc)
            if rm and per_node > 0:
                per_node = min(per_node, tr.memory_bytes // rm)
            if rg and per_node > 0:
                per_node = min(per_node, tr.gpus // rg)
            if per_node <= 0 or not self._available(t):
                continue
            n = min(per_node, remaining)
            options.append(Option(t, n, Resources(n * rc, n * rm, n * rg, n * rp)))
        chosen, decided = self.chain.choose(options)
        if chosen is not None:
            self.last_choice = (
                f"template {chosen.template.name} chosen by expander {decided} "
                f"among {', '.join(o.template.name for o in options)}"
                if decided
                else ""
            )
            return chosen.template
        reason = self._why_unplaceable(g, admitting, rejected)
        probe = Resources(rc, rm, rg, 0)
        held = [t.name for t in gpu_only if probe.fits(t.resources)]
        if held and not any(probe.fits(t.resources) for t in admitting):
            reason = (
                f"fits only GPU template(s) {', '.join(held)}, kept for GPU work "
                f"(gpu_nodes_for_cpu_work: false); {reason}"
            )
        if not admitting:
            self.ix.hopeless[(g.placement, r, self.gpu_for_cpu)] = reason
        self._unplaceable(res, g, remaining, reason)
        return None

    def _unplaceable(self, res: PackResult, g: Group, remaining: int, reason: str) -> None:
        keys = g.keys if remaining == len(g.keys) else g.keys[len(g.keys) - remaining :]
        res.unplaceable.add_chunk(self.ix.fill(keys, reason))

    def _available(self, t: NodeTemplate) -> bool:
        until = self.snap.template_backoff.get(t.name, float("-inf"))
        if until > self.snap.now:
            self.revisit_at = min(self.revisit_at, until)
            return False
        if self._peek(t.name) is None:
            return False
        return t.max_count is None or self.not_off[t.name] < t.max_count

    def _why_unplaceable(self, g: Group, admitting: list[NodeTemplate], rejected: list[str]) -> str:
        r = g.requests
        if not self.templates:
            return f"fits no template: needs {r}, and no templates are configured"
        if not admitting:
            return "no template matches its placement: " + "; ".join(rejected)
        probe = Resources(r.cpu_millis, r.memory_bytes, r.gpus, 0)
        fitting = [t for t in admitting if probe.fits(t.resources)]
        if not fitting:
            big = max(admitting, key=lambda t: (t.resources.cpu_millis, t.resources.memory_bytes))
            return f"fits no template: needs {r}, largest template {big.name} has {big.resources}"
        parts = []
        for t in fitting:
            until = self.snap.template_backoff.get(t.name, float("-inf"))
            if until > self.snap.now:
                parts.append(
                    f"{t.name}: in back-off after provider errors for {until - self.snap.now:.0f} s more"
                )
            elif t.max_count is not None and self.not_off[t.name] >= t.max_count:
                parts.append(f"{t.name}: max_count {t.max_count} reached")
            else:
                parts.append(f"{t.name}: no OFF enabled node left (others on, failing or taken)")
        return "no node left to power on: " + "; ".join(parts)


def pack(
    snap: ClusterSnapshot,
    groups: list[Group],
    *,
    taken: Iterable[str] = (),
    chain: ExpanderChain | None = None,
    gpu_nodes_for_cpu_work: bool = False,
    bins: BinIndex | None = None,
) -> PackResult:
    """Pack `groups` onto the snapshot's nodes; `taken` nodes are not opened (have actions).

    `chain` picks the template of each new node (None: the template name alone; the
    daemon always passes one, by default priority, cheapest, least_waste); GPU templates
    are opened only for GPU work unless `gpu_nodes_for_cpu_work`. `bins`: the planner's
    `BinIndex` synced to `snap` (None: one is built for this call).
    """
    if bins is None:
        bins = BinIndex()
        bins.sync(snap, None)
    packer = _Packer(snap, bins, frozenset(taken), chain or ExpanderChain(), gpu_nodes_for_cpu_work)
    return packer.pack(groups)
