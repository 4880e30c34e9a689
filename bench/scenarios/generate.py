"""Write the efficiency scenario family (clues-scenario/v1 JSON files) next to this script.

The family varies what the hidden scenarios of the same kinds vary: burst sizes and
shapes, gaps between bursts (around and far from the break-even time), job
durations, `idle_time`, node sizes, boot times, boot failure rates, mixed and GPU
templates, Kueue-suspended jobs. Deterministic (seeded): running it again rewrites
the same files. `bench/bench_efficiency.py` runs the family; docs/policies.md has
the results.

    python bench/scenarios/generate.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WN = {"name": "wn", "count": 10, "cpu": "4", "memory": "8Gi", "boot_seconds": 60,
      "shutdown_seconds": 30, "watts_idle": 120, "watts_busy": 250}  # fmt: skip


def group(**kw: Any) -> dict[str, Any]:
    return {**WN, **kw}


def burst(
    rng: random.Random,
    at: float,
    n: int,
    spread: float,
    dur: tuple[float, float],
    *,
    cpu: str = "1",
    mem: str = "2Gi",
    pods: int = 1,
    gpus: int = 0,
    suspended: bool = False,
) -> list[dict[str, Any]]:
    """`n` jobs submitted uniformly over [at, at + spread), durations uniform in `dur`."""
    out = []
    for _ in range(n):
        job: dict[str, Any] = {
            "submit": round(at + rng.random() * spread, 2),
            "cpu": cpu,
            "memory": mem,
            "duration": round(rng.uniform(*dur), 2),
            "pods": pods,
            "namespace": "oscar-svc",
        }
        if gpus:
            job["gpus"] = gpus
        if suspended:
            job["suspended"] = True
        out.append(job)
    return out


def poisson(
    rng: random.Random,
    start: float,
    end: float,
    mean_gap: float,
    dur: tuple[float, float],
    **kw: Any,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    t = start + rng.expovariate(1 / mean_gap)
    while t < end:
        out += burst(rng, t, 1, 0, dur, **kw)
        t += rng.expovariate(1 / mean_gap)
    return out


def scenario(
    name: str, description: str, groups: list[dict[str, Any]], config: dict[str, Any],
    jobs: list[dict[str, Any]], seed: int,
) -> dict[str, Any]:  # fmt: skip
    jobs.sort(key=lambda j: j["submit"])
    for i, j in enumerate(jobs):
        j["id"] = f"j{i}"
    return {
        "format": "clues-scenario/v1",
        "name": name,
        "description": description,
        "seed": seed,
        "node_groups": groups,
        "config": config,
        "jobs": jobs,
    }


def family() -> list[dict[str, Any]]:
    out = []
    r = random.Random(1)
    out.append(scenario(
        "oscar-two-bursts", "80 jobs, 10 min quiet, 60 jobs; idle_time 300",
        [group()], {"idle_time": 300},
        burst(r, 0, 80, 40, (90, 150)) + burst(r, 800, 60, 20, (90, 150)), 1,
    ))  # fmt: skip
    r = random.Random(2)
    jobs = []
    for k in range(6):
        jobs += burst(r, k * 150, 24, 10, (60, 100))
    out.append(scenario(
        "oscar-close-bursts", "6 bursts of 24 jobs every 150 s (gaps near break-even)",
        [group()], {"idle_time": 300}, jobs, 2,
    ))  # fmt: skip
    r = random.Random(3)
    out.append(scenario(
        "oscar-trickle", "one job every 25 s on average for an hour, 30-120 s each",
        [group()], {"idle_time": 300}, poisson(r, 0, 3600, 25, (30, 120)), 3,
    ))  # fmt: skip
    r = random.Random(4)
    out.append(scenario(
        "oscar-idle-600", "bursts of 50, 120 and 20 jobs, 20 and 40 min apart; idle_time 600",
        [group(count=12)], {"idle_time": 600},
        burst(r, 0, 50, 30, (100, 200)) + burst(r, 1200, 120, 60, (80, 160))
        + burst(r, 3600, 20, 5, (100, 140)), 4,
    ))  # fmt: skip
    r = random.Random(5)
    out.append(scenario(
        "oscar-idle-60", "oscar-burst's shape with idle_time 60",
        [group()], {"idle_time": 60},
        burst(r, 0, 100, 60, (95, 145)) + burst(r, 1870, 40, 5, (95, 145)), 5,
    ))  # fmt: skip
    r = random.Random(6)
    out.append(scenario(
        "oscar-boot-failures", "oscar-burst's shape; 30% of boots fail",
        [group(boot_failure_rate=0.3)], {"idle_time": 300, "boot_timeout": 180},
        burst(r, 0, 100, 60, (95, 145)) + burst(r, 1870, 40, 5, (95, 145)), 6,
    ))  # fmt: skip
    r = random.Random(7)
    out.append(scenario(
        "oscar-slow-boot", "bare metal: boot 240 s, shutdown 60 s; bursts 15 min apart",
        [group(boot_seconds=240, shutdown_seconds=60)], {"idle_time": 300, "boot_timeout": 600},
        burst(r, 0, 60, 30, (120, 240)) + burst(r, 900, 60, 30, (120, 240))
        + burst(r, 1800, 30, 10, (120, 240)), 7,
    ))  # fmt: skip
    r = random.Random(8)
    jobs = burst(r, 0, 40, 60, (200, 400), cpu="1", mem="2Gi")
    jobs += burst(r, 30, 12, 60, (300, 600), cpu="6", mem="20Gi")
    jobs += poisson(r, 600, 3000, 40, (60, 300), cpu="2", mem="4Gi")
    out.append(scenario(
        "mixed-sizes", "2-core and 8-core templates; small, big and trickling jobs",
        [group(name="small", count=8, cpu="2", memory="4Gi", watts_idle=60, watts_busy=120),
         group(name="big", count=4, cpu="8", memory="32Gi", watts_idle=200, watts_busy=400)],
        {"idle_time": 300}, jobs, 8,
    ))  # fmt: skip
    r = random.Random(9)
    out.append(scenario(
        "mixed-boot", "two equal templates: bare metal boots in 180 s, VMs in 30 s",
        [group(name="metal", count=6, boot_seconds=180, shutdown_seconds=60),
         group(name="vm", count=6, boot_seconds=30, shutdown_seconds=15)],
        {"idle_time": 300, "boot_timeout": 400},
        burst(r, 0, 40, 20, (100, 200)) + burst(r, 900, 30, 20, (100, 200))
        + poisson(r, 1500, 3000, 60, (60, 120)), 9,
    ))  # fmt: skip
    r = random.Random(10)
    jobs = burst(r, 0, 60, 60, (100, 200)) + burst(r, 20, 6, 30, (300, 500), cpu="2", gpus=1)
    jobs += burst(r, 1500, 30, 30, (100, 200)) + burst(r, 1500, 4, 10, (200, 400), cpu="2", gpus=1)
    out.append(scenario(
        "gpu", "CPU nodes and GPU nodes; GPU jobs are few and long",
        [group(count=8),
         group(name="gpu", count=2, cpu="8", memory="32Gi", gpus=2, watts_idle=200,
               watts_busy=600, cost_per_hour=2.5)],
        {"idle_time": 300}, jobs, 10,
    ))  # fmt: skip
    r = random.Random(11)
    out.append(scenario(
        "oscar-suspended", "Kueue-style suspended jobs: 90 jobs, 25 min quiet, 50 jobs",
        [group()], {"idle_time": 300},
        burst(r, 0, 90, 45, (90, 150), suspended=True)
        + burst(r, 1500, 50, 15, (90, 150), suspended=True), 11,
    ))  # fmt: skip
    r = random.Random(12)
    jobs = poisson(r, 0, 5400, 90, (300, 1500), cpu="1", mem="2Gi")
    jobs += poisson(r, 0, 5400, 400, (600, 1200), cpu="2", mem="4Gi", pods=3)
    out.append(scenario(
        "long-jobs", "long 1-core jobs and 3-pod jobs trickling for 90 min (packing)",
        [group(count=8)], {"idle_time": 300}, jobs, 12,
    ))  # fmt: skip
    return out


def dump(doc: dict[str, Any]) -> str:
    """Indented, but one job per line so the files stay small and diffable."""
    jobs = doc["jobs"]
    head = json.dumps({**doc, "jobs": []}, indent=1)
    lines = ",\n".join("  " + json.dumps(j, sort_keys=True) for j in jobs)
    return head.replace('"jobs": []', '"jobs": [\n' + lines + "\n ]") + "\n"


def main() -> None:
    for doc in family():
        (HERE / f"{doc['name']}.json").write_text(dump(doc), encoding="utf-8")
        print(f"{doc['name']}.json: {len(doc['jobs'])} jobs")


if __name__ == "__main__":
    main()
