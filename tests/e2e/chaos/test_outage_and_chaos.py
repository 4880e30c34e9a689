"""The process-level benches as tests: an API server outage, and cluesd killed at random phases.

Both run `bench/` scripts as they are run by hand: moto, the sandbox, an out-of-process join
agent and cluesd each as a process (bench/stack.py); nothing is faked. The tests assert only
counts from the scripts' JSON line (how fast things happen is the benches' business):

- outage: the sandbox is killed and, after an outage longer than `max_data_age`, started
  again, empty, on the same port. Nothing is drained or powered off on the stale view, the
  daemon says it is not synced, and new work is served once the API server is back.
- chaos (slow, CI-optional: `pytest -m slow`): a few SIGKILLs at the phases of
  bench/chaos.py leave no leaked or duplicate VM, no error state with a live VM, no pod
  that never ran and no traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[3]


def bench(script: str, *args: str, tmp: Path, timeout: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args, "--keep", str(tmp / "run")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, f"{script} printed no JSON line (exit {out.returncode}):\n{out.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@pytest.mark.timeout(900)
def test_an_api_outage_stops_drains_and_the_daemon_recovers_from_an_empty_server(
    tmp_path: Path,
) -> None:
    r = bench("outage.py", "--outage", "12", "--max-data-age", "5", "--idle-time", "3",
              tmp=tmp_path, timeout=880)  # fmt: skip
    assert r["synced_false_after_s"] is not None, r  # the status said so during the outage
    assert r["power_offs_started_on_stale_data"] == 0, r
    assert r["instances_terminated_during_outage"] == 0, r
    assert r["watch_state_lines_during_outage"] == 1, r  # "down" once, not once per attempt
    assert r["scale_up_after_return_s"] is not None, r  # a power-on for the new work
    assert r["pods_running_after_return_s"] is not None, r
    assert r["tracebacks"] == 0, r
    log = (tmp_path / "run" / "cluesd.log").read_text()
    assert "Retrying" not in log, "per-attempt retry warnings flood the log during an outage"


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_random_kills_at_every_phase_leave_nothing_behind(tmp_path: Path) -> None:
    r = bench("chaos.py", "--kills", "6", "--seed", "7", tmp=tmp_path, timeout=3500)
    problems = ("leaked_vms", "duplicate_vms", "error_with_live_vm", "pods_never_run",
                "tracebacks")  # fmt: skip
    assert {k: r[k] for k in problems} == dict.fromkeys(problems, 0), r
    assert r["settled"], r
