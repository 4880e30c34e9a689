"""`clues sim`: replay workloads against the real daemon on a virtual clock (see docs/sim.md)."""

from clues_py.sim.engine import SimResult, Simulation
from clues_py.sim.scenario import Scenario, ScenarioError, load_scenario, scenario_from_dict

__all__ = [
    "Scenario",
    "ScenarioError",
    "SimResult",
    "Simulation",
    "load_scenario",
    "scenario_from_dict",
]
