"""Min-nodes policy: keep at least `min_nodes` managed nodes on (IDLE, USED, POWERING_ON).

Powers on OFF nodes when fewer are on (counting power-ons already in the plan), and
reserves enough of the nodes already on that later policies (idle power-off) cannot
go below the floor; the reservation reason ends up in `plan.kept`. Prefers keeping
busy nodes, then booting ones, then the most recently used idle ones. The mechanics
are `clues_py.planner.warm.keep_on`, shared with schedule windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from clues_py.contracts import MAX_NODES, PluginContext, Range
from clues_py.model import ClusterSnapshot
from clues_py.planner.builder import PlanBuilder
from clues_py.planner.warm import keep_on


class MinNodes:
    name = "min_nodes"
    declares_revisits = True  # keep_on asks for the times it depends on

    @dataclass(frozen=True)
    class Config:
        min_nodes: Annotated[int, Range(0, MAX_NODES)] = 0

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or MinNodes.Config()
        if self.config.min_nodes < 0:
            raise ValueError(f"min_nodes: min_nodes must be >= 0, got {self.config.min_nodes}")

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        want = self.config.min_nodes
        keep_on(snap, builder, want, f"min_nodes={want}", self.name)
