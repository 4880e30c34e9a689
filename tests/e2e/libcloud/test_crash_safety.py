"""cluesd as a subprocess, killed with SIGKILL at seeded random moments during scale-up
and scale-down and restarted each time, against moto: afterwards no node ever had two
live instances, nothing runs that the store does not account for, and the store agrees
with the cloud.

Synchronisation: every wait is on a real condition, never on a time window. Boot and
shutdown timeouts are far longer than the test, so what a crash leaves behind must be
resolved by start-up recovery and reconciliation, never by a timeout running out on a
loaded machine. Pods are counted as they succeed (a store subscription): PodGC removes the
pods of a Node that is deleted after its power-off, so a list at the end would miss them.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from clues_py.sandbox import Sandbox
from tests.tools import command, wait_for, wait_started

from .cloud import MotoCloud
from .conftest import JoinAgent, cloud_config, pod_manifest

ROUNDS = 12
# Override to explore other interleavings: CLUES_CRASH_SEED=7 pytest ...
SEED = int(os.environ.get("CLUES_CRASH_SEED", "20261125"))


def _store_nodes(db: Path) -> dict[str, tuple[str, str]]:
    """name -> (state, provider id), read-only while cluesd may be writing (WAL)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {
            r[0]: (r[1], r[2]) for r in con.execute("SELECT name, state, provider_id FROM nodes")
        }
    finally:
        con.close()


def _count_interrupted(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(
            con.execute("SELECT COUNT(*) FROM actions WHERE status='interrupted'").fetchone()[0]
        )
    finally:
        con.close()


def _wait_state(db: Path, states: tuple[str, ...], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if any(s in states for s, _ in _store_nodes(db).values()):
                return True
        except sqlite3.Error:  # not created yet by a daemon that is still starting
            pass
        time.sleep(0.005)
    return False


# cluesd starts many times; on a loaded machine each start takes a while.
@pytest.mark.timeout(900)
def test_kill_9_at_random_points_leaves_no_duplicates_orphans_or_lost_state(
    sandbox: Sandbox, tmp_path: Path, moto_cloud: MotoCloud, cluster: str, agent: JoinAgent
) -> None:
    raw = cloud_config(sandbox, tmp_path, moto_cloud, cluster, nodes="wn-[1-5]",
                       boot_timeout=600, shutdown_timeout=600, reconcile_interval=1.0)  # fmt: skip
    log_file = tmp_path / "cluesd.log"
    raw["daemon"]["log_file"] = str(log_file)
    cfg = tmp_path / "clues.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    db = Path(raw["daemon"]["state_db"])

    starts = [0]

    def start() -> subprocess.Popen[bytes]:
        """A new cluesd, once it is up: a kill before that would hit only its start-up
        (slow on a loaded machine), never the windows this test aims at."""
        proc = subprocess.Popen(
            [*command("cluesd"), "-c", str(cfg)],
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        starts[0] += 1
        up = lambda: log_file.exists() and log_file.read_text().count("started; API") >= starts[0]  # noqa: E731
        wait_started(proc, up, f"cluesd start #{starts[0]}", log_file)
        return proc

    succeeded: set[str] = set()

    def on_change(kind: str, resource: str, obj: dict[str, Any]) -> None:
        if resource == "pods" and (obj.get("status") or {}).get("phase") == "Succeeded":
            succeeded.add(obj["metadata"]["name"])

    unsubscribe = sandbox.store.subscribe(on_change)
    rng = random.Random(SEED)
    proc = start()
    pods = 0
    try:
        for r in range(ROUNDS):
            if r % 3 == 0:  # a wave of work; earlier waves finish and go idle meanwhile
                for _ in range(rng.randint(1, 3)):
                    sandbox.store.create(
                        "pods",
                        pod_manifest(f"p{pods}", cpu="3", duration=f"{rng.choice([1, 2, 3])}s"),
                        "default",
                    )
                    pods += 1
            if r % 3 == 1:
                time.sleep(rng.uniform(0.5, 2.5))
            else:
                # Aim at the windows that matter: just after the intent is stored (scale-up,
                # cloud call in flight) or while a node drains / powers off (scale-down).
                want = ("powering_on",) if r % 3 == 0 else ("draining", "powering_off")
                _wait_state(db, want, limit=4.0)
                time.sleep(rng.uniform(0.0, 0.05))
            proc.kill()  # SIGKILL: no clean-up of any kind
            proc.wait(timeout=10)
            proc = start()

        wait_for(lambda: len(succeeded) == pods, timeout=120, what=f"{pods} pods succeeded")

        # Two pods that run until deleted keep two nodes used while the store and the
        # cloud settle: then each on node has exactly the instance the store records, and
        # no other node has one.
        for i in range(2):
            sandbox.store.create("pods", pod_manifest(f"check{i}", cpu="3"), "default")
        seen: list[object] = []

        def consistent() -> bool:
            stored = _store_nodes(db)
            live = moto_cloud.live(cluster)
            seen[:] = [stored, live]
            if any(s not in ("off", "idle", "used") for s, _ in stored.values()):
                return False
            on = {n: [pid] for n, (s, pid) in stored.items() if s in ("idle", "used")}
            return sum(s == "used" for s, _ in stored.values()) == 2 and on == live

        try:
            wait_for(consistent, timeout=120, what="store and cloud agree, two nodes used")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {seen}") from None
        for i in range(2):
            sandbox.store.delete("pods", f"check{i}", "default")

        # Then everything idles out: the store says off and moto has nothing live.
        wait_for(lambda: {s for s, _ in _store_nodes(db).values()} == {"off"}, timeout=120,
                 what="every node off")  # fmt: skip
        wait_for(lambda: moto_cloud.live(cluster) == {}, timeout=60, what="no live instance")
    finally:
        unsubscribe()
        proc.kill()
        proc.wait(timeout=10)

    assert agent.max_live and max(agent.max_live.values()) == 1, agent.max_live
    log = log_file.read_text()
    created = len(moto_cloud.instances(cluster))
    print(json.dumps({
        "crash_rounds": ROUNDS,
        "daemon_starts": log.count("started; API"),
        "power_ons": log.count("power on "),
        "interrupted_actions": _count_interrupted(db),
        "instances_created": created,
        "reconcile_terminated": log.count("reconcile: terminate"),
        "reconcile_adopted": log.count("reconcile: adopt"),
        "recovery_reissued": log.count("was never made; re-sending it"),
        "max_live_per_node": max(agent.max_live.values()),
    }))  # fmt: skip
    assert "Traceback" not in log
    transitions = _transitions(db)
    assert not {"on_error", "off_error"} & transitions, "a crash must not count as a failure"


def _transitions(db: Path) -> set[str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {r[0] for r in con.execute("SELECT DISTINCT new FROM transitions")}
    finally:
        con.close()
