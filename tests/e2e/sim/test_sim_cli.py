"""`clues sim` end to end through click: the oscar-burst scenario, plots, compare, baselines."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from clues_py.cli.main import main
from tests.tools import repo_file

OSCAR = repo_file("etc", "sim", "scenarios", "oscar-burst.json")
NASA = repo_file("tests", "data", "traces", "NASA-iPSC-1993-3.1-cln-excerpt.swf")
KEYS = {
    "scenario", "node_seconds_powered", "node_seconds_ready", "power_on_actions",
    "power_off_actions", "failed_boots", "jobs", "jobs_completed", "wait_seconds",
    "makespan_seconds", "energy_kwh", "cost", "lower_bound_node_seconds",
}  # fmt: skip


def test_oscar_burst_json_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "oscar.png"
    res = CliRunner().invoke(main, ["sim", "run", OSCAR, "--json", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    assert set(m) == KEYS
    assert set(m["wait_seconds"]) == {"mean", "p50", "p95", "max"}
    assert m["scenario"] == "oscar-burst" and m["jobs"] == m["jobs_completed"] == 140
    assert 0 < m["lower_bound_node_seconds"] < m["node_seconds_ready"] < m["node_seconds_powered"]
    assert m["power_on_actions"] == m["power_off_actions"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    again = CliRunner().invoke(main, ["sim", "run", OSCAR, "--json"])
    assert json.loads(again.output) == m  # deterministic


def test_compare_and_baselines_table(tmp_path: Path) -> None:
    fast = tmp_path / "idle60.yaml"
    fast.write_text("idle_time: 60\n")
    res = CliRunner().invoke(
        main, ["sim", "run", OSCAR, "--compare", str(fast), "--baselines", "--json"]
    )
    assert res.exit_code == 0, res.output
    runs = {r["label"]: r for r in json.loads(res.output)["runs"]}
    assert list(runs) == ["scenario", "idle60", "always-on", "clues-classic"]
    on = runs["always-on"]["node_seconds_powered"]
    assert runs["scenario"]["node_seconds_powered"] < on
    assert runs["idle60"]["node_seconds_powered"] < runs["scenario"]["node_seconds_powered"]
    text = CliRunner().invoke(main, ["sim", "run", OSCAR, "--baselines"])
    assert text.exit_code == 0 and "always-on" in text.output and "clues-classic" in text.output


def test_bad_inputs_are_usage_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"node_groups": []}')
    res = CliRunner().invoke(main, ["sim", "run", str(bad)])
    assert res.exit_code == 2 and "node_groups" in res.output
    res = CliRunner().invoke(main, ["sim", "swf", NASA, "--nodes", "x"])
    assert res.exit_code == 2 and "COUNTxCORES" in res.output


def test_swf_window_runs(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main, ["sim", "swf", NASA, "--hours", "12", "--nodes", "16x8", "--json", "--seed", "3"]
    )
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    assert m["jobs"] == m["jobs_completed"] > 0 and set(m) == KEYS


def test_clues_sim_file(tmp_path: Path) -> None:
    f = tmp_path / "simple.sim"
    f.write_text(";node;node;1;4096;4\n10;job;1;512;10;;norequest\n12;job;1;1024;20\n")
    res = CliRunner().invoke(main, ["sim", "clues", str(f), "--json", "--boot", "10"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    assert m["jobs_completed"] == 2 and m["wait_seconds"]["max"] == 10.0
