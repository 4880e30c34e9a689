"""Standard cron schedules as CronJobs read them: parsing, validation and the next run time.

Five fields (minute hour day-of-month month day-of-week) with `*`, `?`, lists, ranges,
steps and month/day names, plus the `@hourly`-style macros, with the robfig/cron
rule Kubernetes uses: when both day fields are restricted a day matching either one
fires. Times are computed in the CronJob's `timeZone` (UTC by default). Pure: the
CronJob controller (`controllers/cronjobs.py`) decides what to do at those times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {
        m: i + 1
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        )
    },
    {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
)
# How far ahead to look for a matching day (Feb 29 on a Monday can be 28 years away).
_HORIZON_DAYS = 366 * 29


class CronError(ValueError):
    """A schedule or time zone that cannot be used; the message says what is wrong."""


def _value(text: str, field: int) -> int:
    low, high = _BOUNDS[field]
    key = text.lower()
    if key in _NAMES[field]:
        return _NAMES[field][key]
    try:
        value = int(text)
    except ValueError:
        raise CronError(f"failed to parse int from {text}") from None
    if not low <= value <= high:
        raise CronError(f"end of range ({value}) above maximum ({high}): {text}")
    return value


def _field(text: str, field: int) -> tuple[frozenset[int], bool]:
    """The values a field allows, and whether it was unrestricted (`*` or `?`)."""
    low, high = _BOUNDS[field]
    out: set[int] = set()
    star = False
    for part in text.split(","):
        rng, _, step_s = part.partition("/")
        step = 1
        if step_s:
            step = _value(step_s, 0) if step_s.isdigit() else -1
            if step <= 0:
                raise CronError(f"invalid step {step_s!r} in {part!r}")
        if rng in ("*", "?"):
            start, end = low, high
            star = star or not step_s
        elif "-" in rng:
            a, b = rng.split("-", 1)
            start, end = _value(a, field), _value(b, field)
            if start > end:
                raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {part}")
        else:
            start = _value(rng, field)
            end = high if step_s else start
        out.update(range(start, end + 1, step))
    if field == 4 and 7 in out:
        out.discard(7)
        out.add(0)
    return frozenset(out), star


@dataclass(frozen=True, slots=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def _day_matches(self, d: datetime) -> bool:
        if d.month not in self.months:
            return False
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def next_after(self, t: float, zone: tzinfo = UTC) -> float | None:
        """The first run time strictly after `t` (epoch seconds), or None if there is none."""
        local = datetime.fromtimestamp(t, zone).replace(second=0, microsecond=0)
        local += timedelta(minutes=1)
        day = local.replace(hour=0, minute=0)
        first = True
        for _ in range(_HORIZON_DAYS):
            if self._day_matches(day):
                for h in sorted(self.hours):
                    for m in sorted(self.minutes):
                        cand = day.replace(hour=h, minute=m)
                        if first and cand < local:
                            continue
                        when = cand.timestamp()
                        if when > t:
                            return when
            day = (day + timedelta(days=1)).replace(hour=0, minute=0)
            first = False
        return None

    def last_at_or_before(self, since: float, now: float, zone: tzinfo = UTC) -> float | None:
        """The latest run time in (since, now], or None: what a CronJob should start at `now`.

        Scans back from `now` day by day, so a long gap costs days, not missed runs.
        """
        local = datetime.fromtimestamp(now, zone).replace(second=0, microsecond=0)
        day = local.replace(hour=0, minute=0)
        first = True
        while day.timestamp() + 86400 * 2 > since:
            if self._day_matches(day):
                for h in sorted(self.hours, reverse=True):
                    for m in sorted(self.minutes, reverse=True):
                        cand = day.replace(hour=h, minute=m)
                        if first and cand > local:
                            continue
                        when = cand.timestamp()
                        if since < when <= now:
                            return when
                        if when <= since:
                            return None
            day = (day - timedelta(days=1)).replace(hour=0, minute=0)
            first = False
        return None


def parse(schedule: str) -> Schedule:
    """Parse a schedule; raises CronError with robfig/cron's kind of message."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        raise CronError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    text = MACROS.get(text.lower(), text)
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {fields}")
    minutes, _ = _field(fields[0], 0)
    hours, _ = _field(fields[1], 1)
    days, any_day = _field(fields[2], 2)
    months, _ = _field(fields[3], 3)
    weekdays, any_weekday = _field(fields[4], 4)
    return Schedule(minutes, hours, days, months, weekdays, any_day, any_weekday)


def zone(name: str | None) -> tzinfo:
    """The CronJob's `timeZone` (None: UTC, as the sandbox's controller manager runs in UTC)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone {name}") from None
