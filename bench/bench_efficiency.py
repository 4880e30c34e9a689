"""Benchmark the power policies on the scenario family and trace windows; one JSON line.

Runs every case (the scenarios in bench/scenarios/ and etc/sim/scenarios/, the shared
scenarios beside the checkout, and windows of the NASA iPSC and LCG traces) with the
current code and with the `clues-classic` baseline (the original CLUES defaults), and
compares them with the "before" figures recorded in bench/scenarios/baseline.json (the
release before the break-even / packing work, measured by this script with
`--record-baseline` on that release).

Per case: node-seconds, wait mean/p95, jobs done, and the ratios node-s / before,
node-s / classic, wait p95 / before, wait p95 / classic. Aggregates: geometric means
of the node-s ratios, the worst p95 ratio against before. Exits 1 when a case
completes fewer jobs than before or its wait p95 exceeds before by more than 1 s.

    python bench/bench_efficiency.py [--only NAME ...] [--processes 2] [--no-classic]
        [--set key=value ...]          # config overrides for the current-code runs
    python bench/bench_efficiency.py --record-baseline   # run on the old release only
    python bench/bench_efficiency.py --markdown          # the docs/policies.md table
    python bench/bench_efficiency.py --save R.json; ... --load R.json --markdown
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
BASELINE = SCENARIOS / "baseline.json"
SHARED = Path(os.environ.get("CLUES_SHARED", HERE.parents[1] / "shared"))

# name -> (trace file, start s, hours, nodes); boot 60 s, shutdown 30 s.
WINDOWS = {
    "nasa-week1": ("NASA-iPSC-1993-3.1-cln.swf.gz", 0.0, 168.0, "16x8"),
    "nasa-week2": ("NASA-iPSC-1993-3.1-cln.swf.gz", 604800.0, 168.0, "16x8"),
    "nasa-week3": ("NASA-iPSC-1993-3.1-cln.swf.gz", 1209600.0, 168.0, "16x8"),
    "lcg-day2-40x8": ("LCG.swf.gz", 86400.0, 6.0, "40x8"),
    "lcg-day1-16x8": ("LCG.swf.gz", 0.0, 3.0, "16x8"),
    # Windows first run as unseen checks (not tuned on).
    "nasa-week4-72h": ("NASA-iPSC-1993-3.1-cln.swf.gz", 1814400.0, 72.0, "16x8"),
    "lcg-day3-24x8": ("LCG.swf.gz", 172800.0, 4.0, "24x8"),
    # Unseen checks of the week-4 fix (issue 12): not tuned on.
    "nasa-week6": ("NASA-iPSC-1993-3.1-cln.swf.gz", 3024000.0, 168.0, "16x8"),
    "nasa-week9-72h": ("NASA-iPSC-1993-3.1-cln.swf.gz", 4838400.0, 72.0, "16x8"),
    "lcg-day5-32x8": ("LCG.swf.gz", 345600.0, 4.0, "32x8"),
}


def cases() -> dict[str, Callable[[], Any]]:
    """name -> a loader of its Scenario (loaded in the worker process)."""
    from clues_py.sim.scenario import load_scenario
    from clues_py.sim.traces import swf_scenario

    out: dict[str, Callable[[], Any]] = {}
    for path in sorted((SHARED / "scenarios").glob("*.json")):
        out[path.stem] = lambda p=path: load_scenario(p)
    for path in sorted(SCENARIOS.glob("*.json")):
        if path != BASELINE:
            out[path.stem] = lambda p=path: load_scenario(p)
    # The repo's own example scenarios, unless the same name is already in (oscar-burst).
    for path in sorted((HERE.parent / "etc" / "sim" / "scenarios").glob("*.json")):
        out.setdefault(path.stem, lambda p=path: load_scenario(p))
    for name, (trace, start, hours, nodes) in WINDOWS.items():
        if (SHARED / "traces" / trace).exists():
            out[name] = lambda t=trace, s=start, h=hours, n=nodes: swf_scenario(
                SHARED / "traces" / t, start=s, hours=h, nodes=n
            )[0]
        else:
            print(f"bench_efficiency: {name} left out: no {SHARED / 'traces' / trace} "
                  "(set CLUES_SHARED to the folder holding traces/)", file=sys.stderr)  # fmt: skip
    return out


def _run(job: tuple[str, str, dict[str, Any]]) -> tuple[str, str, dict[str, Any]]:
    from clues_py.sim.report import RunSpec, baselines, run_one

    name, which, overrides = job
    scenario = cases()[name]()
    if which == "classic":
        spec = next(s for s in baselines() if s.label == "clues-classic")
    else:
        spec = RunSpec(which, overrides)
    m = run_one(scenario, spec).metrics
    keep = {
        "node_seconds": m["node_seconds_powered"],
        "wait_mean": m["wait_seconds"]["mean"],
        "wait_p95": m["wait_seconds"]["p95"],
        "jobs": m["jobs"],
        "jobs_done": m["jobs_completed"],
        "power_ons": m["power_on_actions"],
        "lower_bound": m["lower_bound_node_seconds"],
    }
    return name, which, keep


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return round(a / b, 4)


def _geomean(xs: list[float]) -> float:
    xs = [x for x in xs if x > 0 and math.isfinite(x)]
    return round(math.exp(sum(math.log(x) for x in xs) / len(xs)), 4) if xs else 1.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="case names (default: all)")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--no-classic", action="store_true", help="skip the clues-classic runs")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for the current-code runs (YAML value)")  # fmt: skip
    ap.add_argument("--markdown", action="store_true",
                    help="print the before/after table (docs/policies.md) instead of JSON")  # fmt: skip
    ap.add_argument("--record-baseline", action="store_true",
                    help=f"run the current code only and write {BASELINE.name}")  # fmt: skip
    ap.add_argument("--save", metavar="FILE", help="also write the raw results as JSON")
    ap.add_argument("--load", metavar="FILE",
                    help="render results saved with --save instead of running")  # fmt: skip
    args = ap.parse_args()
    import yaml

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    names = sorted(cases())
    if args.only:
        unknown = set(args.only) - set(names)
        if unknown:
            print(f"unknown case(s) {sorted(unknown)}; known: {names}", file=sys.stderr)
            return 2
        names = [n for n in names if n in args.only]
    jobs = [(n, "now", overrides) for n in names]
    if not args.no_classic and not args.record_baseline:
        jobs += [(n, "classic", {}) for n in names]
    # The longest cases first, so the pool is not left waiting on one straggler.
    jobs.sort(key=lambda j: (j[0] not in WINDOWS, j[0]))
    results: dict[str, dict[str, Any]] = {n: {} for n in names}
    if args.load:
        saved = json.loads(Path(args.load).read_text())
        results = {n: saved[n] for n in names if n in saved}
        names = list(results)
    else:
        with ProcessPoolExecutor(max_workers=max(1, args.processes)) as pool:
            for name, which, keep in pool.map(_run, jobs):
                results[name][which] = keep
    if args.save:
        Path(args.save).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if args.record_baseline:
        old = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
        old.update({n: r["now"] for n, r in results.items()})
        BASELINE.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
        print(json.dumps({"bench": "efficiency", "recorded": sorted(results)}))
        return 0
    before = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    out: dict[str, Any] = {}
    failed = []
    for name in names:
        now = results[name]["now"]
        row: dict[str, Any] = {k: now[k] for k in ("node_seconds", "wait_mean", "wait_p95")}
        row["jobs_done"] = f"{now['jobs_done']}/{now['jobs']}"
        row["vs_lower_bound"] = _ratio(now["node_seconds"], now["lower_bound"])
        if name in before:
            b = before[name]
            row["before"] = {k: b[k] for k in ("node_seconds", "wait_mean", "wait_p95")}
            row["before"]["jobs_done"] = f"{b['jobs_done']}/{b['jobs']}"
            row["node_s_vs_before"] = _ratio(now["node_seconds"], b["node_seconds"])
            row["p95_vs_before"] = _ratio(now["wait_p95"], b["wait_p95"])
            if now["jobs_done"] < b["jobs_done"] or now["wait_p95"] > b["wait_p95"] + 1.0:
                failed.append(name)
        if "classic" in results[name]:
            c = results[name]["classic"]
            row["classic"] = {k: c[k] for k in ("node_seconds", "wait_mean", "wait_p95")}
            row["classic"]["jobs_done"] = f"{c['jobs_done']}/{c['jobs']}"
            row["node_s_vs_classic"] = _ratio(now["node_seconds"], c["node_seconds"])
            row["p95_vs_classic"] = _ratio(now["wait_p95"], c["wait_p95"])
        out[name] = row
    rows = out.values()
    summary = {
        "bench": "efficiency",
        "overrides": overrides,
        "cases": out,
        "node_s_vs_before_geomean": _geomean([r["node_s_vs_before"] for r in rows if "node_s_vs_before" in r]),
        "node_s_vs_classic_geomean": _geomean([r["node_s_vs_classic"] for r in rows if "node_s_vs_classic" in r]),
        "worst_p95_vs_before": max((r["p95_vs_before"] for r in rows if "p95_vs_before" in r), default=1.0),
        "worse_than_before": failed,
    }  # fmt: skip
    print(markdown(out) if args.markdown else json.dumps(summary))
    return 1 if failed else 0


def markdown(rows: dict[str, dict[str, Any]]) -> str:
    """One line per case: node-s, wait mean / p95 and jobs done before, after and with
    clues-classic, and the after ratios (to before, to classic, to the offline bound)."""
    head = (
        "| case | node-s before | node-s after | node-s classic | after/before | after/classic "
        "| after/bound | wait mean / p95 before (s) | after (s) | classic (s) "
        "| jobs done before / after / classic |\n"
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|---|"
    )
    lines = [head]
    for name, r in rows.items():
        b, c = r.get("before", {}), r.get("classic", {})

        def waits(x: dict[str, Any]) -> str:
            return f"{x['wait_mean']:.1f} / {x['wait_p95']:.1f}" if x else "–"

        def node_s(x: dict[str, Any]) -> str:
            return f"{x['node_seconds']:,.0f}" if x else "–"

        lines.append(
            f"| {name} | {node_s(b)} | {node_s(r)} | {node_s(c)} "
            f"| {r.get('node_s_vs_before', '–')} | {r.get('node_s_vs_classic', '–')} "
            f"| {r['vs_lower_bound']} | {waits(b)} | {waits(r)} | {waits(c)} "
            f"| {b.get('jobs_done', '–')} / {r['jobs_done']} / {c.get('jobs_done', '–')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
