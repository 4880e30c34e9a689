"""The whole incremental daemon (the backend's change journal, lifecycle facts only for what
changed, due ticks, the kept snapshot and the planner's memo) decides exactly what a daemon
re-examining everything on every pass decides.

Random workloads (hypothesis) run through the simulator twice, once with
`Daemon.full_passes`; every transition and action must be the same, at the same time, for
the same reason. The simulator drives the real daemon, backend cache and sandbox; nothing is
faked.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clues_py.daemon.bus import ActionFinished, ActionStarted, TransitionEvent
from clues_py.sim import Simulation, scenario_from_dict

job = st.fixed_dictionaries(
    {
        "submit": st.integers(0, 600),
        "duration": st.integers(5, 400),
        "cpu": st.sampled_from(["500m", "1", "2", "4"]),
        "memory": st.sampled_from(["512Mi", "2Gi", "6Gi"]),
        "pods": st.integers(1, 5),
        "suspended": st.sampled_from([False, False, False, True]),
    }
)
group = st.fixed_dictionaries(
    {
        "count": st.integers(1, 5),
        "cpu": st.sampled_from(["2", "4", "8"]),
        "memory": st.sampled_from(["4Gi", "8Gi", "16Gi"]),
        "boot_seconds": st.sampled_from([5, 30, 90]),
        "shutdown_seconds": st.sampled_from([5, 20]),
        "boot_failure_rate": st.sampled_from([0.0, 0.0, 0.3]),
        "initially_on": st.integers(0, 2),
    }
)


def scenario(groups: list[dict[str, Any]], jobs: list[dict[str, Any]], cfg: dict[str, Any]) -> Any:
    return scenario_from_dict(
        {
            "name": "random",
            "seed": 3,
            "node_groups": [
                {**g, "name": f"g{i}", "initially_on": min(g["initially_on"], g["count"])}
                for i, g in enumerate(groups)
            ],
            "config": cfg,
            "jobs": [{**j, "id": f"j{k}"} for k, j in enumerate(jobs)],
            "until": 1500,
        }
    )


def history(full: bool, sc: Any) -> list[tuple[Any, ...]]:
    """Every transition and action start/finish, in the order they happened."""
    sim = Simulation(sc)
    sim.daemon.full_passes = full
    seen: list[tuple[Any, ...]] = []

    def on_event(e: object) -> None:
        if isinstance(e, TransitionEvent):
            seen.append(("transition", e.at, e.node.name, e.old, e.new, e.reason))
        elif isinstance(e, ActionStarted):
            seen.append(("start", e.at, e.action.kind, e.action.node, e.action.reason))
        elif isinstance(e, ActionFinished):
            seen.append(("finish", e.at, e.kind, e.node, e.ok, e.error))

    sim.daemon.bus.subscribe(on_event)
    sim.run()
    return seen


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    groups=st.lists(group, min_size=1, max_size=2),
    jobs=st.lists(job, min_size=1, max_size=12),
    cfg=st.fixed_dictionaries(
        {
            "idle_time": st.sampled_from([20, 60, 200]),
            "boot_timeout": st.sampled_from([60, 120]),
            "max_booting": st.integers(1, 4),
            "min_nodes": st.integers(0, 1),
        }
    ),
)
def test_incremental_daemon_decides_as_a_full_one(
    groups: list[dict[str, Any]], jobs: list[dict[str, Any]], cfg: dict[str, Any]
) -> None:
    sc = scenario(groups, jobs, cfg)
    assert history(False, sc) == history(True, sc)
