"""lowest_energy expander: prefer the template that draws the fewest watts.

A node's draw is estimated between `watts_idle` and `watts_busy` by the cpu share the
demand would use; templates without figures count as 0 W (configure them all or none).
With `per_pod: true` the draw is divided by the demand units the node would take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clues_py.contracts import PluginContext
from clues_py.planner.chain import Option, best_by


def watts(o: Option) -> float:
    t = o.template
    busy = t.watts_busy or t.watts_idle
    share = o.requests.cpu_millis / t.resources.cpu_millis if t.resources.cpu_millis else 1.0
    return t.watts_idle + (busy - t.watts_idle) * min(share, 1.0)


class LowestEnergy:
    name = "lowest_energy"

    @dataclass(frozen=True)
    class Config:
        per_pod: bool = False

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or LowestEnergy.Config()

    def best(self, options: Sequence[Option]) -> list[Option]:
        if self.config.per_pod:
            return best_by(options, lambda o: watts(o) / max(o.pods, 1))
        return best_by(options, watts)
