"""cluesd as a subprocess, killed with SIGKILL at seeded random moments during scale-up
and scale-down and restarted each time, against moto: afterwards no node ever had two
live instances, nothing runs that the store does not account for, and the store agrees
with the cloud."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import time
from pathlib import Path

import yaml

from clues_py.sandbox import Sandbox
from tests.tools import command, wait_for

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


def test_kill_9_at_random_points_leaves_no_duplicates_orphans_or_lost_state(
    sandbox: Sandbox, tmp_path: Path, moto_cloud: MotoCloud, cluster: str, agent: JoinAgent
) -> None:
    raw = cloud_config(sandbox, tmp_path, moto_cloud, cluster, nodes="wn-[1-5]",
                       boot_timeout=5, shutdown_timeout=3, reconcile_interval=1.0)  # fmt: skip
    log_file = tmp_path / "cluesd.log"
    raw["daemon"]["log_file"] = str(log_file)
    cfg = tmp_path / "clues.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    db = Path(raw["daemon"]["state_db"])

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*command("cluesd"), "-c", str(cfg)],
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

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

        phase = lambda: [p["status"].get("phase") for p in sandbox.store.list("pods", "default")[0]]  # noqa: E731
        wait_for(lambda: phase() == ["Succeeded"] * pods, timeout=40)

        # While nodes are on, once nothing is in transition: each on node has exactly the
        # instance the store records, and no other node has one.
        for i in range(2):
            sandbox.store.create(
                "pods", pod_manifest(f"check{i}", cpu="3", duration="8s"), "default"
            )
        seen: list[object] = []

        def consistent() -> bool:
            stored = _store_nodes(db)
            live = moto_cloud.live(cluster)
            seen[:] = [stored, live]
            if any(s not in ("off", "idle", "used") for s, _ in stored.values()):
                return False
            on = {n: [pid] for n, (s, pid) in stored.items() if s in ("idle", "used")}
            return sum(s == "used" for s, _ in stored.values()) == 2 and on == live

        assert wait_for(consistent, timeout=25), seen

        # Then everything idles out: the store says off and moto has nothing live.
        wait_for(lambda: {s for s, _ in _store_nodes(db).values()} == {"off"}, timeout=40)
        wait_for(lambda: moto_cloud.live(cluster) == {}, timeout=20)
    finally:
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
        "max_live_per_node": max(agent.max_live.values()),
    }))  # fmt: skip
