"""Benchmark `plan()` on large synthetic clusters; prints one JSON line.

Two cases: 1,000 nodes / 30,000 pods and 5,000 nodes / 150,000 pods. The mix is
realistic for a batch cluster: ~70% of nodes USED with running pods (plus one
DaemonSet pod each), ~10% IDLE (half idle long enough to power off), ~5% booting,
the rest OFF; ~10% of the pods pending, most of them copies of a few job shapes and
some hundreds unique. Timing is the best of 3 runs of `plan()` with the default
policies (snapshot construction is not timed). Baseline: the 1 s target for the
large case (`ratio_to_target` = seconds / 1.0). Exits 1 when the 5,000-node plan
takes longer than 1 s.

    python bench/bench_plan.py
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.factories

from clues_py.daemon.pipeline import default_policies
from clues_py.model import NodeState  # noqa: E402
from clues_py.planner import PlannerSettings, plan  # noqa: E402
from tests.factories import make_node, make_pod, make_snapshot, make_template  # noqa: E402

TARGET_SECONDS = 1.0
NOW = 100_000.0


def build(n_nodes: int, n_pods: int, seed: int = 1):
    rng = random.Random(seed)
    templates = [
        make_template("wn", cpu="16", mem="64Gi", count=n_nodes * 8 // 10, cost=0.5),
        make_template("big", cpu="64", mem="256Gi", count=n_nodes // 10, cost=2.0),
        make_template(
            "gpu", cpu="16", mem="64Gi", gpus=4, count=n_nodes // 10, labels={"gpu": "yes"}
        ),
    ]
    names = [(t.name, name) for t in templates for name in t.node_names]
    rng.shuffle(names)

    def labels(name: str, tname: str) -> dict[str, str]:
        # The hostname label makes every node's labels unique, as in a real cluster.
        return {"kubernetes.io/hostname": name, **({"gpu": "yes"} if tname == "gpu" else {})}

    n_pending = n_pods // 10
    n_running = n_pods - n_pending
    n_used = n_nodes * 7 // 10
    per_node = n_running // n_used
    nodes = []
    for i, (tname, name) in enumerate(names):
        if i < n_used:
            pods = [make_pod(f"ds-{name}", "100m", "128Mi", daemonset=True, node=name)]
            pods += [
                make_pod(f"run-{name}-{j}", rng.choice(["250m", "350m"]), "1500Mi", node=name)
                for j in range(per_node - 1)
            ]
            big = tname == "big"
            nodes.append(
                make_node(
                    name,
                    tname,
                    NodeState.USED,
                    pods=pods,
                    cpu="64" if big else "16",
                    mem="256Gi" if big else "64Gi",
                    gpus=4 if tname == "gpu" else 0,
                    labels=labels(name, tname),
                    since=NOW - 5000,
                    last_used=NOW - 10,
                )
            )
        elif i < n_nodes * 8 // 10:
            idle_since = NOW - (600 if i % 2 else 100)
            ds = [make_pod(f"ds-{name}", "100m", "128Mi", daemonset=True, node=name)]
            nodes.append(
                make_node(
                    name,
                    tname,
                    NodeState.IDLE,
                    pods=ds,
                    since=idle_since,
                    gpus=4 if tname == "gpu" else 0,
                    labels=labels(name, tname),
                )
            )
        elif i < n_nodes * 85 // 100:
            nodes.append(make_node(name, tname, NodeState.POWERING_ON, since=NOW - 30))
        else:
            nodes.append(make_node(name, tname, NodeState.OFF))
    shapes = [("1", "2Gi"), ("2", "4Gi"), ("500m", "1Gi"), ("4", "8Gi"), ("8", "32Gi")]
    pending = []
    for k in range(n_pending):
        if k % 50 == 1:  # GPU pods: label-constrained, packed by the filtered scan
            pending.append(
                make_pod(f"gpu-{k}", "2", "8Gi", gpus=1, selector={"gpu": "yes"}, created=NOW - 60)
            )
        elif k % 10 == 0:  # unique pods: distinct shapes the grouping cannot merge
            cpu = f"{rng.randint(1, 3000)}m"
            pending.append(make_pod(f"u-{k}", cpu, f"{rng.randint(1, 4000)}Mi", created=NOW - 60))
        else:
            cpu, mem = shapes[k % len(shapes)]
            pending.append(make_pod(f"job-{k % 7}-{k}", cpu, mem, created=NOW - 60))
    return make_snapshot(nodes, templates, pending=pending, now=NOW)


def measure(n_nodes: int, n_pods: int) -> dict[str, object]:
    snap = build(n_nodes, n_pods)
    policies = default_policies(PlannerSettings(max_booting=n_nodes // 10, idle_time=300))
    best = float("inf")
    result = None
    for _ in range(3):
        t0 = time.perf_counter()
        result = plan(snap, policies)
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    total_pods = sum(len(n.observed.pods) for n in snap.nodes if n.observed) + len(snap.demand.pods)
    return {
        "nodes": n_nodes,
        "pods": total_pods,
        "pending": len(snap.demand.pods),
        "seconds": round(best, 4),
        "pods_per_s": round(total_pods / best),
        "power_on": sum(1 for a in result.actions if a.kind == "power_on"),
        "power_off": sum(1 for a in result.actions if a.kind == "power_off"),
        "unplaceable": len(result.unplaceable),
    }


def main() -> int:
    small = measure(1_000, 30_000)
    large = measure(5_000, 150_000)
    ok = large["seconds"] <= TARGET_SECONDS  # type: ignore[operator]
    print(
        json.dumps(
            {
                "bench": "plan",
                "cases": [small, large],
                "target_seconds_large": TARGET_SECONDS,
                "ratio_to_target": round(large["seconds"] / TARGET_SECONDS, 3),  # type: ignore[operator]
                "ok": ok,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
