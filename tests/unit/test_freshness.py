"""`daemon.freshness`: what the daemon may do on cluster data of a given age.

Faked: the backend, reduced to the two readings freshness takes from it (`synced`,
`data_age`); the gate logic and its log lines are real.
"""

from __future__ import annotations

import logging

import pytest

from clues_py.daemon.freshness import Freshness, data_age

INF = float("inf")


class Backend:
    def __init__(self, age: float) -> None:
        self.age = age

    def synced(self) -> bool:
        return self.age == 0.0

    def data_age(self) -> float:
        return self.age


class OldBackend:
    """A backend written before `data_age` existed: only `synced()`."""

    def __init__(self, synced: bool) -> None:
        self._synced = synced

    def synced(self) -> bool:
        return self._synced


@pytest.mark.parametrize(
    ("age", "live", "passes", "too_old"),
    [
        (INF, False, False, "not synced yet"),
        (0.0, True, True, None),
        (12.0, False, True, None),  # the watch is down, the data still young enough
        (30.0, False, True, None),
        (31.0, False, False, "cluster data is 31 s old (> max_data_age 30 s)"),
    ],
)
def test_gates_by_age(age: float, live: bool, passes: bool, too_old: str | None) -> None:
    f = Freshness(Backend(age), lambda: 30.0)  # type: ignore[arg-type]
    assert f.live() is live
    assert f.pass_allowed() is passes
    why = f.too_old()
    assert (why is None) if too_old is None else (too_old in str(why))


def test_a_backend_without_data_age_is_current_when_synced() -> None:
    assert data_age(OldBackend(True)) == 0.0  # type: ignore[arg-type]
    assert data_age(OldBackend(False)) == INF  # type: ignore[arg-type]


def test_the_bound_is_read_at_each_check_and_changes_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = Backend(0.0)
    bound = [30.0]
    f = Freshness(backend, lambda: bound[0])  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, "clues.daemon")
    assert f.pass_allowed()
    backend.age = 45.0
    for _ in range(5):
        assert not f.pass_allowed()
    bound[0] = 60.0  # a reload
    assert f.pass_allowed()
    backend.age = 0.0
    assert f.live()
    lines = [r.getMessage() for r in caplog.records]
    assert len([m for m in lines if "older than max_data_age" in m]) == 1
    assert lines.count("cluster data current again: planning resumes") == 0  # via "stale"
