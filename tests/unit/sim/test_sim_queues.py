"""Scenarios with Kueue queues: the `kueue` section, and the simulator running the mini-Kueue
(quota decides how many nodes go on; the provisioning check asks clues-py first)."""

from __future__ import annotations

from typing import Any

import pytest

from clues_py.sim import ScenarioError, Simulation, load_scenario, scenario_from_dict
from clues_py.sim.queues import BEST_EFFORT_ATOMIC, CHECK_CAPACITY
from tests.tools import repo_file


def doc(quota: Any = "nodes", provisioning: str | None = None, jobs: int = 4) -> dict[str, Any]:
    cq: dict[str, Any] = {"name": "cq", "quota": quota}
    if provisioning:
        cq["provisioning"] = provisioning
    return {
        "name": "queued",
        "node_groups": [
            {
                "name": "wn",
                "count": 4,
                "cpu": "2",
                "memory": "4Gi",
                "boot_seconds": 10,
                "shutdown_seconds": 5,
            }
        ],
        "config": {"idle_time": 20},
        "kueue": {
            "cluster_queues": [cq],
            "local_queues": [{"name": "lq", "namespace": "oscar-svc", "cluster_queue": "cq"}],
        },
        "jobs": [
            {
                "id": f"j{i}",
                "submit": 0,
                "duration": 30,
                "cpu": "2",
                "memory": "1Gi",
                "namespace": "oscar-svc",
                "queue": "lq",
            }
            for i in range(jobs)
        ],
    }


def test_quota_of_the_whole_cluster_runs_everything_at_once() -> None:
    m = Simulation(scenario_from_dict(doc())).run().metrics
    assert (m["jobs_completed"], m["power_on_actions"]) == (4, 4)
    assert m["wait_seconds"]["max"] == 10.0  # one boot


def test_quota_decides_how_many_nodes_go_on() -> None:
    m = Simulation(scenario_from_dict(doc({"cpu": "4", "memory": "8Gi"}))).run().metrics
    # two jobs at a time: two nodes, used twice; the second pair waits for quota
    assert (m["jobs_completed"], m["power_on_actions"]) == (4, 2)
    assert m["wait_seconds"]["max"] == pytest.approx(40.0)


@pytest.mark.parametrize("cls", [CHECK_CAPACITY, BEST_EFFORT_ATOMIC])
def test_provisioning_check_gets_nodes_from_clues_before_admission(cls: str) -> None:
    sim = Simulation(scenario_from_dict(doc(provisioning=cls)))
    m = sim.run().metrics
    assert (m["jobs_completed"], m["power_on_actions"]) == (4, 4)
    # Provisioned once the nodes are Ready (10 s): Kueue admits and the pods run at once.
    assert m["wait_seconds"] == {"mean": 10.0, "p50": 10.0, "p95": 10.0, "max": 10.0}


def test_kueue_section_errors_name_the_place() -> None:
    bad = doc()
    bad["jobs"][0]["queue"] = "nope"
    with pytest.raises(ScenarioError, match=r"\$\.jobs\[0\]\.queue: no LocalQueue 'nope'"):
        scenario_from_dict(bad)
    bad = doc(provisioning="cloud.example.com/magic")
    with pytest.raises(ScenarioError, match=r"cluster_queues\[0\]\.provisioning"):
        scenario_from_dict(bad)
    bad = doc(quota={"cpu": "lots"})
    with pytest.raises(ScenarioError, match=r"quota\.cpu: 'lots' is not a quantity"):
        scenario_from_dict(bad)
    paused = doc()
    del paused["jobs"][0]["queue"]
    paused["jobs"][0]["suspended"] = True
    with pytest.raises(ScenarioError, match="paused for good"):
        scenario_from_dict(paused)


def test_example_scenario_with_kueue_runs_to_the_end() -> None:
    scenario = load_scenario(repo_file("etc", "sim", "scenarios", "oscar-kueue.json"))
    assert scenario.kueue is not None and scenario.kueue.cluster_queues[0].provisioning
    m = Simulation(scenario).run().metrics
    assert m["jobs_completed"] == m["jobs"] == 40
    # quota for 20 cpu: at most 7 nodes of 3 one-cpu pods each are ever needed at once
    assert 5 <= m["power_on_actions"] <= 7 * 2
