"""The `clues` CLI against a real ApiServer: in-process with CliRunner and as a real subprocess."""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from api_fakes import FakeControl
from click.testing import CliRunner, Result

from clues_py import __version__
from clues_py.api.server import ApiServer
from clues_py.cli.main import _connect_address, main
from clues_py.cli.tools import DEMO_DEFAULTS
from tests.tools import command, runnable_here

pytestmark = pytest.mark.e2e

CLEAN_ENV = {
    "CLUES_ADDRESS": None,
    "CLUES_TOKEN_FILE": None,
    "CLUES_CONFIG": None,
    "NO_COLOR": None,
}


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner(env={**CLEAN_ENV, **(env or {})}).invoke(main, list(args))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clues_cmd() -> list[str]:
    return command("clues")


def subprocess_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CLUES_")}


# ---------------------------------------------------------------------- in-process
def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"clues, version {__version__}"


def test_status_table(tcp_server: ApiServer) -> None:
    result = run("--address", tcp_server.address, "status")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b[" not in out  # not a terminal: plain text
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("wn-")}
    assert rows["wn-1"] == ["wn-1", "used", "enabled", "3m12s", "1/4", "2.0/8.0Gi", "1"]
    assert (
        "4 nodes: 1 used, 1 idle, 2 off · pending: 3 pods (cpu 3, mem 6Gi) · unplaceable: 1" in out
    )
    assert "last plan (0s ago): power_on wn-3 — 3 pods pending" in out


def test_status_json_and_env_address(tcp_server: ApiServer) -> None:
    result = run("status", "--json", env={"CLUES_ADDRESS": tcp_server.address})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cluster"] == "clues" and len(data["nodes"]) == 4


def test_status_watch_redraws(tcp_server: ApiServer) -> None:
    args = ("--address", tcp_server.address, "status", "--watch", "--interval", "0.1")
    result = run(*args, "--max-frames", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Every 0.1s: clues status") == 2
    assert result.stdout.count("4 nodes: 1 used") == 2
    lines = run(*args, "--json", "--max-frames", "2").stdout.splitlines()
    assert [json.loads(line)["cluster"] for line in lines] == ["clues", "clues"]


def test_status_watch_survives_daemon_absence() -> None:
    args = ("--address", f"127.0.0.1:{free_port()}", "status", "--watch", "--interval", "0.1")
    result = run(*args, "--max-frames", "2")
    assert result.exit_code == 0
    assert result.stdout.count("cannot reach cluesd") == 2


def test_nodes(tcp_server: ApiServer) -> None:
    result = run("--address", tcp_server.address, "nodes")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split()[:2] == ["node", "state"]
    assert "wn odd name" in result.stdout
    data = json.loads(run("--address", tcp_server.address, "nodes", "--json").stdout)
    assert [n["name"] for n in data][:2] == ["wn-1", "wn-2"]


def test_ops_print_result_and_fail_with_exit_1(tcp_server: ApiServer, control: FakeControl) -> None:
    addr = ("--address", tcp_server.address)
    result = run(*addr, "poweron", "wn-3")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "poweron wn-3: ok (now powering_on)"
    result = run(*addr, "disable", "wn-1")
    assert result.stdout.strip() == "disable wn-1: ok (now used, disabled)"
    assert json.loads(run(*addr, "enable", "wn-1", "--json").stdout)["enabled"] is True
    assert run(*addr, "poweroff", "wn-2").exit_code == 0
    assert run(*addr, "resetstate", "wn odd name").exit_code == 0

    conflict = run(*addr, "poweron", "wn-1")
    assert conflict.exit_code == 1
    assert conflict.stderr.strip() == "error: wn-1 is used; only an off node can be powered on"
    missing = run(*addr, "poweroff", "ghost")
    assert missing.exit_code == 1 and "unknown node 'ghost'" in missing.stderr
    assert [n["state"] for n in control.nodes()] == ["used", "draining", "powering_on", "unknown"]


def test_history(tcp_server: ApiServer) -> None:
    addr = ("--address", tcp_server.address)
    assert run(*addr, "history").stdout.strip() == "no history yet"
    run(*addr, "poweron", "wn-3")
    run(*addr, "poweroff", "wn-2")
    text = run(*addr, "history").stdout
    assert "wn-3  action power_on [pending] — operator request" in text
    assert "wn-2  idle -> draining — operator request" in text
    only = json.loads(run(*addr, "history", "--node", "wn-2", "--json").stdout)
    assert only["actions"] == [] and [t["node"] for t in only["transitions"]] == ["wn-2"]
    assert run(*addr, "history", "--limit", "0").exit_code == 2


def test_unreachable_exit_3_without_traceback() -> None:
    port = free_port()
    result = run("--address", f"127.0.0.1:{port}", "status")
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        f"cannot reach cluesd at 127.0.0.1:{port} (connection refused). Is it running? "
        "Start it with `systemctl start cluesd` or `cluesd -c /etc/clues/clues.yaml`; "
        "point the CLI elsewhere with --address or CLUES_ADDRESS."
    )
    assert result.stdout == ""
    for cmd in (["nodes"], ["poweron", "x"], ["history"]):
        assert run("--address", f"127.0.0.1:{port}", *cmd).exit_code == 3


def test_bad_address_is_usage_error() -> None:
    result = run("--address", "nowhere", "status")
    assert result.exit_code == 2 and "HOST:PORT" in result.stderr


def test_token_file_option_and_env(
    token_server: ApiServer, token_file: Path, tmp_path: Path
) -> None:
    addr = ("--address", token_server.address)
    denied = run(*addr, "status")
    assert denied.exit_code == 1 and "--token-file" in denied.stderr
    assert run(*addr, "--token-file", str(token_file), "status").exit_code == 0
    assert run(*addr, "status", env={"CLUES_TOKEN_FILE": str(token_file)}).exit_code == 0
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    assert run(*addr, "--token-file", str(wrong), "status").exit_code == 1
    missing = run(*addr, "--token-file", str(tmp_path / "absent"), "status")
    assert missing.exit_code == 2 and "absent" in missing.stderr


def test_address_and_token_from_config(
    token_server: ApiServer, token_file: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "clues.yaml"
    cfg.write_text(
        f"cluster_name: clues\ndaemon:\n  listen: '{token_server.address}'\n  token_file: {token_file}\n"
    )
    result = run("--config", str(cfg), "status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cluster"] == "clues"
    assert run("status", env={"CLUES_CONFIG": str(cfg)}).exit_code == 0
    # --address wins over the config file.
    port = free_port()
    assert run("--config", str(cfg), "--address", f"127.0.0.1:{port}", "status").exit_code == 3
    broken = tmp_path / "broken.yaml"
    broken.write_text("daemon: [unclosed\n")
    result = run("--config", str(broken), "status")
    assert result.exit_code == 2 and "not valid YAML" in result.stderr
    assert _connect_address("0.0.0.0:8484") == "127.0.0.1:8484"
    assert _connect_address("[::]:8484") == "[::1]:8484"


def test_unix_socket_address(unix_server: ApiServer) -> None:
    result = run("--address", unix_server.address, "status", "--json")
    assert result.exit_code == 0 and len(json.loads(result.stdout)["nodes"]) == 4


# ---------------------------------------------------------------------- delegated commands
def fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: Any) -> None:
    mod = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(mod, key, value)
    monkeypatch.setitem(sys.modules, name, mod)


def test_config_check_reports_every_error_with_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        runnable_here(tmp_path) + "power:\n  sim: {kind: sim, url: 'http://127.0.0.1:1'}\n"
        "templates:\n"
        "  - {name: wn, power: sim, nodes: 'wn-[1-3]', cpu: 4, memory: 8Gi}\n"
        "  - {name: gpu, power: sim, nodes: 'gpu-1', cpu: 8, memory: 32Gi, gpus: 1}\n"
    )
    ok = run("config", "check", str(good))
    assert ok.exit_code == 0 and ok.stdout.strip() == "OK: 2 templates, 4 nodes"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "idle_time: -1\n"
        "power:\n  sim: {kind: sim}\n"
        "templates:\n"
        "  - {name: wn, power: sim, nodes: 'wn-[1-3]', cpu: four, memory: 8Gi}\n"
    )
    result = run("config", "check", str(bad))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{bad}:1:12: idle_time:")
    assert any(line.startswith(f"{bad}:5:52: templates[0].cpu:") for line in lines)
    bad_option = tmp_path / "bad_option.yaml"
    bad_option.write_text(
        "power:\n  sim:\n    kind: sim\n    boot_secs: 3\n"
        "templates:\n  - {name: wn, power: sim, nodes: 'wn-1', cpu: 4, memory: 8Gi}\n"
    )
    result = run("config", "check", str(bad_option))
    assert result.exit_code == 2
    assert f"{bad_option}:4:5: power.sim.boot_secs: unknown option" in result.stderr
    assert "did you mean 'boot_seconds'" in result.stderr


def test_demo_and_sandbox_delegate(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    fake_module(monkeypatch, "clues_py.cli.demo", run_demo=lambda **kw: calls.append(kw) or 4)
    result = run("demo", "--speed", "30", "--jobs", "5", "--json", "--no-live")
    assert result.exit_code == 4
    assert calls.pop() == {
        "speed": 30.0, "jobs": 5, "nodes": 10, "json_out": True, "live": False
    }  # fmt: skip
    assert run("demo").exit_code == 4
    assert calls.pop() == {**DEMO_DEFAULTS, "json_out": False, "live": True}
    shown = run("demo", "--help").output
    assert "[default: 4.0]" in shown and "[default: 100]" in shown and "minutes" in shown

    fake_module(
        monkeypatch,
        "clues_py.sandbox.standalone",
        run_standalone=lambda *a, **kw: calls.append((*a, kw)),
    )
    result = run(
        "sandbox",
        "--port",
        "6443",
        "--nodes",
        "2x4x8Gi",
        "--nodes",
        "1x8x16Gi",
        "--kubeconfig",
        "kc",
    )
    assert result.exit_code == 0
    assert calls.pop() == (
        6443,
        ["2x4x8Gi", "1x8x16Gi"],
        "kc",
        None,
        {"default_pod_duration": None},
    )


def test_demo_help_shows_run_demos_own_defaults() -> None:
    from clues_py.cli.demo import run_demo

    defaults = inspect.signature(run_demo).parameters
    assert {k: defaults[k].default for k in DEMO_DEFAULTS} == DEMO_DEFAULTS


def test_missing_delegate_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "clues_py.cli.demo", None)  # import now raises ImportError
    result = run("demo")
    assert result.exit_code == 1 and "`clues demo` is not available" in result.stderr
    assert "Traceback" not in result.output
    assert run("--version").exit_code == 0  # the rest of the CLI still works


# ---------------------------------------------------------------------- real subprocess
def test_subprocess_status_table_and_json(tcp_server: ApiServer, unix_server: ApiServer) -> None:
    env = subprocess_env()
    proc = subprocess.run(
        [*clues_cmd(), "--address", tcp_server.address, "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "4 nodes: 1 used, 1 idle, 2 off" in proc.stdout and "\x1b[" not in proc.stdout
    proc = subprocess.run(
        [*clues_cmd(), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "CLUES_ADDRESS": unix_server.address},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pending"]["memory"] == 6 << 30


def test_subprocess_unreachable_and_op_failure(tcp_server: ApiServer) -> None:
    env = subprocess_env()
    port = free_port()
    proc = subprocess.run(
        [*clues_cmd(), "--address", f"127.0.0.1:{port}", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 3
    assert proc.stderr.startswith(f"cannot reach cluesd at 127.0.0.1:{port} (connection refused)")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    proc = subprocess.run(
        [*clues_cmd(), "--address", tcp_server.address, "poweron", "wn-1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 1 and "only an off node can be powered on" in proc.stderr


def test_module_entry_point_version() -> None:
    proc = subprocess.run(
        [*command("clues"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
    )
    assert proc.returncode == 0 and proc.stdout.strip() == f"clues, version {__version__}"
