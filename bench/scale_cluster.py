"""The cluster side of `bench_scale.py`: a sandbox API server in its own process.

Builds N Ready nodes (16 cpu, 64Gi, 110 pods) named `wn-00001...`, fills them with
bound, running pods (500m / 1Gi, all nodes equally) and, with `--backlog F`, adds
F x pods pending pods that no node and no template can take (they select a pool label
nothing offers, so the sandbox scheduler marks them Unschedulable and clues-py reasons
about them on every pass, as it does about work waiting for another autoscaler or a
quota). Then it serves HTTP on 127.0.0.1 and talks to the parent over stdin/stdout:

    stdout  "ready URL KUBECONFIG"            once the cluster is built and settled
            "landed NAME T"                   a power-on call reached the machine table;
                                              T is time.monotonic() (system-wide clock)
            "reset-done"                      after a "reset" command
    stdin   "reset"                           delete probe pods, switch probe machines off
            EOF                               stop

With `--cache FILE` the built cluster is saved there and loaded instead of rebuilt next
time (building 5,000 nodes and 150,000 pods takes minutes; loading, seconds).

Once the cluster is built, and after each reset, the process's heap is frozen (`gc.freeze`,
as cluesd does after its passes): at 5,000 nodes / 150,000 pods the sandbox holds tens of
millions of long-lived objects, and each full collection of the cyclic collector took
2-9 s (measured with `gc.callbacks`, collecting nothing), during which the API server
answered nothing. A real API server has no such pauses; they landed in cluesd's start-up
list or a probe's reaction time at random and made "the third run" slow.

Usage: python bench/scale_cluster.py --nodes 5000 --pods 150000 --backlog 0.1 --dir DIR
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from pathlib import Path
from typing import Any

from clues_py.sandbox import Sandbox

NODE_CPU, NODE_MEM, POD_CPU, POD_MEM = "16", "64Gi", "500m", "1Gi"
# Backlog shapes: many copies of a few job shapes plus a spread of odd ones.
BACKLOG_CPU = ["250m", "500m", "1", "2", "3", "750m", "1500m", "4"]
BACKLOG_MEM = ["512Mi", "1Gi", "2Gi", "4Gi"]
PROBE_LABEL = "clues-bench/probe"


def node_name(i: int) -> str:
    return f"wn-{i + 1:05d}"


def pod(
    name: str, cpu: str, mem: str, node: str = "", selector: dict[str, str] | None = None
) -> Any:
    spec: dict[str, Any] = {
        "containers": [
            {"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu, "memory": mem}}}
        ]
    }
    if node:
        spec["nodeName"] = node
    if selector:
        spec["nodeSelector"] = selector
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def build(sb: Sandbox, nodes: int, pods: int, backlog: float) -> None:
    pending = int(pods * backlog)
    bound = pods - pending
    for i in range(nodes):
        sb.add_node(
            node_name(i),
            cpu=NODE_CPU,
            memory=NODE_MEM,
            pods=110,
            labels={"kubernetes.io/hostname": node_name(i), "clues-py.io/template": "wn"},
        )
    for j in range(bound):
        sb.store.create(
            "pods", pod(f"run-{j:06d}", POD_CPU, POD_MEM, node_name(j % nodes)), "default"
        )
    for j in range(pending):
        if j % 10 == 9:  # one in ten of an odd shape
            cpu, mem = BACKLOG_CPU[(j // 10) % 8], BACKLOG_MEM[(j // 80) % 4]
        else:
            cpu, mem = BACKLOG_CPU[j % 3], BACKLOG_MEM[j % 2]
        sel = {"clues-bench/pool": "reserved"}
        sb.store.create("pods", pod(f"wait-{j:06d}", cpu, mem, selector=sel), "default")
    sb.settle(600)


def settle_heap() -> None:
    """Collect once, then keep everything alive now out of the cyclic collector's sight."""
    gc.collect()
    gc.freeze()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, required=True)
    ap.add_argument("--pods", type=int, required=True)
    ap.add_argument("--backlog", type=float, default=0.0)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cache", default="", help="save the built cluster here / load it")
    args = ap.parse_args()
    out_lock = threading.Lock()

    def say(line: str) -> None:
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    # A short watch history is enough (cluesd lists, then watches from the list's version);
    # pod_start_seconds 0 keeps the build short.
    sb = Sandbox(port=0, events=False, history=50_000, pod_start_seconds=0.0)
    sb.start()
    if args.cache and Path(args.cache).exists():
        sb.load(args.cache)
        sb.settle(600)
    else:
        build(sb, args.nodes, args.pods, args.backlog)
        if args.cache:
            sb.save(args.cache)
    settle_heap()
    initial = {m["name"] for m in sb.machines.list()}
    original = sb.machines.power_on

    def timed_power_on(name: str, *a: Any, **kw: Any) -> Any:
        say(f"landed {name} {time.monotonic():.6f}")
        return original(name, *a, **kw)

    sb.machines.power_on = timed_power_on  # type: ignore[method-assign]
    kubeconfig = sb.write_kubeconfig(Path(args.dir) / "kubeconfig")
    say(f"ready {sb.url} {kubeconfig}")
    for line in sys.stdin:
        if line.strip() == "reset":
            items, _ = sb.store.list("pods", "default")
            for p in items:
                if (p["metadata"].get("labels") or {}).get(PROBE_LABEL):
                    sb.store.delete("pods", p["metadata"]["name"], "default")
            for m in sb.machines.list():
                if m["name"] not in initial and m["state"] in ("on", "booting"):
                    sb.machines.power_off(m["name"], 0.0)
            sb.settle(60)
            settle_heap()
            say("reset-done")
    sb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
