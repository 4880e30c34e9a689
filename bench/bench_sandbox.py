"""Benchmark of the sandbox API server at cluster scale; prints one JSON line.

Fills an ObjectStore directly with 5,000 nodes and 150,000 pods, then measures over real HTTP on
127.0.0.1: listing all pods, listing one node's pods by fieldSelector, watch fan-out (several
watchers each receiving every event, counted for drops) and the process RSS.
Each of `--runs` runs (default 3) is a fresh process, so RSS is per run; the line reports every
figure's median and max over the runs (`<figure>_median`, `<figure>_max`), never the best.
Floor (from the issue): listing all 150k pods must take < 1 s (median); otherwise exit status 1.
Baseline for the ratio: that 1 s target (ratio = measured / target, lower is better); with
`--baseline FILE` (an earlier output line) also new/old ratios of the list, watch and RSS medians.
Usage: python bench/bench_sandbox.py [--runs N] [--nodes N] [--pods N] [--watchers N] [--events N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from clues_py.sandbox.objects import ObjectStore
from clues_py.sandbox.server import ApiServer

LIST_ALL_TARGET_S = 1.0


def node(i: int) -> dict:
    return {
        "metadata": {
            "name": f"node-{i:05d}",
            "labels": {"kubernetes.io/hostname": f"node-{i:05d}", "pool": f"p{i % 4}"},
        },
        "spec": {},
        "status": {
            "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
            "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "addresses": [
                {"type": "InternalIP", "address": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"}
            ],
        },
    }


def pod(i: int, nodes: int) -> dict:
    return {
        "metadata": {
            "name": f"job-{i // 30:05d}-{i % 30:02d}",
            "labels": {
                "app": f"app-{i % 50}",
                "batch.kubernetes.io/job-name": f"job-{i // 30:05d}",
            },
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": f"job-{i // 30:05d}",
                    "uid": f"uid-{i // 30}",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "nodeName": f"node-{i % nodes:05d}",
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "main",
                    "image": "registry.example/worker:1.0",
                    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                }
            ],
        },
        "status": {
            "phase": "Running",
            "podIP": f"172.16.{i // 256 % 256}.{i % 256}",
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def http_get(base: str, path: str) -> tuple[float, bytes]:
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Accept": "application/json"})
    resp = conn.getresponse()
    body = resp.read()
    elapsed = time.perf_counter() - t0
    conn.close()
    if resp.status != 200:
        raise SystemExit(f"GET {path}: HTTP {resp.status}: {body[:300]!r}")
    return elapsed, body


def watcher(
    base: str, rv: str, want: int, counts: list[int], idx: int, ready: threading.Event
) -> None:
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.request("GET", f"/api/v1/pods?watch=1&resourceVersion={rv}&timeoutSeconds=120")
    resp = conn.getresponse()
    ready.set()
    last_rv = 0
    while counts[idx] < want:
        line = resp.readline()
        if not line:
            break
        ev = json.loads(line)
        if ev["type"] == "ERROR":
            raise SystemExit(f"watcher {idx}: {ev['object'].get('message')}")
        rv_now = int(ev["object"]["metadata"]["resourceVersion"])
        if rv_now <= last_rv:
            raise SystemExit(f"watcher {idx}: events out of order")
        last_rv = rv_now
        counts[idx] += 1
    conn.close()


def rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_run(args: argparse.Namespace) -> dict:

    store = ObjectStore(history=max(20_000, args.events * 2))
    t0 = time.perf_counter()
    for i in range(args.nodes):
        store.create("nodes", node(i))
    for i in range(args.pods):
        store.create("pods", pod(i, args.nodes), "default")
    fill_s = time.perf_counter() - t0

    server = ApiServer(store).start()
    try:
        http_get(
            server.url, "/api/v1/pods?limit=1"
        )  # warm the sorted-key cache like any first list
        list_s, body = http_get(server.url, "/api/v1/pods")
        items = body.count(b'"kind":"Pod"')
        if items != args.pods:
            raise SystemExit(f"list returned {items} pods, expected {args.pods}")
        one_s, one = http_get(server.url, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-00123")
        one_items = len(json.loads(one)["items"])

        rv = store.resource_version()
        counts = [0] * args.watchers
        threads = []
        for w in range(args.watchers):
            ready = threading.Event()
            t = threading.Thread(
                target=watcher, args=(server.url, rv, args.events, counts, w, ready), daemon=True
            )
            t.start()
            ready.wait(10)
            threads.append(t)
        t0 = time.perf_counter()
        for i in range(args.events):
            name = f"job-{i // 30:05d}-{i % 30:02d}"
            store.mutate(
                "pods",
                name,
                "default",
                lambda o, i=i: o["metadata"]["labels"].__setitem__("gen", str(i)),
            )
        for t in threads:
            t.join(120)
        watch_s = time.perf_counter() - t0
        delivered = sum(counts)
        drops = args.watchers * args.events - delivered
    finally:
        server.stop()

    return {
        "fill_store_s": round(fill_s, 2),
        "list_all_pods_s": round(list_s, 3),
        "list_all_pods_mb": round(len(body) / 1e6, 1),
        "list_all_pods_ratio_vs_1s_target": round(list_s / LIST_ALL_TARGET_S, 3),
        "list_node_pods_s": round(one_s, 4),
        "list_node_pods_items": one_items,
        "watch_events_per_s": round(delivered / watch_s) if watch_s else None,
        "watch_drops": drops,
        "rss_mb": round(rss_mb()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pods", type=int, default=150_000)
    ap.add_argument("--watchers", type=int, default=3)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument(
        "--baseline", help="a previous output line (file): adds new/old ratios of the medians"
    )
    ap.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.once:
        print(json.dumps(one_run(args)))
        return 0
    sizes = ["--nodes", str(args.nodes), "--pods", str(args.pods)]
    sizes += ["--watchers", str(args.watchers), "--events", str(args.events)]
    runs = []
    for _ in range(max(1, args.runs)):
        proc = subprocess.run(
            [sys.executable, __file__, "--once", *sizes], capture_output=True, text=True
        )
        if proc.returncode:
            raise SystemExit(f"bench run failed: {proc.stderr.strip()[-500:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    result: dict = {
        "bench": "sandbox_api",
        "runs": len(runs),
        "nodes": args.nodes,
        "pods": args.pods,
        "watchers": args.watchers,
        "watch_events_each": args.events,
        "load_avg_1m": round(os_load(), 2),
    }
    for key in runs[0]:
        values = [r[key] for r in runs if r[key] is not None]
        if values:
            result[f"{key}_median"] = round(statistics.median(values), 4)
            result[f"{key}_max"] = max(values)
    if args.baseline:
        with open(args.baseline, encoding="utf-8") as f:
            old = json.loads(f.read().strip().splitlines()[-1])
        for key in ("list_all_pods_s", "watch_events_per_s", "rss_mb"):
            if old.get(f"{key}_median"):
                ratio = result[f"{key}_median"] / old[f"{key}_median"]
                result[f"{key}_ratio_vs_baseline"] = round(ratio, 3)
    print(json.dumps(result))
    ok = result["list_all_pods_s_median"] < LIST_ALL_TARGET_S and result["watch_drops_max"] == 0
    return 0 if ok else 1


def os_load() -> float:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return float(f.read().split()[0])
    except OSError:
        return -1.0


if __name__ == "__main__":
    sys.exit(main())
