"""`clues sim sweep` helpers: parameters, overrides per grid point, the Pareto front."""

from __future__ import annotations

import pytest

from clues_py.sim.sweep import Point, overrides_for, pareto, parse_param


def point(label: str, node_s: float, p95: float) -> Point:
    return Point(label, {}, {"node_seconds_powered": node_s, "wait_seconds": {"p95": p95}})


def test_parse_param_reads_yaml_values() -> None:
    p = parse_param("idle_time=60, 120,300")
    assert (p.key, p.values) == ("idle_time", (60, 120, 300))
    assert parse_param("idle_off.break_even=true,false").values == (True, False)
    assert parse_param("idle_off.floor=0,0.5").values == (0, 0.5)


@pytest.mark.parametrize("bad", ["idle_time", "=1", "idle_time=", "a.b.c=1"])
def test_bad_params_say_how_to_write_them(bad: str) -> None:
    with pytest.raises(ValueError, match="--param"):
        parse_param(bad)


def test_overrides_edit_the_policy_entry_or_the_default_pipeline() -> None:
    assert overrides_for({"idle_time": 60}, {}) == {"idle_time": 60}
    got = overrides_for({"idle_off.floor": 1.0, "max_booting": 3}, {})
    assert got["max_booting"] == 3
    assert {"kind": "idle_off", "floor": 1.0} in got["policies"]
    assert got["policies"][0] == "scale_up"  # the rest of the default pipeline is kept
    own = {"policies": ["scale_up", {"kind": "idle_off", "idle_time": 30}, "limits"]}
    got = overrides_for({"idle_off.learn": False}, own)
    assert got["policies"][1] == {"kind": "idle_off", "idle_time": 30, "learn": False}
    assert own["policies"][1] == {"kind": "idle_off", "idle_time": 30}, "scenario untouched"
    with pytest.raises(ValueError, match="no policy 'keep_free' in the pipeline"):
        overrides_for({"keep_free.nodes": 1}, own)


def test_pareto_front_keeps_what_nothing_beats_on_both() -> None:
    pts = [point("a", 100, 50), point("b", 80, 60), point("c", 120, 40), point("d", 110, 55),
           point("e", 80, 60)]  # fmt: skip
    assert [p.label for p in pareto(pts)] == ["b", "e", "a", "c"]  # d is beaten by a
