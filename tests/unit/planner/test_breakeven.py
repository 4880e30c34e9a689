"""Break-even power-off: the cycle cost of a template and when an idle node should go."""

from __future__ import annotations

from dataclasses import replace
from itertools import accumulate

import pytest

from clues_py.forecast import Events
from clues_py.planner.breakeven import MIN_SAMPLES, break_even_seconds, off_time, shutdown_guard
from tests.factories import make_template

WN = make_template("wn", "4", "8Gi")  # boot 60 s, shutdown 30 s


def every(gap: float, n: int, start: float = 0.0, count: int = 1) -> Events:
    """`n` needs of `count` nodes, `gap` seconds apart."""
    return Events(tuple(start + i * gap for i in range(n)), (count,) * n)


def test_break_even_is_boot_plus_shutdown() -> None:
    assert break_even_seconds(WN) == 90
    # Watts cancel out: the node idles through both at about its idle draw.
    assert break_even_seconds(replace(WN, watts_idle=100, watts_busy=300)) == 90
    slow = replace(WN, boot_seconds=240, shutdown_seconds=60)
    assert break_even_seconds(slow) == 300


def test_a_boot_price_adds_its_worth_in_idle_seconds() -> None:
    cloud = replace(WN, cost_per_hour=0.36, boot_cost=0.01)  # 0.0001/s: a boot is 100 s
    assert break_even_seconds(cloud) == pytest.approx(190)
    assert break_even_seconds(replace(WN, boot_cost=0.01)) == 90  # no hourly price: ignored


def test_no_history_is_classic_ski_rental() -> None:
    off = off_time(Events(), now=1000, idle_since=950, rank=0, cycle=90, idle_time=300)
    assert off.at == 1040 and off.why == "idle for break-even 90 s"


def test_a_quiet_template_lets_nodes_go_after_the_floor() -> None:
    h = Events((100.0,), (10,))  # a burst long ago, nothing since
    off = off_time(h, now=1000, idle_since=990, rank=0, cycle=90, idle_time=300, floor=0.25)
    assert off.at == 990 + 22.5
    assert off.why == "no need for 90 s (quiet)"
    # Right after a need the spell is not quiet yet: held until 90 s after it.
    h = Events((980.0,), (1,))
    off = off_time(h, now=1000, idle_since=990, rank=0, cycle=90, idle_time=300, floor=0.25)
    assert off.at == 1070


def test_idle_time_is_the_longest_hold() -> None:
    h = every(10, 100, start=0)  # needs every 10 s: worth holding
    off = off_time(h, now=995, idle_since=900, rank=0, cycle=90, idle_time=100)
    assert off.at == 1000
    off = off_time(Events(), now=1000, idle_since=990, rank=0, cycle=90, idle_time=30)
    assert off.at == 1020 and off.why == "idle_time reached"


def test_frequent_needs_hold_the_first_spare_and_release_the_others() -> None:
    h = every(30, 50)  # one node needed every 30 s, last at 1470
    first = off_time(h, now=1480, idle_since=1475, rank=0, cycle=90, idle_time=300)
    assert first.at > 1480 and "learned from" in first.why
    # The 5th spare would be needed only after 5 more needs (~150 s > break-even).
    fifth = off_time(h, now=1480, idle_since=1475, rank=4, cycle=90, idle_time=300)
    assert fifth.at == 1475 + 0.25 * 90
    assert "unlikely within break-even" in fifth.why


def test_rare_needs_release_the_node_after_the_floor() -> None:
    h = every(1000, 20)  # needs 1000 s apart: never worth 90 s of idling
    off = off_time(h, now=19_100, idle_since=19_050, rank=0, cycle=90, idle_time=300)
    assert off.at == 19_100 and "unlikely within break-even" in off.why  # now: off at once
    early = off_time(h, now=19_060, idle_since=19_050, rank=0, cycle=90, idle_time=300)
    assert early.at == 19_050 + 22.5  # but never before the floor


def test_too_few_comparable_moments_use_the_fallback() -> None:
    h = every(30, MIN_SAMPLES)  # MIN_SAMPLES - 1 gaps
    off = off_time(h, now=h.last + 5, idle_since=h.last, rank=0, cycle=90, idle_time=300)
    assert "learned" not in off.why


def test_learning_can_be_switched_off() -> None:
    h = every(30, 50)
    off = off_time(h, now=1480, idle_since=1475, rank=0, cycle=90, idle_time=300, learn=False)
    assert off.at == 1470 + 90 and "learned" not in off.why  # quiet for break-even


def test_a_bursty_history_conditions_on_the_quiet_so_far() -> None:
    # Bursts of 5 needs 2 s apart, every 600 s: 5 s after a need, the next is 2 s away
    # (hold); 100 s after, the next burst is ~500 s away (go).
    times = tuple(b * 600.0 + i * 2 for b in range(12) for i in range(5))
    h = Events(times, (1,) * len(times))
    last = times[-1]
    soon = off_time(h, now=last + 1, idle_since=last, rank=0, cycle=90, idle_time=300)
    assert soon.at > last + 1 and "held" in soon.why
    late = off_time(h, now=last + 100, idle_since=last + 50, rank=0, cycle=90, idle_time=300)
    assert late.at <= last + 100 and "unlikely" in late.why


GAPS = (500.0, 1300.0, 700.0, 1100.0, 900.0, 1500.0, 600.0, 1200.0, 800.0)


def follows_work(after: float = 25.0) -> tuple[Events, Events]:
    """Work that follows work: jobs of irregular lengths, each next one submitted `after`
    seconds after the last one ended (a node freed, then one needed). Last freed at 8600."""
    freed = tuple(accumulate(GAPS, initial=0.0))
    return Events(tuple(t + after for t in freed[:-1]), (1,) * len(GAPS)), Events(
        freed, (1,) * len(freed)
    )


def guard(needs: Events, releases: Events, **kw: float) -> object:
    args = {"now": 8605.0, "idle_since": 8600.0, "beyond": 0, "shutdown": 30.0, "risk": 0.05}
    return shutdown_guard(needs, releases, idle_time=300.0, **(args | kw))


def test_a_need_due_inside_the_shutdown_holds_the_node() -> None:
    needs, releases = follows_work()
    held = guard(needs, releases)
    assert held is not None and held.at > 8605
    assert "within the 30 s shutdown" in held.why and "more than 0 node(s)" in held.why
    # The learned rule alone says go: the needs, irregular, say nothing of the next one;
    # the moments after a release do.
    alone = off_time(needs, now=8605, idle_since=8600, rank=0, cycle=90, idle_time=300)
    assert alone.at < held.at


def test_an_off_node_that_can_boot_instead_lifts_the_hold() -> None:
    needs, releases = follows_work()
    assert guard(needs, releases, beyond=1) is None  # the need takes the OFF node


def test_needs_that_come_after_the_shutdown_do_not_hold() -> None:
    needs, releases = follows_work(after=200.0)  # the cycle ends before the need: a boot
    assert guard(needs, releases) is None


def test_the_guard_never_holds_past_idle_time_or_when_switched_off() -> None:
    needs, releases = follows_work()
    assert guard(needs, releases, risk=1.0) is None  # wait_quantile 0
    assert guard(needs, releases, now=8900.0) is None  # idle_time reached
    held = guard(needs, releases)
    assert held is not None and held.at <= 8600 + 300
    assert guard(Events(), releases) is None  # nothing learned: the fallback rule decides
