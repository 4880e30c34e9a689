"""API outage: the Kubernetes API server dies for --outage seconds and comes back empty.

The stack of `bench/stack.py` (moto, the sandbox, the join agent, cluesd, each a process),
with cluesd's /metrics on a free port. Timeline:

1. two pods power two nodes on and run; they are deleted together and, once the store has
   both nodes idle, the sandbox is killed (T0). `idle_time` alone decides when an idle node
   goes (`idle_off` without break-even, which could decide it at once, before T0, on
   current data) and is shorter than the outage, so a daemon acting on its last view would
   drain and power them off while the API server is away;
2. --outage seconds later a new, empty sandbox starts on the same port (T1) and three pods
   are created: the two old VMs rejoin (the agent re-registers their Nodes), the third pod
   needs a new node.

Printed as one JSON line: seconds from T0 until `clues_backend_synced` reads 0 (target
<= 10), drains/power-offs started between T0 and the resync and instances terminated in
the outage (target 0), seconds from T1's pods to the power-on and to all three running
(target <= 10 for the scale-up), and the log lines cluesd wrote during the outage. Exits 1
when a target is missed. Timing figures depend on the machine's load (reported).

    python3 bench/outage.py --outage 150
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from stack import Stack, free_port, in_work_dir, wait

SYNCED = re.compile(rb"^clues_backend_synced (\S+)$", re.M)


def synced(metrics_url: str) -> bool | None:
    try:
        with urllib.request.urlopen(metrics_url, timeout=2) as resp:
            m = SYNCED.search(resp.read())
    except OSError:
        return None
    return None if m is None else float(m.group(1)) == 1.0


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    stack = Stack(work, f"outage-{os.getpid()}", nodes=4)
    port = free_port()
    metrics = f"http://127.0.0.1:{port}/metrics"
    try:
        idle_off = {"kind": "idle_off", "break_even": False}
        stack.start(idle_time=args.idle_time, max_data_age=args.max_data_age,
                    policies=["scale_up", "min_nodes", "pack_down", idle_off, "limits"],
                    daemon={"metrics_listen": f"127.0.0.1:{port}"})  # fmt: skip
        stack.start_cluesd()
        assert wait(lambda: synced(metrics), 120), "cluesd never synced"
        # Two pods that run until deleted, deleted together once both run: both nodes go
        # idle in the same pass, however long each took to boot.
        before = {"before-0", "before-1"}
        for name in sorted(before):
            stack.submit(name, None)
        both = lambda *states: sorted(s for s, _ in stack.store().values()) == [*states]  # noqa: E731
        assert wait(lambda: stack.running(before) and both("off", "off", "used", "used"), 180)
        for name in sorted(before):
            stack.core.delete_namespaced_pod(name, "default", grace_period_seconds=0)
        assert wait(lambda: both("idle", "idle", "off", "off"), 60), stack.store()
        live_before = stack.live()

        # The API server dies.
        log_at_t0 = stack.log.stat().st_size
        wall_t0, t0 = time.time(), time.monotonic()
        stack.kill_sandbox()
        down = wait(lambda: synced(metrics) is False, 60, 0.1)
        synced_false_after = time.monotonic() - t0 if down else None
        time.sleep(max(0.0, t0 + args.outage - time.monotonic()))
        live_at_return = stack.live()

        # It comes back empty, on the same port; new work arrives at once.
        log_text = stack.log.read_bytes()[log_at_t0:].decode(errors="replace")
        stack.start_sandbox()  # returns once it answers
        t1 = t_pods = time.monotonic()
        wall_pods = time.time()
        after = {f"after-{i}" for i in range(3)}
        for name in sorted(after):
            stack.submit(name, None)
        back = wait(lambda: synced(metrics), 120, 0.1)
        resynced_after = time.monotonic() - t1 if back else None
        wall_resynced = time.time()
        power_on = lambda: stack.query(  # noqa: E731
            "SELECT COUNT(*) FROM actions WHERE kind = 'power_on' AND at >= ?", (wall_pods,)
        )[0][0]
        scaled = wait(power_on, 120, 0.1)
        scale_up_after = time.monotonic() - t_pods if scaled else None
        ran = wait(lambda: stack.running(after), 180, 0.1)
        running_after = time.monotonic() - t_pods if ran else None
        stale_offs = stack.query(
            "SELECT COUNT(*) FROM actions WHERE kind = 'power_off' AND at >= ? AND at < ?",
            (wall_t0, wall_resynced),
        )[0][0]
        terminated = sum(len(v) for v in live_before.values()) - sum(
            len(v) for v in live_at_return.values()
        )
        return {
            "outage_s": args.outage,
            "max_data_age": args.max_data_age,
            "idle_time": args.idle_time,
            "synced_false_after_s": _r(synced_false_after),
            "power_offs_started_on_stale_data": stale_offs,
            "instances_terminated_during_outage": terminated,
            "log_lines_during_outage": log_text.count("\n"),
            "watch_state_lines_during_outage": log_text.count("cluster watch"),
            "resynced_after_return_s": _r(resynced_after),
            "scale_up_after_return_s": _r(scale_up_after),
            "pods_running_after_return_s": _r(running_after),
            "tracebacks": stack.log.read_text().count("Traceback"),
            "load": os.getloadavg()[0],
        }
    finally:
        stack.stop()


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def failed(r: dict[str, Any]) -> list[str]:
    bad = []
    if r["synced_false_after_s"] is None or r["synced_false_after_s"] > 10:
        bad.append("synced_false_after_s")
    if r["power_offs_started_on_stale_data"] or r["instances_terminated_during_outage"]:
        bad.append("stale power-offs")
    if r["scale_up_after_return_s"] is None or r["scale_up_after_return_s"] > 10:
        bad.append("scale_up_after_return_s")
    if r["tracebacks"]:
        bad.append("tracebacks")
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=150.0)
    parser.add_argument("--max-data-age", type=float, default=30.0)
    parser.add_argument("--idle-time", type=float, default=4.0)
    parser.add_argument("--keep", help="keep logs and the state DB in this directory")
    args = parser.parse_args()
    result = in_work_dir(args.keep, "clues-outage-", lambda work: run(args, work))
    result["failed"] = failed(result)
    print(json.dumps(result), flush=True)
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
