"""Benchmark the sandbox scheduler and kubelets in virtual mode; prints one JSON line.

2,000 nodes (4 cpu, 8Gi), then 5,000 pods of 1 cpu/1Gi that all fit (bound and
started), then 5,000 pods of 3 cpu that fit nowhere (every one gets its
FailedScheduling condition). Object creation is not timed, only the controller
work in `settle()`/`advance()`. Baseline: the floor of 1,000 bound pods/s
(`ratio_to_floor` = pods/s ÷ 1,000). Exits 1 below the floor.

    python bench/bench_sandbox_scheduler.py
"""

from __future__ import annotations

import json
import sys
import time

from clues_py.sandbox import Sandbox

FLOOR_PODS_PER_SECOND = 1000.0
NODES, FIT, UNFIT = 2000, 5000, 5000


def _pod(name: str, cpu: str) -> dict:
    return {
        "metadata": {"name": name, "annotations": {"sandbox.clues-py.io/duration": "1h"}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "x",
                    "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}},
                }
            ]
        },
    }


def main() -> int:
    sb = Sandbox(virtual=True, serve_http=False, events=False).start()
    for i in range(NODES):
        sb.add_node(f"n{i}", cpu="4", memory="8Gi")
    sb.settle()
    for i in range(FIT):
        sb.store.create("pods", _pod(f"fit-{i}", "1"), "default")
    t = time.perf_counter()
    sb.settle()
    bind_s = time.perf_counter() - t
    t = time.perf_counter()
    sb.advance(1)
    start_s = time.perf_counter() - t
    for i in range(UNFIT):
        sb.store.create("pods", _pod(f"unfit-{i}", "3"), "default")
    t = time.perf_counter()
    sb.settle()
    unfit_s = time.perf_counter() - t
    phases: dict[str, int] = {}
    for p in sb.store.list("pods")[0]:
        phase = p["status"]["phase"]
        phases[phase] = phases.get(phase, 0) + 1
    sb.stop()
    rate = FIT / bind_s
    print(
        json.dumps(
            {
                "bench": "sandbox_scheduler",
                "nodes": NODES,
                "pods_bound": FIT,
                "bind_seconds": round(bind_s, 3),
                "bound_pods_per_second": round(rate, 1),
                "start_seconds": round(start_s, 3),
                "started_pods_per_second": round(FIT / start_s, 1),
                "unschedulable_pods": UNFIT,
                "unschedulable_seconds": round(unfit_s, 3),
                "phases": phases,
                "ratio_to_floor": round(rate / FLOOR_PODS_PER_SECOND, 2),
            }
        )
    )
    ok = rate >= FLOOR_PODS_PER_SECOND and phases == {"Running": FIT, "Pending": UNFIT}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
