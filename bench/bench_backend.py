"""Benchmark of the Kubernetes backend against the sandbox API server; prints one JSON line.

Set-up: a sandbox with N nodes and M bound pods (default 1,000 and 30,000). Measures
  - initial sync: backend start() -> synced() and every pod in the cache (seconds),
  - pending latency: POST of an unschedulable pod over HTTP -> visible in observe().pending
    (p50/p99 over K pods; includes the sandbox scheduler marking it Unschedulable),
  - watch latency: the same POST -> the pod in the backend cache (no scheduler involved),
    and the POST round trip alone (post_p50_ms) for reference,
  - observe() cost with everything cached,
  - list decoding: one page of pods parsed raw (our path) vs the client's model objects
    (baseline); ratio = model seconds / raw seconds.
Exits 1 when below the floors stated in FLOORS.

    python bench/bench_backend.py [--nodes 1000] [--pods 30000] [--probes 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from clues_py.contracts import PluginContext
from clues_py.sandbox import Sandbox
from plugins.backends.k8s_informer import loads
from plugins.backends.kubernetes import KubernetesBackend

FLOORS = {"sync_seconds_max": 60.0, "pending_p99_seconds_max": 2.0, "list_speedup_min": 2.0}


def pod(name: str, node: str = "", cpu: str = "100m") -> dict:
    spec: dict = {
        "containers": [
            {"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}
        ]
    }
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=30000)
    ap.add_argument("--probes", type=int, default=200)
    args = ap.parse_args()

    t = time.perf_counter()
    sb = Sandbox(port=0, events=False, history=200_000).start()
    for i in range(args.nodes):
        sb.add_node(f"n{i:04d}", cpu="64", memory="256Gi", pods=200)
    for i in range(args.pods):
        sb.store.create("pods", pod(f"p{i:06d}", node=f"n{i % args.nodes:04d}"), "default")
    sb.settle(120)
    setup = time.perf_counter() - t

    tmp = tempfile.mkdtemp()
    kubeconfig = sb.write_kubeconfig(Path(tmp) / "kubeconfig")
    cfg = KubernetesBackend.Config(kubeconfig=kubeconfig, pending_grace=3600.0)
    backend = KubernetesBackend(cfg, PluginContext(cluster_name="bench", instance="k8s"))
    changed = threading.Event()

    def on_change() -> None:
        changed.set()

    rss0 = rss_mb()
    t = time.perf_counter()
    backend.start(on_change)
    while not (backend.synced() and backend.cache.counts()["pods"] >= args.pods):
        time.sleep(0.01)
    sync = time.perf_counter() - t
    rss_delta = rss_mb() - rss0

    t = time.perf_counter()
    for _ in range(20):
        obs = backend.observe(time.time())
    observe_ms = (time.perf_counter() - t) / 20 * 1000
    assert len(obs.nodes) == args.nodes

    client_cfg = k8s.Configuration()
    k8s_config.load_kube_config(
        config_file=kubeconfig, client_configuration=client_cfg, persist_config=False
    )
    api = k8s.ApiClient(client_cfg)
    core = k8s.CoreV1Api(api)
    pending_lat: list[float] = []
    watch_lat: list[float] = []
    post_lat: list[float] = []
    for i in range(args.probes):
        name = f"probe-{i:04d}"
        key = f"default/{name}"
        t0 = time.perf_counter()
        resp = core.create_namespaced_pod("default", pod(name, cpu="1000"), _preload_content=False)
        resp.drain_conn()
        resp.release_conn()
        post_lat.append(time.perf_counter() - t0)
        seen_cache = None
        while True:
            if seen_cache is None and backend.cache.pod(key) is not None:
                seen_cache = time.perf_counter() - t0
            rec = backend.cache.pod(key)
            # Cheap check first, then confirm through the public view.
            if (
                rec is not None
                and rec.unschedulable
                and any(p.name == name for p in backend.observe(time.time()).pending)
            ):
                break
            changed.wait(0.05)
            changed.clear()
        pending_lat.append(time.perf_counter() - t0)
        watch_lat.append(seen_cache if seen_cache is not None else pending_lat[-1])

    # Decoding one page of pods: raw JSON (our path) vs the client's models (baseline).
    page = min(args.pods, 5000)

    def raw_list() -> int:
        resp = core.list_pod_for_all_namespaces(limit=page, _preload_content=False)
        return len(loads(resp.data)["items"])

    def model_list() -> int:
        return len(core.list_pod_for_all_namespaces(limit=page).items)

    def best_of_3(fn: Callable[[], int]) -> tuple[float, int]:
        # The machine is shared: the fastest of three runs is the least noisy figure.
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            n = fn()
            runs.append(time.perf_counter() - t)
        return min(runs), n

    raw_s, raw_items = best_of_3(raw_list)
    model_s, model_items = best_of_3(model_list)
    assert raw_items == model_items

    backend.stop()
    api.close()
    sb.stop()

    out = {
        "bench": "backend_kubernetes",
        "nodes": args.nodes,
        "pods": args.pods,
        "setup_seconds": round(setup, 2),
        "initial_sync_seconds": round(sync, 3),
        "sync_pods_per_second": round(args.pods / sync),
        "rss_delta_mb": round(rss_delta, 1),
        "observe_ms": round(observe_ms, 2),
        "post_p50_ms": round(statistics.median(post_lat) * 1000, 2),
        "watch_latency_p50_ms": round(statistics.median(watch_lat) * 1000, 2),
        "watch_latency_p99_ms": round(pct(watch_lat, 0.99) * 1000, 2),
        "pending_latency_p50_ms": round(statistics.median(pending_lat) * 1000, 2),
        "pending_latency_p99_ms": round(pct(pending_lat, 0.99) * 1000, 2),
        "probes": args.probes,
        "list_page_pods": page,
        "list_raw_seconds": round(raw_s, 3),
        "list_model_seconds": round(model_s, 3),
        "list_speedup_ratio": round(model_s / raw_s, 1),
        "floors": FLOORS,
    }
    ok = (
        sync <= FLOORS["sync_seconds_max"]
        and pct(pending_lat, 0.99) <= FLOORS["pending_p99_seconds_max"]
        and model_s / raw_s >= FLOORS["list_speedup_min"]
    )
    out["ok"] = ok
    print(json.dumps(out))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
