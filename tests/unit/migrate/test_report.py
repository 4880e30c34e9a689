"""clues_py.cli.report on a hand-made history: timeline arithmetic, --since parsing, escaping."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from clues_py.cli.report import (
    History,
    boot_times,
    load_history,
    parse_since,
    render_report,
    state_timeline,
)
from clues_py.model import ManagedNode, NodeState
from clues_py.store import Store


def _t(at: float, node: str, old: str, new: str, i: int) -> dict[str, object]:
    return {"id": i, "at": at, "node": node, "old": old, "new": new, "reason": ""}


TRANS = [
    _t(100, "a", "off", "powering_on", 1),
    _t(110, "a", "powering_on", "idle", 2),
    _t(120, "a", "idle", "used", 3),
    _t(115, "b", "off", "powering_on", 4),
    _t(140, "b", "powering_on", "on_error", 5),
]


def test_state_timeline_counts_nodes_per_state() -> None:
    times, counts = state_timeline(History([], TRANS, now=200))
    assert times == [100, 110, 115, 120, 140, 200]
    assert counts["off"] == [1, 1, 0, 0, 0]  # b is off until 115
    assert counts["powering_on"] == [1, 0, 1, 1, 0]
    assert counts["used"] == [0, 0, 0, 1, 1]
    assert counts["on_error"] == [0, 0, 0, 0, 1]
    assert all(sum(c[i] for c in counts.values()) == 2 for i in range(5))


def test_boot_times_pair_powering_on_with_ready() -> None:
    assert boot_times(History([], TRANS, now=200)) == [10]  # b never became ready


def test_parse_since() -> None:
    assert parse_since("90s", now=1000) == 910
    assert parse_since("2h", now=10_000) == 2800
    assert parse_since("1d", now=100_000) == 100_000 - 86400
    assert parse_since("1700000000") == 1_700_000_000
    assert parse_since("2026-01-02T03:04") == datetime(2026, 1, 2, 3, 4).timestamp()
    with pytest.raises(ValueError, match="use a duration"):
        parse_since("yesterday")


def test_reasons_are_escaped_and_failed_rows_marked() -> None:
    act = {"id": 1, "at": 130.0, "kind": "power_on", "node": "b", "policy": "scale_up",
           "reason": "<script>alert(1)</script>", "status": "failed", "error": "boom & co",
           "finished_at": 131.0}  # fmt: skip
    page = render_report(History([act], TRANS, now=200))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert '<tr class="failed">' in page and "boom &amp; co" in page
    assert "Errors (2)" in page  # the failed action and the transition into on_error


def test_load_history_from_a_store(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store(db) as s:
        booting = ManagedNode(name="a", template="wn", state=NodeState.POWERING_ON)
        s.save_transition(booting, NodeState.OFF, NodeState.POWERING_ON, "boot", at=50.0)
        ready = replace(booting, state=NodeState.IDLE)
        s.save_transition(ready, NodeState.POWERING_ON, NodeState.IDLE, "ready", at=60.0)
        aid = s.add_action(49.0, "power_on", "a", "wn", "1 pending pod", "scale_up")
        s.finish_action(aid, "ok", at=51.0)
    h = load_history(db=str(db), since=55.0)
    assert [t["new"] for t in h.transitions] == ["idle"] and h.actions == []
    assert h.nodes == [{"name": "a", "state": "idle"}]
    page = render_report(load_history(db=str(db)))
    assert "1 pending pod" in page and 'data-state="idle"' in page
