"""Running comparisons and presenting simulator results: baselines, rich tables and plots.

`run_all` runs one workload under several configurations (plus the built-in
baselines `always-on` and `clues-classic`); `summary_table` renders them with rich;
`plot` draws node states and pending demand over time with matplotlib (imported
lazily: only `--plot` needs it). The simulation itself is `engine.py`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clues_py.daemon.heap import settled_run
from clues_py.sim.engine import SimResult, Simulation
from clues_py.sim.scenario import Scenario

# The original CLUES defaults: a 5 s monitoring period and 1800 s idle time.
CLASSIC_PERIOD = 5.0
CLASSIC_IDLE = 1800.0
# An idle_time no run reaches (the config wants a number within its range: about 95
# years); see engine.FOREVER.
NEVER = 3e9
# The baselines' pipeline: power off after idle_time and nothing smarter (no break-even
# power-off, no packing-aware scale-down), as the original CLUES and always-on behave.
PLAIN_PIPELINE = ["scale_up", "min_nodes", {"kind": "idle_off", "break_even": False}, "limits"]


@dataclass(frozen=True)
class RunSpec:
    label: str
    overrides: dict[str, Any] = field(default_factory=dict)
    mode: str = "event"
    poll_period: float = 5.0
    initially_on_all: bool = False


def baselines() -> list[RunSpec]:
    return [
        # Every node on from t=0 and never powered off.
        RunSpec(
            "always-on", {"idle_time": NEVER, "policies": PLAIN_PIPELINE}, initially_on_all=True
        ),  # fmt: skip
        # The daemon only looks every 5 s and powers off after 30 min idle.
        RunSpec(
            "clues-classic",
            {"idle_time": CLASSIC_IDLE, "policies": PLAIN_PIPELINE},
            "poll",
            CLASSIC_PERIOD,
        ),  # fmt: skip
    ]


def run_one(
    scenario: Scenario,
    spec: RunSpec,
    progress: Callable[[float, float], None] | None = None,
    *,
    settle_heap: bool = False,
) -> SimResult:
    """One run. `settle_heap`: the process runs simulations and nothing else (the `clues sim`
    commands), so the collector is managed as cluesd manages it (`settled_run`): without,
    its full collections rescan the whole cluster about 40 times in the LCG 24 h run."""
    sim = Simulation(
        scenario,
        spec.overrides,
        label=spec.label,
        mode=spec.mode,
        poll_period=spec.poll_period,
        initially_on_all=spec.initially_on_all,
        progress=progress,
    )
    with settled_run(sim.daemon.bus) if settle_heap else nullcontext():
        return sim.run()


def run_all(
    scenario: Scenario,
    specs: Sequence[RunSpec],
    progress: Callable[[str, float, float], None] | None = None,
    *,
    settle_heap: bool = False,
) -> list[SimResult]:
    def one(spec: RunSpec, sc: Scenario) -> SimResult:
        cb = None
        if progress is not None:

            def cb(done: float, total: float, label: str = spec.label) -> None:
                progress(label, done, total)

        return run_one(sc, spec, cb, settle_heap=settle_heap)

    # always-on runs last, over the longest horizon of the others: a run that ends earlier
    # would otherwise look cheaper just because it stops counting sooner.
    done: dict[int, SimResult] = {}
    order = sorted(range(len(specs)), key=lambda i: specs[i].initially_on_all)
    for i in order:
        sc = scenario
        if specs[i].initially_on_all and scenario.until is None and done:
            sc = dataclasses.replace(scenario, until=max(r.end for r in done.values()))
        done[i] = one(specs[i], sc)
    return [done[i] for i in range(len(specs))]


def summary_table(results: Sequence[SimResult], title: str = "clues sim") -> Any:
    """A rich Table: one row per run, savings relative to `always-on` when it was run."""
    from rich.table import Table

    ref = next((r for r in results if r.label == "always-on"), None)
    table = Table(title=title)
    cols = ("run", "node-s powered", "vs always-on", "energy kWh", "wait mean s",
            "wait p95 s", "wait max s", "power on/off", "failed boots", "jobs done",
            "makespan s")  # fmt: skip
    rows = []
    for r in results:
        m = r.metrics
        saving = ""
        if ref is not None and ref.metrics["node_seconds_powered"] > 0:
            # Negative: fewer node-seconds than keeping every node on.
            pct = 100.0 * (m["node_seconds_powered"] / ref.metrics["node_seconds_powered"] - 1)
            saving = f"{pct:+.1f}%"
        w = m["wait_seconds"]
        rows.append(
            (
                r.label,
                f"{m['node_seconds_powered']:.0f}",
                saving,
                f"{m['energy_kwh']:.2f}",
                f"{w['mean']:.1f}",
                f"{w['p95']:.1f}",
                f"{w['max']:.1f}",
                f"{m['power_on_actions']}/{m['power_off_actions']}",
                str(m["failed_boots"]),
                f"{m['jobs_completed']}/{m['jobs']}",
                f"{m['makespan_seconds']:.0f}",
            )
        )
    for i, col in enumerate(cols):
        # Numbers are never cut: on a narrow terminal the headers wrap instead.
        width = max((len(row[i]) for row in rows), default=1)
        table.add_column(col, justify="left" if i == 0 else "right", min_width=width)
    for row in rows:
        table.add_row(*row)
    lb = results[0].metrics["lower_bound_node_seconds"] if results else 0.0
    table.caption = f"offline lower bound: {lb:.0f} node-seconds (core-seconds / node cores)"
    return table


def _steps(series: list[tuple[float, float]], end: float) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for t, v in series:
        xs.append(t)
        ys.append(v)
    if xs:
        xs.append(end)
        ys.append(ys[-1])
    return xs, ys


def plot(results: Sequence[SimResult], path: str | Path) -> Path:
    """Node states (off / booting / idle / used) and pending demand over time, one panel per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    fig, axes = plt.subplots(n, 1, figsize=(11, 3.2 * n), squeeze=False, sharex=True)
    groups = {
        "used": ("used",),
        "idle": ("idle", "draining"),
        "booting": ("powering_on",),
        "stopping": ("powering_off",),
        "error": ("on_error", "off_error", "unknown"),
    }
    colors = {"used": "#d62728", "idle": "#ff7f0e", "booting": "#1f77b4", "stopping": "#9467bd",
              "error": "#7f7f7f"}  # fmt: skip
    for ax, r in zip((a[0] for a in axes), results, strict=True):
        end = max(r.end, 1.0)
        ts = [0.0] + [t for t, _ in r.node_series]
        first = r.node_series[0][1] if r.node_series else {}
        total = sum(first.values()) if first else 0
        counts = [{"off": total}] + [c for _, c in r.node_series]
        stacks = [[sum(c.get(s, 0) for s in states) for c in counts] for states in groups.values()]
        ts_e = ts + [end]
        stacks_e = [s + [s[-1]] for s in stacks]
        ax.stackplot(ts_e, *stacks_e, labels=list(groups), colors=[colors[g] for g in groups],
                     step="post", alpha=0.8)  # fmt: skip
        ax.set_ylabel("nodes")
        ax.set_title(f"{r.label}: {r.metrics.get('scenario', '')}")
        ax2 = ax.twinx()
        xs, ys = _steps([(t, cores) for t, _, cores, _ in r.demand_series], end)
        ax2.step(xs, ys, where="post", color="black", linewidth=1.0, label="pending cores")
        ax2.set_ylabel("pending demand (cores)")
        ax.legend(loc="upper left", fontsize="small", ncol=5)
        ax2.legend(loc="upper right", fontsize="small")
    axes[-1][0].set_xlabel("simulated time (s)")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
