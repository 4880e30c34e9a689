"""Where a pod may go: taints, tolerations, node selectors and required node affinity.

Pure values with Kubernetes matching semantics (`Toleration.tolerates`, `Placement.why_not`).
Nothing here knows about resources or nodes' state; `model.py` re-exports these names so that
`from clues_py.model import Placement` keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"  # NoSchedule | PreferNoSchedule | NoExecute

    @classmethod
    def from_k8s(cls, d: Mapping[str, Any]) -> Taint:
        return cls(d.get("key", ""), d.get("value") or "", d.get("effect", "NoSchedule"))


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"  # Equal | Exists
    value: str = ""
    effect: str = ""  # empty matches every effect

    @classmethod
    def from_k8s(cls, d: Mapping[str, Any]) -> Toleration:
        return cls(
            d.get("key") or "",
            d.get("operator") or "Equal",
            d.get("value") or "",
            d.get("effect") or "",
        )

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return not self.key or self.key == taint.key
        return self.key == taint.key and self.value == taint.value


def untolerated(taints: tuple[Taint, ...], tolerations: tuple[Toleration, ...]) -> list[Taint]:
    """Taints that block scheduling (PreferNoSchedule never blocks)."""
    return [
        t
        for t in taints
        if t.effect in ("NoSchedule", "NoExecute") and not any(x.tolerates(t) for x in tolerations)
    ]


@dataclass(frozen=True, slots=True)
class SelectorRequirement:
    """One `matchExpressions` entry of a required node affinity term."""

    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            return labels.get(self.key) not in self.values
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        return False


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a pod may go: nodeSelector, tolerations and required node affinity."""

    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    # OR of terms, each an AND of requirements (Kubernetes nodeSelectorTerms semantics).
    affinity_terms: tuple[tuple[SelectorRequirement, ...], ...] = ()

    def labels_match(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.node_selector):
            return False
        if self.affinity_terms:
            return any(all(r.matches(labels) for r in term) for term in self.affinity_terms)
        return True

    def why_not(self, labels: Mapping[str, str], taints: tuple[Taint, ...]) -> str | None:
        """None when a node with these labels and taints accepts the pod, else a reason."""
        if not self.labels_match(labels):
            return "node(s) didn't match Pod's node affinity/selector"
        if untolerated(taints, self.tolerations):
            return "node(s) had untolerated taint"
        return None
