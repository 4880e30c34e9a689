"""soonest_ready expander: prefer the template whose node is ready first and cheapest to cycle.

Among templates the earlier expanders left equal, a node that boots in 30 s serves the
pending pods sooner than one that boots in 3 minutes, and each later power cycle of
it costs less: keep the options with the smallest `boot_seconds`, then those whose
power cycle (boot + shutdown, at `watts_idle` when known) costs the least energy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clues_py.contracts import PluginContext
from clues_py.model import NodeTemplate
from clues_py.planner.chain import Option, best_by


def cycle_cost(t: NodeTemplate) -> float:
    """Energy of one power cycle in joules (node-seconds when the watts are unknown)."""
    return (t.boot_seconds + t.shutdown_seconds) * (t.watts_idle or 1.0)


class SoonestReady:
    name = "soonest_ready"

    @dataclass(frozen=True)
    class Config:
        pass

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or SoonestReady.Config()

    def best(self, options: Sequence[Option]) -> list[Option]:
        soonest = best_by(options, lambda o: o.template.boot_seconds)
        return best_by(soonest, lambda o: cycle_cost(o.template))
