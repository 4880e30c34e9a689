"""One validation path: `cluesd --check`, `clues config check` and cluesd's start-up agree
on every bad config (exit 2, the same FILE:LINE:COL lines, no traceback), plugin-option and
constructor errors included; the systemd unit relies on it (ExecStartPre, exit status 2)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.tools import command, runnable_here

pytestmark = pytest.mark.e2e

GOOD = """\
power:
  sim:
    kind: sim
    url: http://127.0.0.1:1
templates:
  - {name: wn, power: sim, nodes: 'wn-[1-2]', cpu: 4, memory: 8Gi}
"""


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def three_ways(path: Path) -> list[subprocess.CompletedProcess[str]]:
    """cluesd --check, clues config check, and cluesd itself (which must not start)."""
    return [
        run(*command("cluesd"), "--check", "-c", str(path)),
        run(*command("clues"), "config", "check", str(path)),
        run(*command("cluesd"), "-c", str(path)),
    ]


def errors_of(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ":" in ln and not ln.startswith("cluesd:")]


def write(tmp: Path, body: str, name: str = "c.yaml") -> Path:
    path = tmp / name
    path.write_text(runnable_here(tmp) + body)
    return path


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # The docs' own example: a misspelled option of the sim power manager.
        (GOOD.replace("    url:", "    boot_secs: 3\n    url:"),
         ":6:5: power.sim.boot_secs: unknown option (did you mean 'boot_seconds'?)"),
        # A constructor's check (wol: MAC syntax) and a range (sim: failure_rate).
        (GOOD.replace("kind: sim\n    url: http://127.0.0.1:1",
                      "kind: wol\n    macs: {wn-1: 'zz'}"), ":6:5: power.sim.macs: wn-1:"),
        (GOOD.replace("url:", "failure_rate: 2\n    url:"),
         ":6:5: power.sim.failure_rate: must be between 0 and 1, got 2"),
        (GOOD + "daemon_typo: 1\n", ":9:1: daemon_typo: unknown key"),
    ],
)  # fmt: skip
def test_bad_configs_exit_2_everywhere_with_the_same_lines(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = write(tmp_path, body)
    procs = three_ways(path)
    for proc in procs:
        assert proc.returncode == 2, (proc.args, proc.stderr)
        assert "Traceback" not in proc.stderr + proc.stdout
        assert any(line.startswith(f"{path}{expected}") for line in proc.stderr.splitlines()), (
            proc.args,
            proc.stderr,
        )
    assert errors_of(procs[0]) == errors_of(procs[1]) == errors_of(procs[2])


@pytest.mark.parametrize(
    ("log_file", "message"),
    [
        ("{tmp}/no/such/dir/cluesd.log", "directory {tmp}/no/such/dir does not exist"),
        ("{tmp}", "{tmp} is a directory"),
        ("/proc/cluesd.log", "cannot write /proc/cluesd.log"),
    ],
)
def test_unwritable_log_file_is_a_config_error(tmp_path: Path, log_file: str, message: str) -> None:
    log = log_file.format(tmp=tmp_path)
    path = write(tmp_path, GOOD.replace("power:", f"power:\n  # log: {log}", 1))
    path.write_text(path.read_text().replace("daemon: {", f"daemon: {{log_file: '{log}', ", 1))
    for proc in three_ways(path):
        assert proc.returncode == 2, proc.stderr
        assert f"daemon.log_file: {message.format(tmp=tmp_path)}" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_good_config_passes_and_leaves_no_trace(tmp_path: Path) -> None:
    log = tmp_path / "cluesd.log"
    path = write(tmp_path, GOOD)
    path.write_text(path.read_text().replace("daemon: {", f"daemon: {{log_file: '{log}', ", 1))
    check = run(*command("cluesd"), "--check", "-c", str(path))
    config_check = run(*command("clues"), "config", "check", str(path))
    assert check.returncode == 0 and check.stdout.strip() == f"OK: {path}"
    assert (
        config_check.returncode == 0 and config_check.stdout.strip() == "OK: 1 templates, 2 nodes"
    )
    assert not log.exists()  # the writability probe removed the file it created
    assert not (tmp_path / "clues.db").exists()


def test_portable_check_skips_this_machine(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "daemon: {state_db: /nonexistent-root/x/clues.db, log_file: /nonexistent/x.log}\n"
        "backend: {kind: kubernetes, kubeconfig: /nonexistent/kubeconfig}\n" + GOOD
    )
    here = run(*command("clues"), "config", "check", str(path))
    assert here.returncode == 2 and "daemon.log_file" in here.stderr
    portable = run(*command("clues"), "config", "check", "--portable", str(path))
    assert portable.returncode == 0, portable.stderr
