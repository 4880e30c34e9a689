"""cluesd as systemd runs it: a real subprocess on the sandbox, SIGHUP reloads the config,
SIGTERM stops it cleanly (exit 0).

The reload is checked by behaviour: with idle_time 600 (and no break-even power-off) an
idle node stays on; after SIGHUP with idle_time 1 it is powered off. State is read from the
daemon's /metrics.
"""

from __future__ import annotations

import re
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import base_config, pod_manifest, write_config
from tests.tools import command, wait_for, wait_started


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(port=0, pod_start_seconds=0.05).start()
    try:
        yield sb
    finally:
        sb.stop()


class Cluesd:
    def __init__(self, config: Path, log: Path) -> None:
        self.log_path = log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [*command("cluesd"), "-c", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        started = wait_started(self.proc, lambda: re.search(r"metrics on (\S+)", self.log()),
                               "cluesd up", log)  # fmt: skip
        self.metrics_url = f"http://{started.group(1)}/metrics"

    def log(self) -> str:
        assert self.proc.poll() is None or self.proc.returncode == 0, self.log_path.read_text()
        return self.log_path.read_text()

    def value(self, name: str, **labels: str) -> float:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as resp:
            text = resp.read().decode()
        total = 0.0
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    total += s.value
        return total

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def test_sighup_reloads_and_sigterm_exits_cleanly(sandbox: Sandbox, tmp_path: Path) -> None:
    raw = base_config(sandbox, tmp_path, idle_time=600, daemon={"metrics_listen": "127.0.0.1:0"})
    # idle_time alone decides (break-even would power the node off after boot + shutdown).
    raw["policies"] = ["scale_up", {"kind": "idle_off", "break_even": False}, "limits"]
    config = write_config(tmp_path / "clues.yaml", raw)
    cluesd = Cluesd(config, tmp_path / "cluesd.log")
    try:
        sandbox.store.create("pods", pod_manifest("short", duration="0.3s"), "default")
        # One node boots, runs the pod, and then sits idle: idle_time is 600 s.
        wait_for(lambda: cluesd.value("clues_nodes", state="idle") == 1, timeout=30)
        wait_for(lambda: cluesd.value("clues_power_on_total", result="ok") == 1)
        assert cluesd.value("clues_power_off_total") == 0

        # A broken file is refused and the running config kept.
        config.write_text(config.read_text().replace("idle_time: 600", "idle_time: -5"))
        cluesd.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "invalid configuration, keeping the running one" in cluesd.log())
        assert f"{config}:" in cluesd.log() and "idle_time" in cluesd.log()
        assert cluesd.value("clues_nodes", state="idle") == 1

        # idle_time applies at runtime; a template change is reported as needing a restart.
        raw["idle_time"] = 1
        raw["templates"][0]["cost_per_hour"] = 0.5
        write_config(config, raw)
        cluesd.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in cluesd.log())
        wait_for(lambda: cluesd.value("clues_power_off_total", result="ok") == 1, timeout=30)
        wait_for(lambda: cluesd.value("clues_nodes", state="off") == 4, timeout=30)
        log = cluesd.log()
        assert re.search(r"changed: .*idle_time", log)
        assert re.search(r"changes to templates take effect after a restart", log)
        assert cluesd.proc.poll() is None

        cluesd.proc.send_signal(signal.SIGTERM)
        assert cluesd.proc.wait(timeout=15) == 0
        assert "received SIGTERM" in cluesd.log_path.read_text()
        assert "cluesd stopped" in cluesd.log_path.read_text()
    finally:
        cluesd.close()
