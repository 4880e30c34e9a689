"""Drain rules: may the pods of a node be evicted now? Modelled on CA's `drainability/rules`.

Each rule looks at one pod and returns a `Verdict` (skip: the pod does not need to
move; block: it must not be evicted, with the reason) or None (no opinion). The first
rule with an opinion wins; a pod nobody objects to is evicted. `check_node` applies
the rules to every pod on a node and also checks PodDisruptionBudgets across the pods
of the node together (two pods under a budget allowing one disruption block). Used by
the consolidation policy; the eviction itself (which the API server also checks
against PDBs) is the backend's job.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from clues_py.model import DisruptionBudget, PodInfo

__all__ = [
    "DEFAULT_RULES",
    "DrainCheck",
    "DrainContext",
    "Outcome",
    "Verdict",
    "check_node",
    "check_pod",
]


class Outcome(enum.StrEnum):
    EVICT = "evict"  # must move elsewhere
    SKIP = "skip"  # stays or dies with the node (DaemonSet, mirror, finished)
    BLOCK = "block"  # must not be evicted now


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    reason: str = ""
    rule: str = ""


@dataclass
class DrainContext:
    pdbs: tuple[DisruptionBudget, ...] = ()
    # pdb key -> disruptions still allowed in this plan (consumed as nodes are chosen)
    budget: dict[str, int] = field(default_factory=dict)
    block_local_storage: bool = True

    @classmethod
    def of(cls, pdbs: Iterable[DisruptionBudget], block_local_storage: bool = True) -> DrainContext:
        pdbs = tuple(pdbs)
        return cls(pdbs, {p.key: p.disruptions_allowed for p in pdbs}, block_local_storage)


Rule = Callable[[PodInfo, DrainContext], Verdict | None]


def daemonset(pod: PodInfo, ctx: DrainContext) -> Verdict | None:
    if pod.daemonset:
        return Verdict(Outcome.SKIP, "DaemonSet pod (runs on every node)", "daemonset")
    return None


def mirror(pod: PodInfo, ctx: DrainContext) -> Verdict | None:
    if pod.mirror:
        return Verdict(Outcome.SKIP, "static (mirror) pod", "mirror")
    return None


def terminal(pod: PodInfo, ctx: DrainContext) -> Verdict | None:
    if pod.phase not in ("Pending", "Running"):
        return Verdict(Outcome.SKIP, f"pod is {pod.phase}", "terminal")
    return None


def protected(pod: PodInfo, ctx: DrainContext) -> Verdict | None:
    if pod.protected:
        return Verdict(
            Outcome.BLOCK, f'{pod.key}: safe-to-evict annotation is "false"', "protected"
        )
    return None


def unreplicated(pod: PodInfo, ctx: DrainContext) -> Verdict | None:
    if not pod.owner_kind:
        return Verdict(
            Outcome.BLOCK, f"{pod.key}: no controller would recreate it (bare pod)", "unreplicated"
        )
    return None


def local_storage(pod: PodInfo, ctx: DrainContext) -> Verdict | None:
    if ctx.block_local_storage and pod.local_storage:
        return Verdict(
            Outcome.BLOCK,
            f"{pod.key}: uses node-local storage (emptyDir/hostPath)",
            "local_storage",
        )
    return None


def pdb(pod: PodInfo, ctx: DrainContext) -> Verdict | None:
    for b in ctx.pdbs:
        if b.selects(pod) and ctx.budget.get(b.key, 0) <= 0:
            return Verdict(
                Outcome.BLOCK, f"{pod.key}: PodDisruptionBudget {b.key} allows no disruption", "pdb"
            )
    return None


DEFAULT_RULES: tuple[Rule, ...] = (
    daemonset,
    mirror,
    terminal,
    protected,
    unreplicated,
    local_storage,
    pdb,
)


def check_pod(pod: PodInfo, ctx: DrainContext, rules: Iterable[Rule] = DEFAULT_RULES) -> Verdict:
    for rule in rules:
        verdict = rule(pod, ctx)
        if verdict is not None:
            return verdict
    return Verdict(Outcome.EVICT)


@dataclass(frozen=True)
class DrainCheck:
    evict: tuple[PodInfo, ...]  # pods that must find room elsewhere
    blocked: tuple[str, ...]  # reasons, empty when the node can be drained
    pdb_use: Mapping[str, int]  # pdb key -> disruptions the drain would use

    @property
    def ok(self) -> bool:
        return not self.blocked


def check_node(
    pods: Iterable[PodInfo], ctx: DrainContext, rules: Iterable[Rule] = DEFAULT_RULES
) -> DrainCheck:
    """Verdicts for every pod of a node, plus the node-wide PDB arithmetic."""
    rules = tuple(rules)
    evict: list[PodInfo] = []
    blocked: list[str] = []
    use: dict[str, int] = {}
    for p in pods:
        v = check_pod(p, ctx, rules)
        if v.outcome is Outcome.BLOCK:
            blocked.append(v.reason)
        elif v.outcome is Outcome.EVICT:
            evict.append(p)
            for b in ctx.pdbs:
                if b.selects(p):
                    use[b.key] = use.get(b.key, 0) + 1
    for key, n in sorted(use.items()):
        if n > ctx.budget.get(key, 0):
            blocked.append(
                f"PodDisruptionBudget {key} allows {ctx.budget.get(key, 0)} disruption(s), "
                f"the drain needs {n}"
            )
    return DrainCheck(tuple(evict), tuple(blocked), use)
