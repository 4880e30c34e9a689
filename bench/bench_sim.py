"""Benchmark `clues sim`: one week of the NASA iPSC/860 trace on 16 nodes x 8 cores; one JSON line.

Runs the real daemon (planner, FSM, policies) against the virtual sandbox, event-driven,
and prints wall seconds, simulated seconds per wall second, jobs, daemon passes and the
run's headline metrics. Target: under 30 s of wall time on one core; exits 1 above it.

    python bench/bench_sim.py [--trace PATH] [--hours 168] [--nodes 16x8]

The full trace (public, Parallel Workloads Archive) is not in the repository: pass it with
--trace, or put it in `../shared/traces/` beside the checkout (or $CLUES_SHARED/traces/).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from clues_py.sim import Simulation
from clues_py.sim.traces import swf_scenario

TARGET_SECONDS = 30.0
# Big inputs may live beside the checkout (../shared); never copied into the repository.
TRACE = str(
    Path(
        os.environ.get("CLUES_SHARED", Path(__file__).resolve().parents[2] / "shared"),
        "traces",
        "NASA-iPSC-1993-3.1-cln.swf.gz",
    )
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", default=TRACE)
    ap.add_argument("--hours", type=float, default=168.0)
    ap.add_argument("--start", type=float, default=0.0)
    ap.add_argument("--nodes", default="16x8")
    args = ap.parse_args()
    if not Path(args.trace).is_file():
        print(f"bench_sim: trace {args.trace} not found; pass --trace PATH", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    scenario, info = swf_scenario(args.trace, nodes=args.nodes, start=args.start, hours=args.hours)
    sim = Simulation(scenario)
    result = sim.run()
    wall = time.perf_counter() - t0
    m = result.metrics
    print(
        json.dumps(
            {
                "bench": "sim",
                "trace": scenario.name,
                "hours": args.hours,
                "nodes": args.nodes,
                "jobs": info["jobs"],
                "wall_seconds": round(wall, 3),
                "simulated_seconds": round(result.end, 1),
                "sim_seconds_per_wall_second": round(result.end / wall, 1),
                "passes": result.passes,
                "steps": result.steps,
                "jobs_completed": m["jobs_completed"],
                "node_seconds_powered": m["node_seconds_powered"],
                "wait_p95": m["wait_seconds"]["p95"],
                "target_seconds": TARGET_SECONDS,
                "ratio_to_target": round(wall / TARGET_SECONDS, 3),
            }
        )
    )
    return 0 if wall <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
