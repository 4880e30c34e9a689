"""Schedule windows: cron windows (APScheduler CronTrigger) keep nodes on, in a timezone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from clues_py.model import NodeState
from clues_py.planner import plan
from plugins.policies.idle_off import IdleOff
from plugins.policies.schedule import ScheduleWindows, Window
from tests.factories import make_node, make_snapshot, make_template
from tests.unit.planner.helpers import offs, ons

S = NodeState
WN = make_template("wn", "4", "8Gi")
MADRID = ZoneInfo("Europe/Madrid")


def at(text: str, tz=MADRID) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def office(**kw) -> ScheduleWindows:
    w = Window("* 8-17 * * mon-fri", nodes=2, name="office")
    return ScheduleWindows(ScheduleWindows.Config(windows=(w,), timezone="Europe/Madrid", **kw))


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        ("2026-11-25 08:00:00", True),  # Wednesday
        ("2026-11-25 17:59:59", True),
        ("2026-11-25 07:59:59", False),
        ("2026-11-25 18:00:00", False),
        ("2026-11-28 10:00:00", False),  # Saturday
    ],
)
def test_window_membership(when: str, inside: bool) -> None:
    assert bool(office().active(at(when))) is inside


def test_timezone_is_honoured() -> None:
    # 08:30 in Madrid is 07:30 UTC: inside for Madrid, outside for a UTC window.
    utc = ScheduleWindows(ScheduleWindows.Config(windows=(Window("* 8-17 * * mon-fri"),)))
    t = at("2026-11-25 08:30:00")
    assert office().active(t) and not utc.active(t)


def test_inside_the_window_nodes_are_kept_on_and_powered_on() -> None:
    nodes = [make_node("wn-1", "wn", S.IDLE), make_node("wn-2"), make_node("wn-3")]
    now = at("2026-11-25 09:00:00")
    p = plan(make_snapshot(nodes, [WN], now=now), [office(), IdleOff(IdleOff.Config(60))])
    assert ons(p) == ["wn-2"] and offs(p) == []
    assert p.actions[0].reason == "schedule window office (Europe/Madrid): nodes=2: 1 on"
    assert p.kept["wn-1"].startswith("schedule window office")


def test_outside_the_window_idle_nodes_go() -> None:
    nodes = [make_node("wn-1", "wn", S.IDLE), make_node("wn-2")]
    now = at("2026-11-25 20:00:00")
    p = plan(make_snapshot(nodes, [WN], now=now), [office(), IdleOff(IdleOff.Config(60))])
    assert ons(p) == [] and offs(p) == ["wn-1"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"windows": (Window("bad"),)}, "not a crontab expression"),
        ({"windows": (Window("* * * * *"),), "timezone": "Mars/Base"}, "unknown timezone"),
        ({}, "no windows"),
    ],
)
def test_bad_config_is_rejected_clearly(config, message) -> None:
    with pytest.raises(ValueError, match=message):
        ScheduleWindows(ScheduleWindows.Config(**config))
