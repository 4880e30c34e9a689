"""First-fit-decreasing multi-resource bin packing of demand onto nodes.

Pending pods and hidden demand are grouped by identical (requests, placement), since
batch work is mostly many copies of one pod, and groups are packed with counts, so
the cost grows with groups x nodes rather than pods x nodes. Groups are taken in
decreasing order of their dominant share (the largest of their cpu, memory and GPU
fractions of the biggest template), ties by their first key. Each group goes:

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
policy vetoes afterwards. This module decides nothing about scale-down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from clues_py.model import (
    ClusterSnapshot,
    HiddenDemand,
    NodeObservation,
    NodeState,
    NodeTemplate,
    Placement,
    PodInfo,
    Resources,
    Taint,
)
from clues_py.planner.chain import ExpanderChain, Option
from clues_py.planner.firstfit import MaxTree

__all__ = ["Group", "NewNode", "PackResult", "group_demand", "never_fits", "pack"]

DEFAULT_POD_SLOTS = 110
# Reasons meaning no template can ever hold the work, whatever is powered on or off.
NEVER_FITS_MARKERS = ("fits no template", "no template matches", "fits only GPU template")
_ON = (NodeState.IDLE, NodeState.USED)


@dataclass(slots=True)
class Group:
    """Identical demand units: one key per pod (a hidden entry repeats its key)."""

    requests: Resources
    placement: Placement
    keys: list[str]
    # False for booked capacity (a Provisioned ProvisioningRequest): it may hold free or
    # booting room, packed before everything else, but never opens a node.
    may_open: bool = True


@dataclass(slots=True)
class _Bin:
    name: str
    template: str
    cpu: int
    mem: int
    gpus: int
    pods: int
    sig: int  # index of (labels, taints) in the signature table
    tsig: int  # index of ((), taints): all that matters to pods without label constraints
    kind: str = "existing"  # existing | booting | new
    keys: list[str] = field(default_factory=list)
    why: str = ""  # new nodes: how the template was chosen


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
    unplaceable: dict[str, str] = field(default_factory=dict)  # key -> why no node


def group_demand(
    pods: Iterable[PodInfo],
    hidden: Iterable[HiddenDemand] = (),
    booked: Iterable[HiddenDemand] = (),
) -> list[Group]:
    """Group identical demand; keys inside a group are ordered oldest first, then by key.

    `booked` units (capacity already promised) form their own groups that never open nodes.
    """
    acc: dict[tuple[Resources, Placement, bool], list[tuple[float, str]]] = {}
    for p in pods:
        acc.setdefault((p.requests, p.placement, True), []).append((p.created, p.key))
    for may_open, units in ((True, hidden), (False, booked)):
        for h in units:
            if h.count > 0:
                acc.setdefault((h.per_pod, h.placement, may_open), []).extend(
                    [(h.created, h.key)] * h.count
                )
    return [Group(r, pl, [k for _, k in sorted(items)], o) for (r, pl, o), items in acc.items()]


def never_fits(reason: str) -> bool:
    """True when an unplaceable reason says that no template can ever hold the work."""
    return any(m in reason for m in NEVER_FITS_MARKERS)


def _slots(n: int) -> int:
    return n if n > 0 else DEFAULT_POD_SLOTS


class _Signatures:
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


def _fit(b: _Bin, rc: int, rm: int, rg: int, rp: int) -> int:
    n = b.pods // rp
    if rc and n > 0:
        n = min(n, b.cpu // rc)
    if rm and n > 0:
        n = min(n, b.mem // rm)
    if rg and n > 0:
        n = min(n, b.gpus // rg)
    return n


def _template_bin(name: str, t: NodeTemplate, sig: int, tsig: int, kind: str) -> _Bin:
    r = t.resources
    return _Bin(name, t.name, r.cpu_millis, r.memory_bytes, r.gpus, _slots(r.pods), sig, tsig, kind)


class _Packer:
    def __init__(
        self,
        snap: ClusterSnapshot,
        taken: frozenset[str],
        chain: ExpanderChain,
        gpu_for_cpu: bool,
    ) -> None:
        self.snap = snap
        self.chain = chain
        self.gpu_for_cpu = gpu_for_cpu
        self.last_choice = ""
        self.sigs = _Signatures()
        self.templates: Mapping[str, NodeTemplate] = snap.templates
        self.tsig = {
            n: (self.sigs.of(t.labels, t.taints), self.sigs.of((), t.taints))
            for n, t in self.templates.items()
        }
        existing: list[_Bin] = []
        booting: list[_Bin] = []
        self.pool: dict[str, list[str]] = {n: [] for n in self.templates}  # OFF candidates
        self.not_off: dict[str, int] = dict.fromkeys(self.templates, 0)
        now = snap.now
        ranked: list[tuple[int, str, str]] = []
        for node in snap.nodes:
            if node.template in self.not_off and node.state is not NodeState.OFF:
                self.not_off[node.template] += 1
            obs = node.observed
            if node.state in _ON and obs is not None and obs.ready and not obs.unschedulable:
                existing.append(self._free_bin(obs.name, node.template, obs))
            elif node.state is NodeState.POWERING_ON and node.template in self.templates:
                t = self.templates[node.template]
                booting.append(_template_bin(node.name, t, *self.tsig[t.name], "booting"))
            elif (
                node.state is NodeState.OFF
                and node.enabled
                and node.retry_at <= now
                and node.template in self.templates
                and node.name not in taken
            ):
                ranked.append((node.attempts, node.name, node.template))
        for _, name, tname in sorted(ranked):
            self.pool[tname].append(name)
        for obs in snap.unmanaged:
            if obs.ready and not obs.unschedulable:
                existing.append(self._free_bin(obs.name, "", obs))
        # Scan order is the slot order: free room, then booting, then opened nodes.
        existing.sort(key=lambda b: b.name)  # independent of the snapshot's node order
        booting.sort(key=lambda b: b.name)
        self.bins = existing + booting
        self.tree = MaxTree(len(self.bins) + len(ranked))
        for i, b in enumerate(self.bins):
            self.tree.set(i, b.cpu, b.mem, b.gpus, b.pods)
        self.pool_pos = dict.fromkeys(self.templates, 0)
        ref = [t.resources for t in self.templates.values()]
        self.ref_cpu = max((r.cpu_millis for r in ref), default=0) or 1
        self.ref_mem = max((r.memory_bytes for r in ref), default=0) or 1
        self.ref_gpu = max((r.gpus for r in ref), default=0)

    def _free_bin(self, name: str, template: str, obs: NodeObservation) -> _Bin:
        cpu = mem = gpus = pods = 0
        for p in obs.pods:
            if p.phase == "Pending" or p.phase == "Running":
                r = p.requests
                cpu += r.cpu_millis
                mem += r.memory_bytes
                gpus += r.gpus
                pods += max(r.pods, 1)
        a = obs.allocatable
        return _Bin(
            name,
            template,
            a.cpu_millis - cpu,
            a.memory_bytes - mem,
            a.gpus - gpus,
            _slots(a.pods) - pods,
            self.sigs.of(obs.labels, obs.taints),
            self.sigs.of((), obs.taints),
        )

    def dominant(self, r: Resources) -> float:
        share = max(r.cpu_millis / self.ref_cpu, r.memory_bytes / self.ref_mem)
        if r.gpus:
            share = max(share, r.gpus / self.ref_gpu if self.ref_gpu else float("inf"))
        return share

    # ------------------------------------------------------------------ packing

    def pack(self, groups: list[Group]) -> PackResult:
        res = PackResult()
        order = sorted(groups, key=lambda g: (g.may_open, -self.dominant(g.requests), g.keys[0]))
        for g in order:
            self._pack_group(g, res)
        for b in self.bins:
            if b.kind == "new":
                res.new_nodes.append(
                    NewNode(b.name, b.template, tuple(b.keys), _requested(b, self), b.why)
                )
            elif b.keys:
                (res.existing if b.kind == "existing" else res.booting)[b.name] = b.keys
        return res

    def _place(self, i: int, g: Group, pos: int, n: int) -> int:
        b = self.bins[i]
        r = g.requests
        b.cpu -= n * r.cpu_millis
        b.mem -= n * r.memory_bytes
        b.gpus -= n * r.gpus
        b.pods -= n * max(r.pods, 1)
        self.tree.set(i, b.cpu, b.mem, b.gpus, b.pods)
        b.keys.extend(g.keys[pos : pos + n])
        return pos + n

    def _pack_group(self, g: Group, res: PackResult) -> None:
        r = g.requests
        rc, rm, rg, rp = r.cpu_millis, r.memory_bytes, r.gpus, max(r.pods, 1)
        pl = g.placement
        compat: dict[int, bool] = {}
        pos, total = 0, len(g.keys)
        bins, table = self.bins, self.sigs.table
        if pl.node_selector or pl.affinity_terms:
            # Label constraints: usually few nodes qualify, so scan and filter.
            for i, b in enumerate(bins):
                if b.pods <= 0:
                    continue
                ok = compat.get(b.sig)
                if ok is None:
                    ok = compat[b.sig] = pl.why_not(*table[b.sig]) is None
                if ok and (n := min(_fit(b, rc, rm, rg, rp), total - pos)) > 0:
                    pos = self._place(i, g, pos, n)
                    if pos == total:
                        return
        else:
            i = self.tree.find(0, rc, rm, rg, rp)
            while i >= 0:
                b = bins[i]
                ok = compat.get(b.tsig)
                if ok is None:
                    ok = compat[b.tsig] = pl.why_not(*table[b.tsig]) is None
                if ok:
                    pos = self._place(i, g, pos, min(_fit(b, rc, rm, rg, rp), total - pos))
                    if pos == total:
                        return
                i = self.tree.find(i + 1, rc, rm, rg, rp)
        if not g.may_open:
            for k in g.keys[pos:]:
                res.unplaceable[k] = "booked capacity no longer fits on Ready or booting nodes"
            return
        while pos < total:
            t = self._choose_template(g, total - pos, res)
            if t is None:
                return
            name = self.pool[t.name][self.pool_pos[t.name]]
            self.pool_pos[t.name] += 1
            self.not_off[t.name] += 1
            bins.append(_template_bin(name, t, *self.tsig[t.name], "new"))
            bins[-1].why = self.last_choice
            i = len(bins) - 1
            pos = self._place(i, g, pos, min(_fit(bins[i], rc, rm, rg, rp), total - pos))

    def _choose_template(self, g: Group, remaining: int, res: PackResult) -> NodeTemplate | None:
        r = g.requests
        rc, rm, rg, rp = r.cpu_millis, r.memory_bytes, r.gpus, max(r.pods, 1)
        admitting: list[NodeTemplate] = []
        rejected: list[str] = []
        options: list[Option] = []
        gpu_only: list[NodeTemplate] = []
        for name in sorted(self.templates):
            t = self.templates[name]
            labels, taints = self.sigs.table[self.tsig[name][0]]
            why = g.placement.why_not(labels, taints)
            if why is None and not rg and t.resources.gpus and not self.gpu_for_cpu:
                why = "GPU nodes are kept for GPU work (gpu_nodes_for_cpu_work: false)"
                gpu_only.append(t)
            if why is not None:
                rejected.append(f"{name}: {why}")
                continue
            admitting.append(t)
            per_node = _fit(_template_bin("", t, 0, 0, "new"), rc, rm, rg, rp)
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
        for k in g.keys[len(g.keys) - remaining :]:
            res.unplaceable[k] = reason
        return None

    def _available(self, t: NodeTemplate) -> bool:
        if self.snap.template_backoff.get(t.name, float("-inf")) > self.snap.now:
            return False
        if self.pool_pos[t.name] >= len(self.pool[t.name]):
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


def _requested(b: _Bin, p: _Packer) -> Resources:
    t = p.templates[b.template].resources
    return Resources(
        t.cpu_millis - b.cpu, t.memory_bytes - b.mem, t.gpus - b.gpus, _slots(t.pods) - b.pods
    )


def pack(
    snap: ClusterSnapshot,
    groups: list[Group],
    *,
    taken: Iterable[str] = (),
    chain: ExpanderChain | None = None,
    gpu_nodes_for_cpu_work: bool = False,
) -> PackResult:
    """Pack `groups` onto the snapshot's nodes; `taken` nodes are not opened (have actions).

    `chain` picks the template of each new node (None: the template name alone; the
    daemon always passes one, by default priority, cheapest, least_waste); GPU templates are opened only for GPU work unless
    `gpu_nodes_for_cpu_work`.
    """
    return _Packer(snap, frozenset(taken), chain or ExpanderChain(), gpu_nodes_for_cpu_work).pack(
        groups
    )
