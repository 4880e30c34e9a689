"""least_waste expander: prefer the template whose new node the demand fills best.

Waste is the unused share of one new node, averaged over cpu and memory (CA's
`waste` expander). Chain rules and the final tie-break are `clues_py.planner.chain`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clues_py.contracts import PluginContext
from clues_py.planner.chain import Option, best_by


class LeastWaste:
    name = "least_waste"

    @dataclass(frozen=True)
    class Config:
        pass

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or LeastWaste.Config()

    def best(self, options: Sequence[Option]) -> list[Option]:
        return best_by(options, lambda o: o.waste)
