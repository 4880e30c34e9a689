"""What the scheduler reads of a pod, parsed once: requests, placement, priority, ports, terms.

`PodSpecInfo.from_k8s` turns a pod into hashable pieces: the resource request and
node placement (`scheduling.py`), `priority` and `preemptionPolicy`, host ports, the
required/preferred pod affinity and anti-affinity terms, topology spread constraints
and preferred node affinity. `Selector` is a compiled metav1.LabelSelector with a
canonical key, so counts of matching pods can be cached per selector
(`placed.py`). Pure: no store, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clues_py.model import Placement, Resources, SelectorRequirement
from clues_py.sandbox.controllers import scheduling

HOSTNAME = "kubernetes.io/hostname"
# Namespaces a term applies to; None means every namespace (namespaceSelector: {}).
Namespaces = frozenset[str] | None
# Labels of the namespaces the scheduler knows, for namespaceSelector.
NamespaceLabels = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class Selector:
    """A label selector: matchLabels AND matchExpressions; `nothing` matches no pod (null)."""

    labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[SelectorRequirement, ...] = ()
    nothing: bool = False

    @classmethod
    def from_k8s(
        cls, sel: Mapping[str, Any] | None, extra: Mapping[str, str] | None = None
    ) -> Selector:
        if sel is None:
            return cls(nothing=True)
        labels = dict(sel.get("matchLabels") or {})
        labels.update(extra or {})
        return cls(tuple(sorted(labels.items())), _requirements(sel.get("matchExpressions")))

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.nothing:
            return False
        if any(labels.get(k) != v for k, v in self.labels):
            return False
        return all(r.matches(labels) for r in self.expressions)


@dataclass(frozen=True, slots=True)
class Term:
    """A PodAffinityTerm: pods matching `selector` in `namespaces`, per `topology_key` domain."""

    selector: Selector
    namespaces: Namespaces
    topology_key: str

    def matches(self, namespace: str, labels: Mapping[str, str]) -> bool:
        return (self.namespaces is None or namespace in self.namespaces) and self.selector.matches(
            labels
        )


@dataclass(frozen=True, slots=True)
class Spread:
    """A topologySpreadConstraint (matchLabelKeys already merged into the selector)."""

    max_skew: int
    topology_key: str
    hard: bool  # whenUnsatisfiable: DoNotSchedule
    selector: Selector
    min_domains: int = 1
    honor_node_affinity: bool = True  # nodeAffinityPolicy
    honor_taints: bool = False  # nodeTaintsPolicy


HostPort = tuple[str, str, int]  # (hostIP, protocol, hostPort)


@dataclass(frozen=True, slots=True)
class PodSpecInfo:
    namespace: str
    labels: tuple[tuple[str, str], ...]
    request: Resources
    placement: Placement
    priority: int = 0
    preempt: bool = True  # preemptionPolicy != Never
    ports: tuple[HostPort, ...] = ()
    affinity: tuple[Term, ...] = ()
    anti: tuple[Term, ...] = ()
    soft_affinity: tuple[tuple[int, Term], ...] = ()
    soft_anti: tuple[tuple[int, Term], ...] = ()
    spread: tuple[Spread, ...] = ()
    soft_node: tuple[tuple[int, tuple[SelectorRequirement, ...]], ...] = ()

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def simple(self) -> bool:
        """No inter-pod terms, spread, host ports or node preferences: the fast path applies."""
        return not (
            self.ports
            or self.affinity
            or self.anti
            or self.soft_affinity
            or self.soft_anti
            or self.spread
            or self.soft_node
        )

    @classmethod
    def from_k8s(
        cls, pod: Mapping[str, Any], ns_labels: NamespaceLabels | None = None
    ) -> PodSpecInfo:
        md = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        ns = md.get("namespace") or "default"
        labels = dict(md.get("labels") or {})
        aff = spec.get("affinity") or {}
        pa, paa = aff.get("podAffinity") or {}, aff.get("podAntiAffinity") or {}
        req = "requiredDuringSchedulingIgnoredDuringExecution"
        pref = "preferredDuringSchedulingIgnoredDuringExecution"

        def term(t: Mapping[str, Any]) -> Term:
            return Term(
                Selector.from_k8s(t.get("labelSelector"), _label_keys(t, labels)),
                _namespaces(t, ns, ns_labels),
                t.get("topologyKey") or "",
            )

        def weighted(items: Any) -> tuple[tuple[int, Term], ...]:
            return tuple(
                (int(w.get("weight") or 0), term(w.get("podAffinityTerm") or {}))
                for w in items or ()
            )

        soft_node = tuple(
            (
                int(p.get("weight") or 0),
                _requirements((p.get("preference") or {}).get("matchExpressions")),
            )
            for p in (aff.get("nodeAffinity") or {}).get(pref) or ()
        )
        return cls(
            namespace=ns,
            labels=tuple(sorted(labels.items())),
            request=scheduling.pod_requests(pod),
            placement=scheduling.pod_placement(pod),
            priority=int(spec.get("priority") or 0),
            preempt=spec.get("preemptionPolicy") != "Never",
            ports=host_ports(spec),
            affinity=tuple(term(t) for t in pa.get(req) or ()),
            anti=tuple(term(t) for t in paa.get(req) or ()),
            soft_affinity=weighted(pa.get(pref)),
            soft_anti=weighted(paa.get(pref)),
            spread=tuple(_spread(c, labels) for c in spec.get("topologySpreadConstraints") or ()),
            soft_node=soft_node,
        )


def _requirements(exprs: Any) -> tuple[SelectorRequirement, ...]:
    return tuple(
        SelectorRequirement(e.get("key", ""), e.get("operator", ""), tuple(e.get("values") or ()))
        for e in exprs or ()
    )


def _label_keys(t: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, str]:
    """matchLabelKeys: the incoming pod's values for those keys join the selector."""
    return {k: labels[k] for k in t.get("matchLabelKeys") or () if k in labels}


def _namespaces(t: Mapping[str, Any], own: str, ns_labels: NamespaceLabels | None) -> Namespaces:
    names = set(t.get("namespaces") or ())
    sel = t.get("namespaceSelector")
    if sel is not None:
        compiled = Selector.from_k8s(sel)
        if not compiled.labels and not compiled.expressions:
            return None  # {} selects every namespace
        names |= {n for n, lab in (ns_labels or {}).items() if compiled.matches(lab)}
    elif not names:
        names = {own}
    return frozenset(names)


def _spread(c: Mapping[str, Any], labels: Mapping[str, str]) -> Spread:
    return Spread(
        max_skew=max(int(c.get("maxSkew") or 1), 1),
        topology_key=c.get("topologyKey") or "",
        hard=(c.get("whenUnsatisfiable") or "DoNotSchedule") == "DoNotSchedule",
        selector=Selector.from_k8s(c.get("labelSelector"), _label_keys(c, labels)),
        min_domains=max(int(c.get("minDomains") or 1), 1),
        honor_node_affinity=(c.get("nodeAffinityPolicy") or "Honor") == "Honor",
        honor_taints=(c.get("nodeTaintsPolicy") or "Ignore") == "Honor",
    )


def host_ports(spec: Mapping[str, Any]) -> tuple[HostPort, ...]:
    out = []
    for c in spec.get("containers") or ():
        for p in c.get("ports") or ():
            port = int(p.get("hostPort") or 0)
            if port:
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", port))
    return tuple(out)


def ports_conflict(wanted: tuple[HostPort, ...], used: Mapping[HostPort, int]) -> bool:
    """NodePorts: the same protocol and port, unless both name different specific IPs."""
    for ip, proto, port in wanted:
        for (uip, uproto, uport), n in used.items():
            if n <= 0 or uproto != proto or uport != port:
                continue
            if ip == "0.0.0.0" or uip == "0.0.0.0" or ip == uip:
                return True
    return False


def node_preference(terms: PodSpecInfo, labels: Mapping[str, str]) -> int:
    """NodeAffinity's raw score: the weights of the preferred terms this node matches."""
    return sum(w for w, reqs in terms.soft_node if all(r.matches(labels) for r in reqs))
