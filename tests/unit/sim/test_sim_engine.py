"""The simulator against a hand-computed case, scenario validation, baselines and determinism."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clues_py.sim import ScenarioError, Simulation, scenario_from_dict
from clues_py.sim.report import baselines, run_all

# Power off after idle_time and nothing smarter: the hand-computed cases below.
CLASSIC = ["scale_up", "min_nodes", {"kind": "idle_off", "break_even": False}, "limits"]


def _hand(**group: Any) -> dict[str, Any]:
    g = {"name": "wn", "count": 2, "cpu": "1", "memory": "1Gi", "boot_seconds": 10,
         "shutdown_seconds": 5, "watts_idle": 100, "watts_busy": 200, **group}  # fmt: skip
    job = {"cpu": "1", "memory": "512Mi"}
    return {
        "name": "hand",
        "node_groups": [g],
        "config": {"idle_time": 20, "policies": CLASSIC},
        "jobs": [
            {"id": "j1", "submit": 0, "duration": 30, **job},
            {"id": "j2", "submit": 5, "duration": 10, **job},
            {"id": "j3", "submit": 100, "duration": 10, **job},
        ],
    }


def test_hand_computed_metrics() -> None:
    # j1 at 0 boots wn-1 (ready 10, runs 10-40); j2 at 5 boots wn-2 (ready 15, runs 15-25).
    # wn-2 idle from 25 -> off request 45 -> gone 50; wn-1 idle from 40 -> 60 -> 65.
    # j3 at 100 boots wn-1 again (ready 110, runs 110-120, off request 140, gone 145).
    m = Simulation(scenario_from_dict(_hand())).run().metrics
    assert m["node_seconds_powered"] == pytest.approx(65 + 45 + 45, abs=1e-3)
    assert m["node_seconds_ready"] == pytest.approx(50 + 30 + 30, abs=1e-3)
    assert (m["power_on_actions"], m["power_off_actions"], m["failed_boots"]) == (3, 3, 0)
    assert (m["jobs"], m["jobs_completed"]) == (3, 3)
    assert m["wait_seconds"] == {"mean": 10.0, "p50": 10.0, "p95": 10.0, "max": 10.0}
    assert m["makespan_seconds"] == 120.0
    assert m["lower_bound_node_seconds"] == 50.0
    # used 50 s at 200 W, the other 105 powered seconds at 100 W
    assert m["energy_kwh"] == round((50 * 200 + 105 * 100) / 3.6e6, 4)


def test_hand_computed_break_even() -> None:
    # Same workload, default pipeline: break-even is boot + shutdown = 15 s < idle_time 20.
    # wn-2 idle from 25: the last new pod came at 5, none for 15 s: off after the floor
    # (15/4 s) at 28.75, gone 33.75. wn-1 idle from 40: likewise off at 43.75, gone 48.75.
    # j3 at 100 boots wn-1 (ready 110, runs 110-120); the 95 s gap just seen is no longer
    # a quiet spell, so it is held for break-even: off 135, gone 140.
    doc = _hand()
    doc["config"] = {"idle_time": 20}
    m = Simulation(scenario_from_dict(doc)).run().metrics
    assert m["node_seconds_powered"] == pytest.approx(28.75 + 48.75 + 40, abs=1e-3)
    assert (m["power_on_actions"], m["power_off_actions"], m["failed_boots"]) == (3, 3, 0)
    assert m["wait_seconds"] == {"mean": 10.0, "p50": 10.0, "p95": 10.0, "max": 10.0}


def test_initially_on_nodes_count_from_zero_and_go_off_when_idle() -> None:
    doc = _hand(initially_on=2)
    doc["jobs"] = [{"id": "a", "submit": 0, "duration": 10, "cpu": "1", "memory": "1Mi"}]
    m = Simulation(scenario_from_dict(doc)).run().metrics
    # both on at 0; wn-1 runs a 0-10 and is off-requested at 30, the other at 20; +5 s shutdown
    assert m["wait_seconds"]["max"] == 0.0
    assert m["node_seconds_powered"] == pytest.approx(35 + 25, abs=1e-3)
    assert m["power_on_actions"] == 0 and m["power_off_actions"] == 2


def test_boot_failures_are_counted_and_the_job_still_runs() -> None:
    doc = _hand(boot_failure_rate=1.0, count=1)
    doc["config"] = {"idle_time": 20, "boot_timeout": 30, "max_retries": 1, "retry_backoff": 5}
    doc["jobs"] = doc["jobs"][:1]
    doc["until"] = 200
    m = Simulation(scenario_from_dict(doc)).run().metrics
    assert m["failed_boots"] >= 1
    assert m["jobs_completed"] == 0


def test_suspended_job_goes_through_the_implicit_queue() -> None:
    doc = _hand()
    doc["jobs"] = [{"id": "s", "submit": 0, "duration": 10, "cpu": "1", "memory": "1Mi",
                    "pods": 2, "suspended": True}]  # fmt: skip
    sim = Simulation(scenario_from_dict(doc))
    m = sim.run().metrics
    # the implicit ClusterQueue (the whole cluster as quota) admits it at once; its pods
    # are pending and power both nodes on (ready at 10)
    assert m["power_on_actions"] == 2
    assert m["jobs_completed"] == 1
    assert m["wait_seconds"]["max"] == 10.0


def test_poll_mode_reacts_only_on_the_polling_grid() -> None:
    doc = _hand()
    doc["jobs"] = [{"id": "a", "submit": 1, "duration": 10, "cpu": "1", "memory": "1Mi"}]
    m = Simulation(scenario_from_dict(doc), mode="poll", poll_period=5.0).run().metrics
    # seen at 5 (not 1): boot 5-15, runs 15-25
    assert m["wait_seconds"]["max"] == 14.0


def test_baselines_always_on_and_classic() -> None:
    sc = scenario_from_dict(_hand())
    on, classic = run_all(sc, baselines())
    assert on.metrics["power_on_actions"] == 0 and on.metrics["power_off_actions"] == 0
    # always-on is counted over the same horizon as the other runs: 2 nodes x the whole run
    assert on.metrics["node_seconds_powered"] == pytest.approx(2 * on.end, abs=1e-3)
    assert classic.metrics["power_off_actions"] >= 1
    assert on.end == pytest.approx(classic.end)


def test_same_seed_same_json() -> None:
    doc = _hand(boot_failure_rate=0.5)
    doc["seed"] = 7
    a = Simulation(scenario_from_dict(doc)).run().metrics
    b = Simulation(scenario_from_dict(doc)).run().metrics
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"node_groups": []}, "$.node_groups"),
        ({"format": "v0"}, "$.format"),
        ({"jobs": [{"id": "x", "submit": 0, "duration": "long"}]}, "$.jobs[0].duration"),
        ({"jobs": [{"id": "x", "duration": 1, "cpu": "lots"}]}, "$.jobs[0].cpu"),
        ({"extra": 1}, "unknown key"),
    ],
)
def test_bad_scenarios_name_the_place(patch: dict[str, Any], where: str) -> None:
    doc = {**_hand(), **patch}
    with pytest.raises(ScenarioError, match=None) as info:
        scenario_from_dict(doc, "s.json")
    assert where in str(info.value) and "s.json" in str(info.value)
