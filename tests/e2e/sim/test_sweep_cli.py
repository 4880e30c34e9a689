"""`clues sim sweep` end to end through click: the grid, the references and the PNG."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from clues_py.cli.main import main
from tests.tools import repo_file

OSCAR = repo_file("etc", "sim", "scenarios", "oscar-burst.json")


def test_sweep_runs_the_grid_and_draws_the_front(tmp_path: Path) -> None:
    png = tmp_path / "front.png"
    args = ["sim", "sweep", OSCAR, "--param", "idle_time=60,300",
            "--param", "idle_off.break_even=true,false", "--plot", str(png), "--json"]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    runs = {r["label"]: r for r in out["runs"]}
    assert set(runs) == {
        "idle_time=60 idle_off.break_even=True", "idle_time=60 idle_off.break_even=False",
        "idle_time=300 idle_off.break_even=True", "idle_time=300 idle_off.break_even=False",
        "defaults", "always-on", "clues-classic",
    }  # fmt: skip
    assert all(r["jobs_completed"] == 140 for r in runs.values())
    plain = runs["idle_time=300 idle_off.break_even=False"]["node_seconds_powered"]
    smart = runs["idle_time=300 idle_off.break_even=True"]["node_seconds_powered"]
    assert smart < plain < runs["always-on"]["node_seconds_powered"]
    assert any(r.get("pareto") for r in out["runs"])
    assert out["plot"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_errors_name_the_parameter(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["sim", "sweep", OSCAR, "--param", "idle_tme=60"])
    assert res.exit_code == 2 and "idle_tme: unknown key (did you mean 'idle_time'?)" in res.output
    res = CliRunner().invoke(main, ["sim", "sweep", OSCAR, "--param", "nope.x=1"])
    assert res.exit_code == 2 and "no policy 'nope' in the pipeline" in res.output
    res = CliRunner().invoke(main, ["sim", "sweep", OSCAR, "--param", "idle_time"])
    assert res.exit_code == 2 and "expected KEY=V1,V2" in res.output
