"""Schedule windows: keep `nodes` nodes on while `now` is inside a cron window.

Each window is a 5-field crontab expression evaluated per minute with APScheduler's
`CronTrigger` in the configured `timezone`: `now` is inside the window when the
expression fires in the minute that contains `now` (e.g. `* 8-17 * * mon-fri` is
weekdays 08:00-17:59). Use day names: APScheduler numbers days from Monday = 0.
Several active windows combine as their maximum. Keeping nodes on is
`clues_py.planner.warm.keep_on`, as for min_nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from clues_py.contracts import MAX_NODES, PluginContext, Range
from clues_py.model import ClusterSnapshot
from clues_py.planner.builder import PlanBuilder
from clues_py.planner.warm import keep_on


@dataclass(frozen=True)
class Window:
    cron: str  # "minute hour day month day_of_week", e.g. "* 8-17 * * mon-fri"
    nodes: Annotated[int, Range(0, MAX_NODES)] = 1  # keep at least this many on inside
    name: str = ""


def inside(trigger: CronTrigger, now: float, tz: tzinfo) -> bool:
    """True when `trigger` fires in the minute containing `now` (pure computation)."""
    minute = datetime.fromtimestamp(now - now % 60, tz)
    nxt = trigger.get_next_fire_time(None, minute)
    return nxt is not None and nxt == minute


class ScheduleWindows:
    name = "schedule"
    declares_revisits = True

    @dataclass(frozen=True)
    class Config:
        windows: tuple[Window, ...] = field(default_factory=tuple)
        timezone: str = "UTC"

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or ScheduleWindows.Config()
        try:
            self.tz: tzinfo = ZoneInfo(self.config.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"schedule: unknown timezone {self.config.timezone!r}; "
                "use an IANA name such as 'Europe/Madrid' or 'UTC'"
            ) from exc
        if not self.config.windows:
            raise ValueError(
                "schedule: no windows; add e.g. {cron: '* 8-17 * * mon-fri', nodes: 2}"
            )
        self.triggers: list[tuple[Window, CronTrigger]] = []
        for i, w in enumerate(self.config.windows):
            if w.nodes < 0:
                raise ValueError(f"schedule: windows[{i}].nodes must be >= 0, got {w.nodes}")
            try:
                trig = CronTrigger.from_crontab(w.cron, timezone=self.tz)
            except ValueError as exc:
                raise ValueError(
                    f"schedule: windows[{i}].cron {w.cron!r} is not a crontab expression ({exc}); "
                    "expected 5 fields 'minute hour day month day_of_week', "
                    "e.g. '* 8-17 * * mon-fri'"
                ) from exc
            self.triggers.append((w, trig))

    def active(self, now: float) -> list[Window]:
        return [w for w, trig in self.triggers if inside(trig, now, self.tz)]

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        if self.triggers:
            builder.revisit(snap.now - snap.now % 60 + 60)  # windows are evaluated per minute
        active = self.active(snap.now)
        if not active:
            return
        best = max(active, key=lambda w: w.nodes)
        label = f"schedule window {best.name or repr(best.cron)} ({self.config.timezone})"
        keep_on(snap, builder, best.nodes, f"{label}: nodes={best.nodes}", self.name)
