"""Expander chain: choose which template to open a new node from, like CA's `factory/chain.go`.

When packing must open a node, every template that admits the demand and has a node
left becomes an `Option`. The chain runs its expanders in order: each keeps its best
options (ties included) and the next one breaks the remaining ties; whatever is left
at the end goes to the option with the smallest template name, so a plan is always
deterministic. `random` (seeded) may only be last. The expanders themselves live in
`plugins/expanders/`; this module knows their contract and the chain rules, not them (the
default chain is resolved by name by the daemon's pipeline, like configured plugins).
Which options exist (placement, max_count, back-off) is `packing.py`'s business.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from clues_py.model import NodeTemplate, Resources

__all__ = [
    "ChainError",
    "Expander",
    "ExpanderChain",
    "Option",
    "best_by",
    "check_chain",
]


class ChainError(ValueError):
    """An expander or policy chain that makes no sense (duplicate, unreachable entry...).

    `index` is the position of the offending entry in its list (for file:line errors).
    """

    def __init__(self, message: str, index: int = 0) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True, slots=True)
class Option:
    """Opening one node of `template` for `pods` demand units requesting `requests` in all."""

    template: NodeTemplate
    pods: int
    requests: Resources

    @property
    def waste(self) -> float:
        """Unused share of the node, the mean over cpu and memory (0 = full, 1 = empty)."""
        r = self.template.resources
        cpu = self.requests.cpu_millis / r.cpu_millis if r.cpu_millis else 1.0
        mem = self.requests.memory_bytes / r.memory_bytes if r.memory_bytes else 1.0
        return 1.0 - (min(cpu, 1.0) + min(mem, 1.0)) / 2


@runtime_checkable
class Expander(Protocol):
    """Filter options down to the best ones; ties are the next expander's business."""

    name: str

    def best(self, options: Sequence[Option]) -> list[Option]:
        """Required. A non-empty subset of `options` (all of them when it cannot tell)."""


def best_by(options: Sequence[Option], score: Callable[[Option], float]) -> list[Option]:
    """The options with the lowest `score` (within 1e-9, so float noise ties)."""
    if not options:
        return []
    scores = [score(o) for o in options]
    low = min(scores)
    return [o for o, s in zip(options, scores, strict=True) if s <= low + 1e-9]


def check_chain(names: Sequence[str]) -> None:
    """Reject duplicate expanders and entries after `random` (they could never decide)."""
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ChainError(f"expander {name!r} is listed twice; remove one", i)
        seen.add(name)
        if name == "random" and i != len(names) - 1:
            raise ChainError(
                "'random' always leaves one option, so "
                f"{', '.join(repr(n) for n in names[i + 1 :])} after it would never run; "
                "put 'random' last",
                i,
            )


class ExpanderChain:
    """Expanders applied in order as tie-breakers; the template name breaks the last tie."""

    def __init__(self, expanders: Sequence[Expander] = ()) -> None:
        check_chain([e.name for e in expanders])
        self.expanders = tuple(expanders)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.expanders]

    def choose(self, options: Sequence[Option]) -> tuple[Option | None, str]:
        """The chosen option and which expander decided (`""` when only one was possible)."""
        left = list(options)
        if len(left) <= 1:
            return (left[0] if left else None), ""
        decided = ""
        for e in self.expanders:
            kept = e.best(left)
            if kept and len(kept) < len(left):
                left, decided = kept, e.name
            if len(left) == 1:
                return left[0], decided
        return min(left, key=lambda o: o.template.name), decided or "name"
