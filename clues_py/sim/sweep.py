"""`clues sim sweep`: run a grid of settings and draw what each buys (the Pareto front).

A parameter is a config key with the values to try, `idle_time=60,120,300`, or a
policy option, `idle_off.wait_weight=0,1,2` (the policy's entry in `policies:` gets
the option; a scenario without `policies:` starts from the default pipeline). The
grid is the cartesian product; every point runs the scenario once, and the
`clues-classic` and `always-on` baselines and the scenario as configured (`defaults`)
run too. A point is on the Pareto front
when no other run has both fewer node-seconds and a lower wait p95. `plot_front`
draws all of them, node-seconds against p95 wait (matplotlib, imported lazily).
Running one configuration is `report.py`'s; options are `cli.py`'s.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clues_py.sim.report import RunSpec, baselines, run_all
from clues_py.sim.scenario import Scenario

__all__ = ["Param", "Point", "parse_param", "pareto", "plot_front", "sweep"]


@dataclass(frozen=True)
class Param:
    key: str  # a config key, or POLICY.OPTION
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Point:
    label: str
    assignment: Mapping[str, Any]
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def node_seconds(self) -> float:
        return float(self.metrics["node_seconds_powered"])

    @property
    def p95(self) -> float:
        return float(self.metrics["wait_seconds"]["p95"])


def parse_param(text: str) -> Param:
    """`key=v1,v2,...` with YAML values (`60`, `0.5`, `true`); raises ValueError naming the fix."""
    import yaml

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise ValueError(f"--param {text!r}: expected KEY=V1,V2,... e.g. idle_time=60,120,300")
    if key.count(".") > 1:
        raise ValueError(f"--param {text!r}: use KEY or POLICY.OPTION, e.g. idle_off.floor=0,1")
    values = []
    for item in raw.split(","):
        try:
            values.append(yaml.safe_load(item.strip()))
        except yaml.YAMLError as exc:
            raise ValueError(f"--param {text!r}: value {item!r} is not valid: {exc}") from None
    return Param(key, tuple(values))


def _default_pipeline() -> list[Any]:
    from clues_py.daemon.pipeline import DEFAULT_POLICIES

    return list(DEFAULT_POLICIES)


def overrides_for(assignment: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """Config overrides for one grid point, on top of the scenario's own `config`."""
    out: dict[str, Any] = {}
    policies: list[Any] | None = None
    for key, value in assignment.items():
        if "." not in key:
            out[key] = value
            continue
        if policies is None:
            policies = list(config.get("policies") or _default_pipeline())
        kind, option = key.split(".")
        for i, entry in enumerate(policies):
            name = entry if isinstance(entry, str) else entry.get("kind")
            if name == kind:
                spec = {"kind": kind} if isinstance(entry, str) else dict(entry)
                spec[option] = value
                policies[i] = spec
                break
        else:
            raise ValueError(
                f"--param {key}: no policy {kind!r} in the pipeline "
                f"({', '.join(e if isinstance(e, str) else str(e.get('kind')) for e in policies)})"
            )
    if policies is not None:
        out["policies"] = policies
    return out


def _label(assignment: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in assignment.items())


def sweep(
    scenario: Scenario,
    params: Sequence[Param],
    progress: Callable[[str, float, float], None] | None = None,
) -> tuple[list[Point], list[Point]]:
    """Run every grid point and the references; returns (grid points, reference points)."""
    grid = [dict(zip([p.key for p in params], combo, strict=True))
            for combo in itertools.product(*(p.values for p in params))]  # fmt: skip
    specs = [RunSpec(_label(a), overrides_for(a, scenario.config)) for a in grid]
    # The scenario as configured (today's defaults) and the two baselines, for reference.
    specs += [RunSpec("defaults"), *baselines()]
    results = run_all(scenario, specs, progress)
    points = [Point(s.label, a, r.metrics) for s, a, r in zip(specs, grid, results, strict=False)]
    base = [Point(r.label, {}, r.metrics) for r in results[len(grid) :]]
    return points, base


def pareto(points: Sequence[Point]) -> list[Point]:
    """Points no other point beats on both node-seconds and p95 wait, by node-seconds."""
    front = [
        p
        for p in points
        if not any(
            q.node_seconds <= p.node_seconds
            and q.p95 <= p.p95
            and (q.node_seconds < p.node_seconds or q.p95 < p.p95)
            for q in points
        )
    ]
    return sorted(front, key=lambda p: (p.node_seconds, p.p95))


def plot_front(
    points: Sequence[Point], base: Sequence[Point], title: str, path: str | Path
) -> Path:
    """Node-seconds (x) against p95 wait (y): grid points, their front, and the baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6.5))
    ax.scatter([p.node_seconds for p in points], [p.p95 for p in points], color="#9e9e9e",
               label="grid point", zorder=2)  # fmt: skip
    front = pareto(points)
    ax.plot([p.node_seconds for p in front], [p.p95 for p in front], "-o", color="#1f77b4",
            label="Pareto front (no point has fewer node-s and lower p95)", zorder=3)  # fmt: skip
    # Settings that give the same result share one label.
    same: dict[tuple[float, float], list[str]] = {}
    for p in front:
        same.setdefault((p.node_seconds, p.p95), []).append(p.label)
    for (x, y), labels in same.items():
        ax.annotate("\n".join(labels), (x, y), textcoords="offset points", xytext=(6, 6),
                    fontsize="small", color="#1f77b4")  # fmt: skip
    marks = {
        "clues-classic": ("s", "#d62728"),
        "always-on": ("^", "#000000"),
        "defaults": ("D", "#2ca02c"),
    }
    for b in base:
        marker, color = marks.get(b.label, ("D", "#2ca02c"))
        ax.scatter([b.node_seconds], [b.p95], marker=marker, s=90, color=color, label=b.label,
                   zorder=4)  # fmt: skip
    ax.set_xlabel("node-seconds powered (lower is better)")
    ax.set_ylabel("job wait p95, s (lower is better)")
    ax.set_title(f"clues sim sweep: {title}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
