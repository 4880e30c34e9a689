"""Chaos: SIGKILL cluesd at chosen phases, again and again, and count what it left behind.

Everything runs as its own process on 127.0.0.1: moto (EC2, through libcloud), the sandbox
API server (`clues sandbox`), the join agent (`bench/join_agent.py`, which plays the VMs'
kubelets and counts live instances per node name) and cluesd, restarted on the same state
DB after every kill. Each kill aims at one phase, chosen at random (seeded):

- `power_on_sent` / `power_off_sent`: cluesd runs with the test-only fault point
  `CLUES_TEST_CRASH_AT` armed and kills itself right after storing the intent and before
  the cloud call (clues_py/daemon/faults.py);
- `booting`: a node is powering on and its instance exists (the call returned);
- `drain`: a node is draining;

and the workload (pods of 3 of a node's 4 cpus, running 1-4 s) is fed so that each phase
comes. A phase that does not come within --phase-timeout is killed anyway and reported.
After the last kill cluesd runs clean until the work is done and everything is off, then
one JSON line is printed: kills, leaked VMs, duplicate VMs, nodes stuck in an error state
with a live VM, pods never run, tracebacks (plus how the kills fell and how long start-up
recovery took). Exits 1 when any of those counts is not 0.

    python3 bench/chaos.py --kills 40 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from stack import Stack, in_work_dir, wait

PHASES = ("power_on_sent", "power_off_sent", "booting", "drain")
PROBLEMS = ("leaked_vms", "duplicate_vms", "error_with_live_vm", "pods_never_run", "tracebacks")


def in_state(stack: Stack, phase: str) -> bool:
    nodes = stack.store().values()
    if phase == "booting":
        return any(s == "powering_on" and pid for s, pid in nodes)
    return any(s == "draining" for s, _ in nodes)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    stack = Stack(work, f"chaos-{args.seed}-{os.getpid()}", args.nodes)
    started = time.monotonic()
    by_phase: dict[str, int] = {}
    n_pods = 0
    try:
        stack.start()
        phase = rng.choice(PHASES)
        stack.start_cluesd(phase if phase.endswith("_sent") else "")
        for _ in range(args.kills):
            # Feed the phase: new work for a power-on, short work (or none) for a power-off.
            busy = (
                sum(1 for s, _ in stack.store().values() if s != "off") if stack.db.exists() else 0
            )
            if phase in ("power_on_sent", "booting") or busy == 0:
                for _ in range(rng.randint(1, 3)):
                    stack.submit(f"p{n_pods}", rng.randint(1, 4))
                    n_pods += 1
            assert stack.cluesd is not None
            if phase.endswith("_sent"):
                hit = wait(lambda: stack.cluesd.poll() is not None, args.phase_timeout)  # type: ignore[union-attr]
            else:
                hit = wait(lambda ph=phase: in_state(stack, ph), args.phase_timeout, 0.005)
                time.sleep(rng.uniform(0.0, 0.05))
            key = phase if hit else f"{phase}:missed"
            by_phase[key] = by_phase.get(key, 0) + 1
            stack.kill_cluesd()
            phase = rng.choice(PHASES)
            stack.start_cluesd(phase if phase.endswith("_sent") else "")
        stack.kill_cluesd()  # the last armed start may not have crashed yet
        stack.start_cluesd()
        settled = wait(
            lambda: (
                stack.ran() == n_pods
                and {s for s, _ in stack.store().values()} == {"off"}
                and stack.live() == {}
            ),
            args.settle_timeout,
            0.5,
        )
        return measure(stack, args, by_phase, settled, n_pods, time.monotonic() - started)
    finally:
        stack.stop()


def measure(stack: Stack, args: argparse.Namespace, by_phase: dict[str, int], settled: bool,
            n_pods: int, seconds: float) -> dict[str, Any]:  # fmt: skip
    live = stack.live()
    store = stack.store()
    agent = stack.agent_stats()
    log = stack.log.read_text() if stack.log.exists() else ""
    stderr = "".join(p.read_text(errors="replace") for p in stack.work.glob("*.stderr"))
    return {
        "kills": sum(by_phase.values()),
        "seed": args.seed,
        "leaked_vms": sum(
            len(ids) for n, ids in live.items() if store.get(n, ("off",))[0] == "off"
        ),
        "duplicate_vms": sum(1 for n in agent["max_live"].values() if n > 1),
        "error_with_live_vm": sum(
            1 for n, (s, _) in store.items() if s in ("on_error", "off_error") and n in live
        ),  # fmt: skip
        "pods_never_run": n_pods - stack.ran(),
        "tracebacks": log.count("Traceback") + stderr.count("Traceback"),
        "settled": settled,
        "still_live_vms": sum(len(ids) for ids in live.values()),
        "nodes_not_off": sorted(f"{n}={s}" for n, (s, _) in store.items() if s != "off"),
        "kills_by_phase": dict(sorted(by_phase.items())),
        "pods": n_pods,
        "recovery_reissued": log.count("was never made; re-sending it"),
        "recovery_max_seconds": round(max(recovery_seconds(log), default=0.0), 2),
        "reconcile_interval": 5.0,
        "seconds": round(seconds, 1),
        "load": os.getloadavg()[0],
    }


_STAMP = re.compile(r"^(\S+Z) \S+ +clues\.recovery: (.*)$", re.M)


def recovery_seconds(log: str) -> list[float]:
    """From each start-up that held nodes to its last resolution, per run of cluesd."""
    out: list[float] = []
    start: float | None = None
    last: float | None = None
    for stamp, text in _STAMP.findall(log):
        t = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
        if text.startswith("stored as sent"):
            if start is not None and last is not None:
                out.append(last - start)
            start, last = t, None
        elif start is not None and ("re-sending" in text or "was made" in text):
            last = t
    if start is not None and last is not None:
        out.append(last - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--phase-timeout", type=float, default=90.0)
    parser.add_argument("--settle-timeout", type=float, default=300.0)
    parser.add_argument("--keep", help="keep logs and the state DB in this directory")
    args = parser.parse_args()
    result = in_work_dir(args.keep, "clues-chaos-", lambda work: run(args, work))
    print(json.dumps(result), flush=True)
    return 1 if any(result[k] for k in PROBLEMS) or not result["settled"] else 0


if __name__ == "__main__":
    sys.exit(main())
