"""`clues sim ...` commands (click): scenario JSON, SWF traces and original CLUES `.sim` files.

Every command shares the output options (`--json`, `--plot`, `--compare`,
`--baselines`, `--seed`). Heavy modules (the daemon, the sandbox, matplotlib) are
imported only when a command runs, so `clues --help` stays fast. The work is
`engine.py`'s and `report.py`'s; this module parses options and prints.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

EXIT_USAGE = 2


def _load_overrides(path: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise click.UsageError(f"--compare {path}: cannot read YAML overrides: {exc}") from None
    if not isinstance(data, dict):
        raise click.UsageError(
            f"--compare {path}: must be a mapping of config keys, e.g. `idle_time: 120`"
        )
    return data


def _output_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON."),
        click.option(
            "--plot",
            "plot_path",
            type=click.Path(dir_okay=False),
            help="Write a PNG of node states and pending demand over time.",
        ),  # fmt: skip
        click.option(
            "--compare",
            "compare",
            multiple=True,
            type=click.Path(dir_okay=False),
            help="YAML file of config overrides to run side by side (repeatable).",
        ),  # fmt: skip
        click.option(
            "--baselines", is_flag=True, help="Also run the always-on and clues-classic baselines."
        ),  # fmt: skip
        click.option(
            "--seed", type=int, help="Random seed (boot failures); overrides the input's."
        ),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _run(
    scenario: Any,
    *,
    as_json: bool,
    plot_path: str | None,
    compare: tuple[str, ...],
    baselines: bool,
    seed: int | None,
    notes: str = "",
) -> None:
    from clues_py.config.load import ConfigError
    from clues_py.sim import report

    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    specs = [report.RunSpec("scenario" if (compare or baselines) else "clues-py")]
    specs += [report.RunSpec(Path(p).stem, _load_overrides(p)) for p in compare]
    if baselines:
        specs += report.baselines()
    progress = None
    bar: Any = None
    if not as_json and sys.stderr.isatty():
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        tasks: dict[str, Any] = {}

        def progress(label: str, done: float, total: float) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(f"simulating {label}", total=total)
            bar.update(tasks[label], completed=min(done, total), total=total)

    if plot_path and importlib.util.find_spec("matplotlib") is None:
        # Fail before a long run, not after it.
        raise click.UsageError(
            "--plot needs matplotlib: pip install 'clues-py[sim]' (or pip install matplotlib)"
        )
    try:
        results = report.run_all(scenario, specs, progress, settle_heap=True)
    except ConfigError as exc:
        raise click.UsageError(f"configuration: {exc}") from None
    finally:
        if bar is not None:
            bar.stop()
    if plot_path:
        report.plot(results, plot_path)
    if as_json:
        if len(results) == 1:
            click.echo(json.dumps(results[0].metrics))
        else:
            click.echo(json.dumps({"runs": [{"label": r.label, **r.metrics} for r in results]}))
        return
    from rich.console import Console

    console = Console()
    if not console.is_terminal or console.width < 150:
        # Below this the table would crop numbers; a wider line wraps, which loses nothing.
        console = Console(width=150)
    console.print(report.summary_table(results, title=f"clues sim: {scenario.name}"))
    if notes:
        console.print(notes)
    if plot_path:
        console.print(f"plot written to {plot_path}")


@click.group()
def sim() -> None:
    """Replay a workload against the real planner on a virtual clock (see docs/sim.md)."""


@sim.command("run")
@click.argument("scenario_file", type=click.Path(dir_okay=False))
@_output_options
def sim_run(scenario_file: str, **opts: Any) -> None:
    """Run a clues-scenario/v1 JSON file."""
    from clues_py.sim.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(scenario_file)
    except ScenarioError as exc:
        raise click.UsageError(str(exc)) from None
    _run(scenario, **opts)


@sim.command("swf")
@click.argument("trace", type=click.Path(dir_okay=False))
@click.option("--start", type=float, default=0.0, show_default=True,
              help="Take jobs submitted from this many seconds into the trace.")  # fmt: skip
@click.option("--hours", type=float, help="Take this many hours of submissions (default: all).")
@click.option("--nodes", default="16x8", show_default=True, metavar="COUNTxCORES[xMEM]",
              help="Cluster shape, e.g. 16x8 or 16x8x32Gi.")  # fmt: skip
@click.option("--boot", "boot_seconds", type=float, default=60.0, show_default=True)
@click.option("--shutdown", "shutdown_seconds", type=float, default=30.0, show_default=True)
@click.option("--idle-time", type=float, help="Seconds idle before power-off (config idle_time).")
@_output_options
def sim_swf(
    trace: str,
    start: float,
    hours: float | None,
    nodes: str,
    boot_seconds: float,
    shutdown_seconds: float,
    idle_time: float | None,
    **opts: Any,
) -> None:
    """Run a Standard Workload Format trace (.swf or .swf.gz)."""
    from clues_py.sim.scenario import ScenarioError
    from clues_py.sim.traces import swf_scenario

    try:
        scenario, info = swf_scenario(
            trace,
            nodes=nodes,
            start=start,
            hours=hours,
            seed=opts.get("seed") or 0,
            boot_seconds=boot_seconds,
            shutdown_seconds=shutdown_seconds,
        )
    except ScenarioError as exc:
        raise click.UsageError(str(exc)) from None
    if idle_time is not None:
        scenario = dataclasses.replace(scenario, config={"idle_time": idle_time})
    notes = (
        f"{info['jobs']} jobs in the window; {info['skipped']} cancelled/empty records and "
        f"{info['too_wide']} jobs wider than the cluster skipped"
    )
    _run(scenario, notes=notes, **opts)


@sim.command("clues")
@click.argument("sim_file", type=click.Path(dir_okay=False))
@click.option("--boot", "boot_seconds", type=float, default=60.0, show_default=True)
@click.option("--shutdown", "shutdown_seconds", type=float, default=30.0, show_default=True)
@_output_options
def sim_clues(sim_file: str, boot_seconds: float, shutdown_seconds: float, **opts: Any) -> None:
    """Run an original CLUES simulator file (`.sim`: `T;job;...` and `;node;...` lines)."""
    from clues_py.sim.scenario import ScenarioError
    from clues_py.sim.traces import clues_sim_scenario

    try:
        scenario = clues_sim_scenario(
            sim_file, boot_seconds=boot_seconds, shutdown_seconds=shutdown_seconds
        )
    except ScenarioError as exc:
        raise click.UsageError(str(exc)) from None
    _run(scenario, **opts)


@sim.command("sweep")
@click.argument("scenario_file", type=click.Path(dir_okay=False))
@click.option("--param", "params", multiple=True, required=True, metavar="KEY=V1,V2,...",
              help="Values to try: a config key (idle_time=60,300) or a policy option "
                   "(idle_off.wait_weight=0,1). Repeat for a grid.")  # fmt: skip
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="PNG of the Pareto front (default: NAME-pareto.png).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print every run's metrics as JSON.")
@click.option("--seed", type=int, help="Random seed (boot failures); overrides the scenario's.")
def sim_sweep(
    scenario_file: str,
    params: tuple[str, ...],
    plot_path: str | None,
    as_json: bool,
    seed: int | None,
) -> None:
    """Run a grid of settings on a scenario and draw node-seconds against p95 wait."""
    from clues_py.config.load import ConfigError
    from clues_py.sim import sweep as sw
    from clues_py.sim.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(scenario_file)
        grid = [sw.parse_param(p) for p in params]
    except (ScenarioError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    if importlib.util.find_spec("matplotlib") is None:
        raise click.UsageError(
            "sweep draws a PNG and needs matplotlib: pip install 'clues-py[sim]'"
        )
    try:
        points, base = sw.sweep(scenario, grid)
    except ConfigError as exc:  # a bad key or value: the message names it
        raise click.UsageError(f"configuration: {exc}") from None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    out = sw.plot_front(points, base, scenario.name, plot_path or f"{scenario.name}-pareto.png")
    front = {p.label for p in sw.pareto(points)}
    if as_json:
        runs = [{"label": p.label, "pareto": p.label in front, **p.metrics} for p in points]
        runs += [{"label": b.label, "baseline": True, **b.metrics} for b in base]
        click.echo(json.dumps({"runs": runs, "plot": str(out)}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"clues sim sweep: {scenario.name}")
    for col in ("run", "node-s powered", "wait mean s", "wait p95 s", "jobs done", "front"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for p in [*points, *base]:
        m = p.metrics
        table.add_row(p.label, f"{p.node_seconds:.0f}", f"{m['wait_seconds']['mean']:.1f}",
                      f"{p.p95:.1f}", f"{m['jobs_completed']}/{m['jobs']}",
                      "*" if p.label in front else "")  # fmt: skip
    Console(width=max(Console().width, 100)).print(table)
    click.echo(f"Pareto front plot written to {out}")
