"""cluesd killed with SIGKILL exactly between storing "sent" and calling the cloud, both ways.

cluesd runs as a process against real moto (libcloud EC2) and the sandbox; the test-only
`CLUES_TEST_CRASH_AT` point makes it kill itself right after the POWERING_ON / POWERING_OFF
intent is stored and before the provider call (clues_py/daemon/faults.py). The restarted
daemon must resolve that step by asking the provider and re-issuing the call, not by
waiting for a timeout: boot_timeout, shutdown_timeout and reconcile_interval are all far
longer than the test's deadlines, so only the start-up resolution can pass it, and no
attempt, error state or template back-off may follow from our own crash.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clues_py.sandbox import Sandbox
from tests.tools import STARTUP_LIMIT, command, wait_for

from .cloud import MotoCloud
from .conftest import JoinAgent, cloud_config, pod_manifest

LONG = 600  # boot/shutdown timeouts and reconcile interval: never reached by this test


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return list(con.execute(sql))
    finally:
        con.close()


def _state(db: Path, node: str) -> tuple[str, int]:
    rows = _rows(db, f"SELECT state, attempts FROM nodes WHERE name = '{node}'")
    return (rows[0][0], rows[0][1]) if rows else ("", 0)


class Cluesd:
    def __init__(self, cfg: Path) -> None:
        self.cfg = cfg
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, crash_at: str = "") -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if k != "CLUES_TEST_CRASH_AT"}
        if crash_at:
            env["CLUES_TEST_CRASH_AT"] = crash_at
        self.proc = subprocess.Popen(
            [*command("cluesd"), "-c", str(self.cfg)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self.proc

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def setup(
    sandbox: Sandbox, tmp_path: Path, moto_cloud: MotoCloud, cluster: str
) -> Iterator[tuple[Cluesd, Path, Path]]:
    raw = cloud_config(sandbox, tmp_path, moto_cloud, cluster, nodes="wn-[1-2]",
                       boot_timeout=LONG, shutdown_timeout=LONG, reconcile_interval=LONG,
                       idle_time=0.5)  # fmt: skip
    log = tmp_path / "cluesd.log"
    raw["daemon"]["log_file"] = str(log)
    cfg = tmp_path / "clues.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    daemon = Cluesd(cfg)
    try:
        yield daemon, Path(raw["daemon"]["state_db"]), log
    finally:
        daemon.kill()


# cluesd starts many times; on a loaded machine each start takes a while.
@pytest.mark.timeout(900)
def test_crash_between_sent_and_call_is_resolved_at_start_up_both_ways(
    sandbox: Sandbox,
    moto_cloud: MotoCloud,
    cluster: str,
    agent: JoinAgent,
    setup: tuple[Cluesd, Path, Path],
) -> None:
    daemon, db, log = setup

    # Power-on: the intent is stored, the process dies before libcloud is called.
    proc = daemon.start(crash_at="power_on_sent")
    sandbox.store.create("pods", pod_manifest("work", cpu="3"), "default")
    assert proc.wait(timeout=STARTUP_LIMIT) == -9
    assert _state(db, "wn-1") == ("powering_on", 0)
    assert moto_cloud.live(cluster) == {}, "the crash point is before the cloud call"

    daemon.start()
    phase = lambda: sandbox.store.get("pods", "work", "default")["status"].get("phase")  # noqa: E731
    wait_for(lambda: phase() == "Running", timeout=60, what="the pod runs on the re-sent node")
    wait_for(lambda: _state(db, "wn-1") == ("used", 0), what="wn-1 used, no attempt counted")
    assert list(moto_cloud.live(cluster)) == ["wn-1"] and len(moto_cloud.live(cluster)["wn-1"]) == 1
    actions = _rows(db, "SELECT kind, status, policy FROM actions WHERE node = 'wn-1' ORDER BY id")
    assert actions == [("power_on", "interrupted", "scale_up"), ("power_on", "ok", "recovery")]

    # Power-off: the node idles, is drained, the intent is stored, the process dies before
    # the instance is terminated.
    daemon.kill()
    proc = daemon.start(crash_at="power_off_sent")
    sandbox.store.delete("pods", "work", "default")
    assert proc.wait(timeout=STARTUP_LIMIT) == -9
    assert _state(db, "wn-1") == ("powering_off", 0)
    assert list(moto_cloud.live(cluster)) == ["wn-1"], "the crash point is before the cloud call"

    daemon.start()
    wait_for(lambda: moto_cloud.live(cluster) == {}, timeout=60, what="the instance terminated")
    wait_for(lambda: _state(db, "wn-1") == ("off", 0), timeout=30, what="wn-1 off")

    states = {r[0] for r in _rows(db, "SELECT new FROM transitions WHERE node = 'wn-1'")}
    assert not states & {"on_error", "off_error"}, states
    offs = _rows(db, "SELECT status, policy FROM actions WHERE kind = 'power_off' ORDER BY id")
    assert offs == [("interrupted", "idle_off"), ("ok", "recovery")]
    text = log.read_text()
    assert "back-off" not in text, "our own crash must not put the template in back-off"
    assert "Traceback" not in text
    assert agent.max_live == {"wn-1": 1}


@pytest.mark.timeout(900)
def test_a_drain_interrupted_before_its_cordon_does_not_evict_work_that_arrived_meanwhile(
    sandbox: Sandbox, tmp_path: Path, moto_cloud: MotoCloud, cluster: str, agent: JoinAgent
) -> None:
    """cluesd dies right after storing DRAINING for an idle node, before cordoning it; a pod
    is bound to the still schedulable node meanwhile. The restarted daemon goes on with the
    drain (drain_timeout is far longer than the test), which may evict only the pods the
    node had when the drain was decided: none. So the new pod is not evicted (a bare pod
    would be lost), the drain is aborted and the node is back in service (decision 0021)."""
    raw = cloud_config(sandbox, tmp_path, moto_cloud, cluster, nodes="wn-1", idle_time=0.5,
                       boot_timeout=LONG, shutdown_timeout=LONG, drain_timeout=LONG,
                       reconcile_interval=LONG)  # fmt: skip
    log = tmp_path / "cluesd.log"
    raw["daemon"]["log_file"] = str(log)
    cfg = tmp_path / "clues.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    db = Path(raw["daemon"]["state_db"])
    daemon = Cluesd(cfg)
    try:
        proc = daemon.start(crash_at="drain_started")
        sandbox.store.create("pods", pod_manifest("first", cpu="3", duration="0.5s"), "default")
        assert proc.wait(timeout=STARTUP_LIMIT) == -9
        assert _state(db, "wn-1") == ("draining", 0)
        assert not sandbox.store.get("nodes", "wn-1")["spec"].get("unschedulable")

        sandbox.store.create("pods", pod_manifest("late", cpu="3"), "default")
        pod = lambda: sandbox.store.get("pods", "late", "default")  # noqa: E731
        wait_for(lambda: pod()["status"].get("phase") == "Running", timeout=60,
                 what="the late pod runs on wn-1")  # fmt: skip
        assert pod()["spec"]["nodeName"] == "wn-1"

        daemon.start()
        wait_for(lambda: _state(db, "wn-1") == ("used", 0), timeout=120,
                 what="the drain aborted: wn-1 back in service")  # fmt: skip
        uncordoned = lambda: not sandbox.store.get("nodes", "wn-1")["spec"].get("unschedulable")  # noqa: E731
        wait_for(uncordoned, timeout=60, what="wn-1 uncordoned")
        late = pod()
        assert late["status"]["phase"] == "Running" and not late["metadata"].get(
            "deletionTimestamp"
        )
        reasons = _rows(db, "SELECT reason FROM transitions WHERE node = 'wn-1' AND new = 'used'")
        assert any("new work: default/late" in r[0] for r in reasons), reasons

        # Once the work is done the node idles out as ever.
        sandbox.store.delete("pods", "late", "default")
        wait_for(lambda: _state(db, "wn-1") == ("off", 0), timeout=120, what="wn-1 off")
        wait_for(lambda: moto_cloud.live(cluster) == {}, timeout=60, what="no live instance")
    finally:
        daemon.kill()
    assert "Traceback" not in log.read_text()
