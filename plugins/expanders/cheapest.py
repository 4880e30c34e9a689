"""cheapest expander: prefer the template with the lowest `cost_per_hour`.

With `per_pod: true` the cost is divided by the demand units one node would take, so
a bigger, dearer node that serves more pods can win. On-premises templates usually
cost 0 and so win over cloud ones (hybrid burst).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clues_py.contracts import PluginContext
from clues_py.planner.chain import Option, best_by


class Cheapest:
    name = "cheapest"

    @dataclass(frozen=True)
    class Config:
        per_pod: bool = False  # compare cost per hour per demand unit served

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or Cheapest.Config()

    def best(self, options: Sequence[Option]) -> list[Option]:
        if self.config.per_pod:
            return best_by(options, lambda o: o.template.cost_per_hour / max(o.pods, 1))
        return best_by(options, lambda o: o.template.cost_per_hour)
