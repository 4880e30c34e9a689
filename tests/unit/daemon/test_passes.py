"""`PassLog`: the record of recent passes behind `GET /v1/passes` (a fake wall clock)."""

from __future__ import annotations

from clues_py.daemon.passes import RECENT, PassLog


def test_report_counts_first_pass_and_median_per_kind() -> None:
    t = [100.0]
    log = PassLog(wall=lambda: t[0])
    assert log.report()["first_pass_at"] is None
    t[0] = 103.5
    log.record(0.4, "full", 5000, 0)
    for i, secs in enumerate((0.002, 0.004, 0.009)):
        t[0] = 104.0 + i
        log.record(secs, "incremental", 1, 0)
    r = log.report()
    assert r["first_pass_seconds"] == 3.5
    assert r["counts"] == {"full": 1, "incremental": 3}
    assert r["full"] == {"median_s": 0.4, "max_s": 0.4, "n": 1}
    assert r["incremental"] == {"median_s": 0.004, "max_s": 0.009, "n": 3}
    assert [p["kind"] for p in r["recent"]] == ["full", "incremental", "incremental", "incremental"]


def test_recent_is_bounded_and_counts_are_not() -> None:
    log = PassLog(wall=lambda: 0.0)
    for _ in range(RECENT + 10):
        log.record(0.001, "incremental", 1, 0)
    r = log.report()
    assert len(r["recent"]) == RECENT
    assert r["counts"]["incremental"] == RECENT + 10
