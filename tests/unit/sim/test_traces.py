"""SWF and CLUES `.sim` parsing: comments, fields, windows, packing, errors."""

from __future__ import annotations

import pytest

from clues_py.sim.scenario import ScenarioError
from clues_py.sim.traces import clues_sim_scenario, parse_nodes, parse_swf_lines, swf_scenario
from tests.tools import repo_file

SWF = """; Version: 2.2
; MaxNodes: 16
;
    1        0     -1   100    8     -1    -1   -1     -1    -1 -1   1   1  -1 -1 -1 -1 -1
    2       50     -1    -1    4     -1    -1   -1     -1    -1 -1   1   1  -1 -1 -1 -1 -1
    3     3600     -1    20   -1     -1    -1   10     -1    -1 -1   1   1  -1 -1 -1 -1 -1
    4     7300     -1    30    1     -1    -1   -1     -1    -1 -1   1   1  -1 -1 -1 -1 -1
""".splitlines()


def test_swf_fields_comments_and_cancelled_records() -> None:
    jobs, skipped = parse_swf_lines(SWF)
    assert [(j.number, j.submit, j.runtime, j.procs) for j in jobs] == [
        (1, 0.0, 100.0, 8),
        (3, 3600.0, 20.0, 10),  # allocated -1: falls back to requested processors
        (4, 7300.0, 30.0, 1),
    ]
    assert skipped == 1  # job 2 has no run time


def test_swf_window_and_packing() -> None:
    sc, info = swf_scenario("t.swf", nodes="2x4", start=3000, hours=1, lines=SWF)
    assert info == {"skipped": 1, "too_wide": 1, "jobs": 0}  # job 3: 10 procs > 8 cores
    sc, info = swf_scenario("t.swf", nodes="4x4", start=0, hours=2, lines=SWF)
    assert [j.id for j in sc.jobs] == ["swf-1", "swf-3"]
    one, three = sc.jobs
    assert (one.pods, one.cpu, one.submit) == (2, "4", 0.0)
    assert (three.pods, three.cpu, three.submit) == (3, "4", 3600.0)  # 10 procs -> 3 x 4 cores
    sc, _ = swf_scenario("t.swf", nodes="4x4", start=3600, hours=1, lines=SWF)
    assert [(j.id, j.submit) for j in sc.jobs] == [("swf-3", 0.0)]
    assert sc.node_groups[0].count == 4 and sc.node_groups[0].memory == "8Gi"


def test_swf_bad_lines_and_nodes() -> None:
    with pytest.raises(ScenarioError, match=r"t.swf:2: SWF records have 18 fields"):
        parse_swf_lines(["; c", "1 2 3"], "t.swf")
    with pytest.raises(ScenarioError, match="COUNTxCORES"):
        parse_nodes("sixteen")
    assert parse_nodes("16x8x32Gi").memory == "32Gi"


# The first two days of the public NASA iPSC/860 trace (Parallel Workloads Archive).
NASA = repo_file("tests", "data", "traces", "NASA-iPSC-1993-3.1-cln-excerpt.swf")


def test_real_nasa_window() -> None:
    sc, info = swf_scenario(NASA, nodes="16x8", start=86400, hours=6)
    assert info["jobs"] == len(sc.jobs) > 0
    assert all(0 <= j.submit < 6 * 3600 for j in sc.jobs)
    assert all(j.pods * int(j.cpu) >= 1 and int(j.cpu) <= 8 for j in sc.jobs)
    assert sc.name == "NASA-iPSC-1993-3.1-cln-excerpt"


def test_clues_sim_format() -> None:
    text = """# comment
;node;node;1;4096;4
10;job;1;512;10;;norequest
12;job;1;1024;20
""".splitlines()
    sc = clues_sim_scenario("simple.sim", lines=text)
    (g,) = sc.node_groups
    assert (g.count, g.cpu, g.memory) == (4, "1", "4096Mi")
    assert [(j.submit, j.cpu, j.memory, j.duration, j.pods) for j in sc.jobs] == [
        (10.0, "1000m", "512Mi", 10.0, 1),
        (12.0, "1000m", "1024Mi", 20.0, 1),
    ]
    with pytest.raises(ScenarioError, match="simple.sim:1: unknown command"):
        clues_sim_scenario("simple.sim", lines=["1;dance;x"])
