"""Break-even power-off: how long an idle node is worth keeping on (the ski-rental problem).

Keeping an idle node on costs its idle draw every second; powering it off costs one
power cycle when demand needs it again (shutdown, boot and, if given, a per-boot
price). `break_even_seconds` turns a template into the idle time that costs as much
as one cycle, B. `off_time` says when an idle node should go:

- **learned** (enough history): the template's past needs (`clues_py.forecast`) give
  an empirical distribution of T, the time until this node (the `rank`-th spare one)
  would be needed, conditioned on how long the template has now gone without a need.
  The node is held for the τ that minimises E[min(T, τ)] + B·P(T > τ) (rent until τ,
  then pay a cycle if it comes later), τ = 0 meaning off now;
- **fallback** (too little history): off once idle for B (classic ski rental,
  2-competitive), or sooner, once idle for `floor`·B, when the template has needed
  no node for B seconds (a quiet spell tends to last: bursty work; with no need seen
  at all, e.g. after a restart, only the classic rule applies).

Either way never before `floor`·B of idleness (robustness against bad forecasts) and
never after `idle_time`. `shutdown_guard` may hold a node longer: while, at past
moments like now (counted from a node's release), more nodes than the spares ahead
of it and the OFF ones were needed within one shutdown in more than a `risk` share
of them (the need would wait for the shutdown and a boot, beyond the one boot the
policy protects); `over_budget` says whether the template's latest jobs need that
protection at all. Worst cases are in docs/policies.md. Pure: no I/O, no clock.
Which nodes are idle and their ranks is the `idle_off` policy's business.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate

from clues_py.model import Events, NodeTemplate

__all__ = ["OffTime", "break_even_seconds", "off_time", "over_budget", "shutdown_guard"]

# Fewer comparable moments than this in the history: use the fallback rule.
MIN_SAMPLES = 2
# A quiet spell counts as one (fallback rule) once it is this much longer than every gap
# between needs seen so far: shorter, the next need may just be due (periodic bursts).
QUIET_FACTOR = 1.5
# The shutdown guard holds nodes only while the template's latest jobs have spent at least
# this share of their late budget (1 - wait_quantile of them may wait beyond one boot):
# holding while the budget is barely touched buys no quantile, only node-seconds.
BUDGET_GATE = 0.5
# A job is late when it waited longer than one boot plus this (a pass, a bind).
LATE_SLACK = 1.0


def break_even_seconds(t: NodeTemplate) -> float:
    """Idle seconds that cost as much as one power cycle of a node of `t`.

    A cycle keeps the node powered but useless through its shutdown and its next boot,
    at about its idle draw, so in node-seconds, energy (`watts_idle` cancels out) and a
    per-second bill alike it costs `boot_seconds + shutdown_seconds` of idling. A
    `boot_cost` adds its price in idle seconds when `cost_per_hour` is known.
    """
    seconds = t.boot_seconds + t.shutdown_seconds
    if t.boot_cost > 0 and t.cost_per_hour > 0:
        seconds += t.boot_cost / (t.cost_per_hour / 3600.0)
    return seconds


@dataclass(frozen=True, slots=True)
class OffTime:
    at: float  # when to power the node off if nothing changes (<= now: now)
    why: str  # how it was decided, for the reasons


def _samples(h: Events, now: float, need: int, marks_only: bool = False) -> list[float]:
    """Times until `need` more nodes were needed, from the past moments like now.

    A past moment is like now when, `quiet` seconds after a need, the next one had
    not come yet; it then came after T. A moment whose `need` never filled in the
    history counts as never (inf), which only makes powering off likelier. With
    `marks_only`, only the events that brought nothing (count 0) are moments.
    """
    times, counts = h.times, h.counts
    quiet = now - times[-1]
    cum = list(accumulate(counts))
    out: list[float] = []
    for i in range(len(times) - 1):
        if times[i + 1] - times[i] <= quiet or (marks_only and counts[i]):
            continue
        k = bisect_left(cum, cum[i] + need, lo=i + 1)
        out.append(times[k] - times[i] - quiet if k < len(times) else float("inf"))
    return out


def _best_hold(samples: list[float], cycle: float, cap: float) -> float:
    """The τ in [0, cap] minimising mean(min(T, τ)) + cycle·P(T > τ); ties go to the shorter."""
    m = len(samples)
    best_tau, best_cost = 0.0, cycle
    below = 0.0  # sum of the samples <= tau
    ordered = sorted(samples)
    for k, s in enumerate(ordered, start=1):
        if s > cap:
            break
        below += s
        if k < m and ordered[k] == s:
            continue  # evaluate once past all ties
        cost = (below + (m - k) * (s + cycle)) / m
        if cost < best_cost - 1e-9:
            best_tau, best_cost = s, cost
    k = bisect_left(ordered, cap + 1e-9)
    tail = sum(ordered[:k])
    if cap < float("inf") and (tail + (m - k) * (cap + cycle)) / m < best_cost - 1e-9:
        best_tau = cap
    return best_tau


def _merge(h: Events, marks: Events) -> Events:
    """`h` with the instants of `marks` added as events that bring nothing (count 0)."""
    if not len(marks):
        return h
    pairs = sorted([*zip(h.times, h.counts, strict=True), *((t, 0) for t in marks.times)])
    return Events(tuple(t for t, _ in pairs), tuple(c for _, c in pairs))


def _guard_hold(samples: list[float], shutdown: float, risk: float, cap: float) -> float:
    """The least τ in [0, cap] after which a need lands inside the shutdown [τ, τ + shutdown)
    in at most a `risk` share of the moments still to come (T > τ); `cap` if none is."""
    ordered = sorted(samples)
    for tau in (0.0, *ordered):
        if tau > cap:
            return cap
        later = len(ordered) - bisect_right(ordered, tau)
        if later == 0:
            return tau
        inside = bisect_left(ordered, tau + shutdown) - bisect_right(ordered, tau)
        if inside <= risk * later:
            return tau
    return cap


def over_budget(waits: tuple[float, ...], boot: float, quantile: float) -> bool:
    """Whether the latest jobs' waits (oldest first) spent `BUDGET_GATE` of their late budget.

    `quantile` is the wait quantile protected (0.95: p95): at most 1 - `quantile` of the
    jobs may wait beyond one `boot`. No waits seen (e.g. just restarted): not over.
    """
    if quantile <= 0 or not waits:
        return False
    late = sum(1 for w in waits if w > boot + LATE_SLACK)
    return late >= BUDGET_GATE * (1.0 - quantile) * len(waits) - 1e-9


def shutdown_guard(
    needs: Events,
    releases: Events,
    *,
    now: float,
    idle_since: float,
    beyond: int,
    shutdown: float,
    risk: float,
    idle_time: float,
) -> OffTime | None:
    """When a node may start its shutdown without making the next need wait beyond a boot.

    A need that comes while the node shuts down waits for the rest of the shutdown and
    then a boot, unless a node that is OFF boots for it instead. `beyond` is how many
    nodes demand must take before it takes this one from its shutdown (the spares ahead
    of it and the OFF nodes that could boot instead). The moments like now are past
    `releases` (a node of the template freed: work that follows work is submitted a
    while after the last job ended) followed by as long without a need or release as
    now has gone; hold the node while more than a `risk` share of them saw that
    demand come within one shutdown. None: too little history, or nothing to hold for.
    """
    latest = idle_since + idle_time
    if shutdown <= 0 or risk >= 1 or len(needs) < 2 or now >= latest:
        return None
    samples = _samples(_merge(needs, releases), now, beyond + 1, marks_only=True)
    if len(samples) < MIN_SAMPLES:
        return None
    tau = _guard_hold(samples, shutdown, risk, latest - now)
    if tau <= 0:
        return None
    share = sum(1 for s in samples if s < shutdown) / len(samples)
    why = (
        f"{share:.0%} of {len(samples)} past moments like now saw more than {beyond} "
        f"node(s) needed within the {shutdown:.0f} s shutdown: held {tau:.0f} s more"
    )
    return OffTime(now + tau, why)


def off_time(
    h: Events,
    *,
    now: float,
    idle_since: float,
    rank: int,
    cycle: float,
    idle_time: float,
    floor: float = 0.25,
    learn: bool = True,
    noun: str = "need",
) -> OffTime:
    """When to power off an idle node of break-even `cycle` seconds (see the module doc).

    `h` is what ends the node's idleness (needs or arrivals, named `noun` in reasons);
    `rank` is 0 for the spare node demand would take first, 1 for the next...
    """
    latest = idle_since + idle_time
    earliest = min(idle_since + floor * cycle, latest)
    samples = _samples(h, now, rank + 1) if learn and len(h) >= 2 else []
    if len(samples) >= MIN_SAMPLES:
        tau = _best_hold(samples, cycle, max(latest - now, 0.0))
        if tau <= 0:
            why = (
                f"learned from {len(samples)} past {noun}s: next {noun} unlikely within break-even"
            )
        else:
            why = f"learned from {len(samples)} past {noun}s: held {tau:.0f} s more"
        return OffTime(min(max(now + tau, earliest), latest), why)
    # No need ever seen (e.g. just restarted): nothing says the spell is quiet.
    longest = max((b - a for a, b in zip(h.times, h.times[1:], strict=False)), default=0.0)
    quiet_for = max(cycle, QUIET_FACTOR * longest)
    quiet_off = max(earliest, h.last + quiet_for) if len(h) else float("inf")
    at = min(idle_since + cycle, quiet_off, latest)
    if at == latest and latest < min(idle_since + cycle, quiet_off):
        why = "idle_time reached"
    elif at == quiet_off and quiet_off < idle_since + cycle:
        why = f"no {noun} for {quiet_for:.0f} s (quiet)"
    else:
        why = f"idle for break-even {cycle:.0f} s"
    return OffTime(at, why)
