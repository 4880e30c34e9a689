"""Benchmark the sandbox scheduler and kubelets in virtual mode; prints one JSON line.

Each of `--runs` runs (default 3) is a fresh process: 2,000 nodes (4 cpu, 8Gi, in 10
zones), then 5,000 plain pods of 1 cpu/1Gi that all fit (bound and started), then
1,000 pods that spread over zones (DoNotSchedule, maxSkew 1) and prefer not to
share a node (preferred pod anti-affinity), then 5,000 pods of 3 cpu that fit
nowhere (each gets its FailedScheduling condition). Object creation is not timed,
only the controller work in `settle()`/`advance()`. The line reports every
figure's median and worst run (`<figure>_median`, and `_max` for times and skew,
`_min` for rates), never the best. Floor: 1,000 bound plain pods/s, on the median; below it (or with pods in
the wrong phase) the exit status is 1. `ratio_to_floor` = median pods/s / 1,000.

    python bench/bench_sandbox_scheduler.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from clues_py.sandbox import Sandbox

FLOOR_PODS_PER_SECOND = 1000.0
NODES, FIT, SPREAD, UNFIT, ZONES = 2000, 5000, 1000, 5000, 10
ZONE = "topology.kubernetes.io/zone"


def _pod(name: str, cpu: str, **spec: Any) -> dict[str, Any]:
    labels = spec.pop("labels", {})
    return {
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"sandbox.clues-py.io/duration": "1h"},
        },
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "x",
                    "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}},
                }
            ],
            **spec,
        },
    }


def _spread_pod(i: int) -> dict[str, Any]:
    sel = {"matchLabels": {"app": "spread"}}
    return _pod(
        f"spread-{i}",
        "100m",
        labels={"app": "spread"},
        topologySpreadConstraints=[
            {
                "maxSkew": 1,
                "topologyKey": ZONE,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": sel,
            }
        ],
        affinity={
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": sel,
                        },
                    }
                ]
            }
        },
    )


def one_run() -> dict[str, Any]:
    sb = Sandbox(virtual=True, serve_http=False, events=False).start()
    for i in range(NODES):
        sb.add_node(f"n{i}", cpu="4", memory="8Gi", labels={ZONE: f"z{i % ZONES}"})
    sb.settle()
    for i in range(FIT):
        sb.store.create("pods", _pod(f"fit-{i}", "1"), "default")
    t = time.perf_counter()
    sb.settle()
    bind_s = time.perf_counter() - t
    t = time.perf_counter()
    sb.advance(1)
    start_s = time.perf_counter() - t
    for i in range(SPREAD):
        sb.store.create("pods", _spread_pod(i), "default")
    t = time.perf_counter()
    sb.settle()
    spread_s = time.perf_counter() - t
    for i in range(UNFIT):
        sb.store.create("pods", _pod(f"unfit-{i}", "3"), "default")
    t = time.perf_counter()
    sb.settle()
    unfit_s = time.perf_counter() - t
    phases: dict[str, int] = {}
    zones: dict[str, int] = {}
    for p in sb.store.list("pods")[0]:
        phase = p["status"]["phase"]
        phases[phase] = phases.get(phase, 0) + 1
        node = p["spec"].get("nodeName")
        if p["metadata"]["name"].startswith("spread-") and node:
            zone = f"z{int(node[1:]) % ZONES}"
            zones[zone] = zones.get(zone, 0) + 1
    sb.stop()
    return {
        "bind_s": bind_s,
        "bound_pods_per_s": FIT / bind_s,
        "start_s": start_s,
        "spread_s": spread_s,
        "spread_pods_per_s": SPREAD / spread_s,
        "spread_skew": max(zones.values(), default=0) - min(zones.values(), default=0),
        "unschedulable_s": unfit_s,
        "phases_ok": int(
            phases == {"Running": FIT, "Pending": UNFIT + SPREAD}
            or phases == {"Running": FIT + SPREAD, "Pending": UNFIT}
        ),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_run()))
        return 0
    runs = []
    for _ in range(max(1, args.runs)):
        proc = subprocess.run(
            [sys.executable, __file__, "--one"], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    result: dict[str, Any] = {
        "bench": "sandbox_scheduler",
        "runs": len(runs),
        "nodes": NODES,
        "plain_pods": FIT,
        "spread_pods": SPREAD,
        "unschedulable_pods": UNFIT,
    }
    for key in runs[0]:
        values = [r[key] for r in runs]
        result[f"{key}_median"] = round(statistics.median(values), 3)
        # The worst run, never the best: the slowest rate, the longest time, the widest skew.
        if key.endswith("_per_s"):
            result[f"{key}_min"] = round(min(values), 3)
        else:
            result[f"{key}_max"] = round(max(values), 3)
    rate = result["bound_pods_per_s_median"]
    result["floor_pods_per_s"] = FLOOR_PODS_PER_SECOND
    result["ratio_to_floor"] = round(rate / FLOOR_PODS_PER_SECOND, 2)
    print(json.dumps(result))
    ok = rate >= FLOOR_PODS_PER_SECOND and all(r["phases_ok"] for r in runs)
    ok = ok and result["spread_skew_max"] <= 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
