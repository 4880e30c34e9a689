"""cluesd as a real process and the `clues` CLI as real processes, against the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clues_py.sandbox import Sandbox
from tests.tools import command, wait_for, wait_started

from .conftest import base_config, pod_manifest, write_config


def _bin(name: str) -> list[str]:
    return command(name)


def clues(address: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*_bin("clues"), "--address", address, *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"clues {' '.join(args)} -> {proc.returncode}: {proc.stderr}")
    return proc


@pytest.fixture
def cluesd(sandbox: Sandbox, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    address = f"unix:{tmp_path}/clues.sock"
    # Nodes these tests power on must stay as the test left them, however slowly the
    # `clues` subprocesses start on a loaded machine: no idle power-off behind their back
    # (idle_time alone decides: break-even would power them off after boot + shutdown).
    cfg = base_config(sandbox, tmp_path, idle_time=3600.0)
    cfg["policies"] = ["scale_up", {"kind": "idle_off", "break_even": False}, "limits"]
    cfg["daemon"]["listen"] = address
    path = write_config(tmp_path / "clues.yaml", cfg)
    log = open(tmp_path / "cluesd.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([*_bin("cluesd"), "-c", str(path)], stdout=log, stderr=log, text=True)
    try:
        wait_started(proc, (tmp_path / "clues.sock").exists, "cluesd listening",
                     tmp_path / "cluesd.log")  # fmt: skip
        yield proc, address
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def test_status_and_operator_verbs_through_the_cli(
    sandbox: Sandbox, cluesd: tuple[subprocess.Popen[str], str]
) -> None:
    proc, address = cluesd
    out = clues(address, "status").stdout
    assert "wn-1" in out and "off" in out
    assert "4 nodes: 4 off" in out

    for i in range(3):
        sandbox.store.create("pods", pod_manifest(f"p{i}", duration="60s"), "default")
    status = wait_for(
        lambda: (
            (s := json.loads(clues(address, "status", "--json").stdout))["nodes"]
            and any(n["state"] == "used" for n in s["nodes"])
            and s
        )
    )
    used = [n for n in status["nodes"] if n["state"] == "used"]
    assert len(used) == 1 and used[0]["pods"] == 3 and used[0]["cpu_used"] == 3000
    table = clues(address, "status").stdout
    assert "used" in table and "3/4" in table

    assert "powering_on" in clues(address, "poweron", "wn-4").stdout
    assert "disabled" in clues(address, "disable", "wn-3").stdout
    nodes = json.loads(clues(address, "nodes", "--json").stdout)
    by_name = {n["name"]: n for n in nodes}
    assert by_name["wn-3"]["enabled"] is False
    assert by_name["wn-4"]["state"] in ("powering_on", "idle")

    refused = clues(address, "poweron", used[0]["name"], check=False)
    assert refused.returncode == 1 and "only an off node" in refused.stderr + refused.stdout
    unknown = clues(address, "poweron", "nope", check=False)
    assert unknown.returncode == 1

    history = clues(address, "history", "--limit", "20").stdout
    assert "power_on" in history and "operator request" in history


def test_sigterm_stops_cleanly_and_state_is_kept(
    sandbox: Sandbox, cluesd: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    proc, address = cluesd
    clues(address, "poweron", "wn-2")
    wait_for(lambda: json.loads(clues(address, "nodes", "--json").stdout)[1]["state"] == "idle")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert time.monotonic() - t0 < 15
    assert not Path(address.removeprefix("unix:")).exists()
    down = clues(address, "status", check=False)
    assert down.returncode == 3 and "cannot reach cluesd" in down.stderr
    assert "Traceback" not in down.stderr

    from clues_py.store import Store

    store = Store(tmp_path / "clues.db")
    try:
        assert store.load_nodes()["wn-2"].state.value == "idle"
    finally:
        store.close()


def test_bad_config_names_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster_name: lab\nidle_tme: 30\ntemplates:\n  - name: wn\n    power: nope\n")
    proc = subprocess.run(
        [*_bin("cluesd"), "-c", str(bad)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    assert f"{bad}:2:1: idle_tme: unknown key" in proc.stderr
    assert "did you mean 'idle_time'" in proc.stderr
    assert f"{bad}:5:12: templates[0].power" in proc.stderr
    assert "Traceback" not in proc.stderr

    missing = subprocess.run(
        [*_bin("cluesd"), "-c", str(tmp_path / "none.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ},
    )
    assert missing.returncode == 2 and "none.yaml" in missing.stderr


def test_demo_runs_to_completion() -> None:
    """The README's first command, compressed: every job succeeds, every node ends off."""
    proc = subprocess.run(
        [*_bin("clues"), "demo", "--speed", "30", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    assert m["jobs"] == 100 and m["jobs_completed"] == 100
    assert m["speed"] == 30  # every figure is wall-clock seconds; x speed = scenario seconds
    assert "clues status --watch" in proc.stderr  # the first lines say how to watch it
    assert m["nodes_on_at_end"] == 0
    assert m["power_on_actions"] >= 3 and m["power_off_actions"] == m["power_on_actions"]
    assert m["failed_boots"] == 0
    # Never more node-seconds than all 10 nodes on for the whole run, never fewer than the bound.
    assert (
        m["lower_bound_node_seconds"]
        < m["node_seconds_powered"]
        < 10 * m["makespan_seconds"] + 10 * 200
    )
    assert 0 < m["wait_seconds"]["p50"] <= m["wait_seconds"]["p95"] <= m["wait_seconds"]["max"]
