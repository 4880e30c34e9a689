"""Inter-pod constraints for one incoming pod: affinity, anti-affinity and topology spread.

`InterPod(info, placed, nodes)` is kube-scheduler's PreFilter/PreScore state for
the InterPodAffinity and PodTopologySpread plugins: counts of matching pods per
topology domain, taken from the incremental counts in `placed.py`. `reason(node)`
is the per-node filter in upstream order and words (spread first, then affinity,
anti-affinity, existing pods' anti-affinity); `removed` pods (preemption victims on
that node) are taken out of the counts. `affinity_score`/`spread_score` are the raw
scores `selection.py` normalizes. Pure: reads the caches, never writes them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from clues_py.sandbox.controllers.placed import PlacedPods, PodRec
from clues_py.sandbox.controllers.podterms import PodSpecInfo, Selector, Spread, Term
from clues_py.sandbox.controllers.scheduling import (
    AFFINITY_REASON,
    ANTI_REASON,
    EXISTING_ANTI_REASON,
    SPREAD_LABEL_REASON,
    SPREAD_REASON,
    NodeInfo,
    untolerated_hard_taint,
)

Pair = tuple[str, str]  # (topology key, value)


@dataclass(slots=True)
class _SpreadState:
    c: Spread
    terms: tuple[tuple[frozenset[str], Selector], ...]
    counts: Counter[str] = field(default_factory=Counter)  # domain value -> matching pods
    domains: frozenset[str] = frozenset()
    self_match: int = 0
    low: int = 0  # the global minimum (0 below minDomains)
    blocked: frozenset[str] = frozenset()  # domains where one more pod breaks maxSkew

    def settle(self) -> None:
        if len(self.domains) < self.c.min_domains:
            self.low = 0
        else:
            self.low = min((self.counts.get(d, 0) for d in self.domains), default=0)
        self.blocked = frozenset(
            v
            for v, n in self.counts.items()
            if n + self.self_match - min(self.low, n) > self.c.max_skew
        )


class Topology:
    """Which nodes count for spreading a pod, and their domains; cached until nodes change.

    Keyed by (placement, keys, honor node affinity, honor taints): a node counts when
    it has every key and passes the pod's node affinity/taints as the policies say.
    """

    def __init__(self) -> None:
        self._maps: dict[tuple[object, ...], dict[str, dict[str, str]]] = {}
        self._domains: dict[tuple[object, ...], frozenset[str]] = {}
        self._labels: dict[str, Mapping[str, str]] | None = None

    def clear(self) -> None:
        self._maps.clear()
        self._domains.clear()
        self._labels = None

    def labels(self, nodes: Sequence[NodeInfo]) -> dict[str, Mapping[str, str]]:
        if self._labels is None:
            self._labels = {n.name: n.labels for n in nodes}
        return self._labels

    def domains(
        self, info: PodSpecInfo, keys: frozenset[str], c: Spread, nodes: Sequence[NodeInfo]
    ) -> frozenset[str]:
        """The values of `c.topology_key` among the nodes that count."""
        cache_key = (info.placement, keys, c.honor_node_affinity, c.honor_taints, c.topology_key)
        hit = self._domains.get(cache_key)
        if hit is None:
            eligible = self.eligible(info, keys, c, nodes)
            hit = self._domains[cache_key] = frozenset(d[c.topology_key] for d in eligible.values())
        return hit

    def eligible(
        self, info: PodSpecInfo, keys: frozenset[str], c: Spread, nodes: Sequence[NodeInfo]
    ) -> dict[str, dict[str, str]]:
        """node name -> {topology key: value} for the nodes that count."""
        cache_key = (info.placement, keys, c.honor_node_affinity, c.honor_taints)
        hit = self._maps.get(cache_key)
        if hit is None:
            hit = {}
            for n in nodes:
                if not all(k in n.labels for k in keys):
                    continue
                if c.honor_node_affinity and not info.placement.labels_match(n.labels):
                    continue
                if c.honor_taints and untolerated_hard_taint(n, info.placement) is not None:
                    continue
                hit[n.name] = {k: n.labels[k] for k in keys}
            self._maps[cache_key] = hit
        return hit


def _pairs(
    counts: Mapping[str, int], labels: Mapping[str, Mapping[str, str]], keys: Iterable[str]
) -> Counter[Pair]:
    """Per-node counts folded into per-domain counts for each topology key."""
    out: Counter[Pair] = Counter()
    keys = tuple(keys)
    for node, n in counts.items():
        node_labels = labels.get(node) or {}
        for k in keys:
            v = node_labels.get(k)
            if v is not None:
                out[(k, v)] += n
    return out


class InterPod:
    def __init__(
        self,
        info: PodSpecInfo,
        placed: PlacedPods,
        nodes: Sequence[NodeInfo],
        topology: Topology | None = None,
    ) -> None:
        self.info = info
        self.topology = topology or Topology()
        self.labels = self.topology.labels(nodes)
        own = info.label_map
        ns = info.namespace
        # Required affinity: pods matching all terms, counted in each term's domain.
        self.affinity: Counter[Pair] = Counter()
        self.self_affinity = bool(info.affinity) and all(t.matches(ns, own) for t in info.affinity)
        if info.affinity:
            every = tuple((t.namespaces, t.selector) for t in info.affinity)
            self.affinity = _pairs(
                placed.count(every), self.labels, (t.topology_key for t in info.affinity)
            )
        self.anti: Counter[Pair] = Counter()
        for t in info.anti:
            self.anti += _pairs(
                placed.count(((t.namespaces, t.selector),)), self.labels, (t.topology_key,)
            )
        # Existing pods whose required anti-affinity matches this pod.
        self.existing: Counter[Pair] = Counter()
        self.holder_terms: dict[str, list[Term]] = {}
        for rec in placed.holders.values():
            hit = [t for t in rec.info.anti if t.matches(ns, own)]
            if hit:
                self.holder_terms[rec.key] = hit
                for t in hit:
                    v = (self.labels.get(rec.node) or {}).get(t.topology_key)
                    if v is not None:
                        self.existing[(t.topology_key, v)] += 1
        self.hard = self._spreads([c for c in info.spread if c.hard], placed, nodes, own)
        self.soft = self._spreads([c for c in info.spread if not c.hard], placed, nodes, own)
        self.soft_terms = [
            (
                w,
                t,
                _pairs(placed.count(((t.namespaces, t.selector),)), self.labels, (t.topology_key,)),
            )
            for w, t in info.soft_affinity
        ] + [
            (
                -w,
                t,
                _pairs(placed.count(((t.namespaces, t.selector),)), self.labels, (t.topology_key,)),
            )
            for w, t in info.soft_anti
        ]

    def _spreads(
        self,
        constraints: list[Spread],
        placed: PlacedPods,
        nodes: Sequence[NodeInfo],
        own: Mapping[str, str],
    ) -> list[_SpreadState]:
        if not constraints:
            return []
        keys = frozenset(c.topology_key for c in constraints)
        out = []
        for c in constraints:
            terms = ((frozenset({self.info.namespace}), c.selector),)
            st = _SpreadState(c, terms, self_match=int(c.selector.matches(own)))
            eligible = self.topology.eligible(self.info, keys, c, nodes)
            st.domains = self.topology.domains(self.info, keys, c, nodes)
            for node, n in placed.count(terms, True).items():
                where = eligible.get(node)
                if where is not None:
                    st.counts[where[c.topology_key]] += n
            st.settle()
            out.append(st)
        return out

    def hopeless(self, node: NodeInfo) -> bool:
        """A cheap check that rules a node out before any other filter (no reason given)."""
        labels = node.labels
        return any(labels.get(st.c.topology_key) in st.blocked for st in self.hard)

    @property
    def active(self) -> bool:
        """Whether any inter-pod filter can reject a node for this pod."""
        return bool(self.info.affinity or self.info.anti or self.existing or self.hard)

    # ----------------------------------------------------------------- filter
    def reason(self, node: NodeInfo, removed: Sequence[PodRec] = ()) -> str | None:
        labels = node.labels
        for st in self.hard:
            v = labels.get(st.c.topology_key)
            if v is None:
                return SPREAD_LABEL_REASON
            here = st.counts.get(v, 0)
            if removed:
                here -= sum(1 for r in removed if not r.deleting and r.matches(st.terms))
            if here + st.self_match - min(st.low, here) > st.c.max_skew:
                return SPREAD_REASON
        if self.info.affinity:
            every = tuple((t.namespaces, t.selector) for t in self.info.affinity)
            gone = sum(1 for r in removed if r.matches(every)) if removed else 0
            exist = True
            for t in self.info.affinity:
                v = labels.get(t.topology_key)
                if v is None:
                    return AFFINITY_REASON
                if self.affinity.get((t.topology_key, v), 0) - gone <= 0:
                    exist = False
            if not exist and not (not self.affinity and self.self_affinity):
                return AFFINITY_REASON
        for t in self.info.anti:
            v = labels.get(t.topology_key)
            if v is None:
                continue
            gone = (
                sum(1 for r in removed if r.matches(((t.namespaces, t.selector),)))
                if removed
                else 0
            )
            if self.anti.get((t.topology_key, v), 0) - gone > 0:
                return ANTI_REASON
        if self.existing:
            gone_pairs: Counter[Pair] = Counter()
            for r in removed:
                for t in self.holder_terms.get(r.key, ()):
                    v = labels.get(t.topology_key)
                    if v is not None:
                        gone_pairs[(t.topology_key, v)] += 1
            for k, v in labels.items():
                if self.existing.get((k, v), 0) - gone_pairs.get((k, v), 0) > 0:
                    return EXISTING_ANTI_REASON
        return None

    # ----------------------------------------------------------------- raw scores
    def affinity_score(self, node: NodeInfo) -> int:
        """InterPodAffinity: preferred affinity weights minus preferred anti-affinity weights."""
        total = 0
        for w, t, pairs in self.soft_terms:
            v = node.labels.get(t.topology_key)
            if v is not None:
                total += w * pairs.get((t.topology_key, v), 0)
        return total

    def spread_score(self, node: NodeInfo) -> int | None:
        """PodTopologySpread: lower is better; None when the node lacks a constraint's key."""
        if not self.soft:
            return 0
        score = 0.0
        for st in self.soft:
            v = node.labels.get(st.c.topology_key)
            if v is None:
                return None
            weight = math.log(len(st.domains) + 2)
            score += st.counts.get(v, 0) * weight + (st.c.max_skew - 1)
        return round(score)
