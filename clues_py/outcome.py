"""Run outcome metrics (the `clues-scenario/v1` metric keys), from recorded history.

Pure functions over the store's transition rows and per-job timings, shared by
`clues demo` and the simulator so both report the same numbers the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clues_py.model import NodeTemplate

_READY_STATES = {"idle", "used", "draining"}


@dataclass(frozen=True)
class JobTiming:
    submit: float
    started: float | None  # when its last pod started running
    finished: float | None
    core_seconds: float  # sum over pods of cores x run time


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def _intervals(
    rows: Iterable[Mapping[str, Any]], start_states: set[str], end: float
) -> dict[str, list[tuple[float, float, str]]]:
    """Per node, the (from, to, state) spans in which its state was in `start_states`."""
    spans: dict[str, list[tuple[float, float, str]]] = {}
    open_at: dict[str, tuple[float, str]] = {}
    for row in sorted(rows, key=lambda r: (r["at"], r.get("id", 0))):
        node, new, at = row["node"], row["new"], float(row["at"])
        if node in open_at:
            t0, st = open_at.pop(node)
            spans.setdefault(node, []).append((t0, at, st))
        if new in start_states:
            open_at[node] = (at, new)
    for node, (t0, st) in open_at.items():
        spans.setdefault(node, []).append((t0, end, st))
    return spans


def summarize(
    *,
    name: str,
    transitions: Sequence[Mapping[str, Any]],
    power_on_actions: int,
    power_off_actions: int,
    jobs: Sequence[JobTiming],
    templates: Mapping[str, NodeTemplate],
    node_template: Mapping[str, str],
    start: float,
    end: float,
    scale: float = 1.0,
) -> dict[str, Any]:
    """Metrics of one run; times are multiplied by `scale` (demo speed-up) into scenario seconds."""
    powered_states = {
        "powering_on",
        "idle",
        "used",
        "draining",
        "powering_off",
        "on_error",
        "unknown",
        "off_error",
    }
    powered = _intervals(transitions, powered_states, end)
    node_seconds_powered = sum(b - a for spans in powered.values() for a, b, _ in spans)
    node_seconds_ready = sum(
        b - a for spans in powered.values() for a, b, st in spans if st in _READY_STATES
    )
    energy_j = 0.0
    cost = 0.0
    for node, spans in powered.items():
        t = templates.get(node_template.get(node, ""))
        if t is None:
            continue
        for a, b, st in spans:
            watts = t.watts_busy if st == "used" else t.watts_idle
            energy_j += (b - a) * scale * watts
            cost += (b - a) * scale / 3600.0 * t.cost_per_hour
    failed_boots = sum(1 for r in transitions if r["new"] == "on_error")
    waits = [(j.started - j.submit) * scale for j in jobs if j.started is not None]
    finished = [j.finished for j in jobs if j.finished is not None]
    first_submit = min((j.submit for j in jobs), default=start)
    cores = max((t.resources.cpu_millis / 1000.0 for t in templates.values()), default=1.0) or 1.0
    return {
        "scenario": name,
        "node_seconds_powered": round(node_seconds_powered * scale, 3),
        "node_seconds_ready": round(node_seconds_ready * scale, 3),
        "power_on_actions": power_on_actions,
        "power_off_actions": power_off_actions,
        "failed_boots": failed_boots,
        "jobs": len(jobs),
        "jobs_completed": len(finished),
        "wait_seconds": {
            "mean": round(sum(waits) / len(waits), 3) if waits else 0.0,
            "p50": round(percentile(waits, 50), 3),
            "p95": round(percentile(waits, 95), 3),
            "max": round(max(waits), 3) if waits else 0.0,
        },
        "makespan_seconds": round((max(finished) - first_submit) * scale, 3) if finished else 0.0,
        "energy_kwh": round(energy_j / 3.6e6, 4),
        "cost": round(cost, 4),
        "lower_bound_node_seconds": round(sum(j.core_seconds for j in jobs) * scale / cores, 3),
    }
