"""random expander: pick one option at random, reproducibly.

The generator is seeded with `seed` and the options' template names and demand size,
so the same snapshot always gets the same plan (the planner is deterministic). It
always leaves a single option, so the chain accepts it only as the last expander.
"""

from __future__ import annotations

import random as _random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from clues_py.contracts import PluginContext, Range
from clues_py.planner.chain import Option


class Random:
    name = "random"

    @dataclass(frozen=True)
    class Config:
        seed: Annotated[int, Range(0, 2**63 - 1)] = 0

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or Random.Config()

    def best(self, options: Sequence[Option]) -> list[Option]:
        if len(options) <= 1:
            return list(options)
        ordered = sorted(options, key=lambda o: o.template.name)
        names = ",".join(o.template.name for o in ordered)
        rng = _random.Random(f"{self.config.seed}:{names}:{ordered[0].pods}")
        return [rng.choice(ordered)]
