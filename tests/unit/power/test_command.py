"""The `command` power manager with real subprocesses: small shell scripts in tmp_path."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from clues_py.config.load import PluginSpec
from clues_py.contracts import NotImplementedByPlugin, PluginContext, PluginError, PowerState
from clues_py.model import ManagedNode, NodeState, NodeTemplate, Resources
from clues_py.plugins import instantiate
from plugins.power.command import CommandPowerManager

TEMPLATE = NodeTemplate(name="metal", resources=Resources(4000, 8 << 30), power="cmd")
CTX = PluginContext("lab", "cmd", {"metal": TEMPLATE})


def _node(name: str = "wn-1", provider_id: str | None = None) -> ManagedNode:
    return ManagedNode(
        name=name, template="metal", state=NodeState.OFF, since=0.0, provider_id=provider_id
    )


def _script(tmp: Path, name: str, body: str) -> str:
    p = tmp / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)
    return str(p)


def _pm(**cfg: object) -> CommandPowerManager:
    return CommandPowerManager(CommandPowerManager.Config(**cfg), CTX)  # type: ignore[arg-type]


def test_on_and_off_get_the_node_in_env_and_arguments(tmp_path: Path) -> None:
    out = tmp_path / "calls"
    script = _script(
        tmp_path,
        "power.sh",
        f'echo "$1 $2 $CLUES_NODE $CLUES_TEMPLATE $CLUES_CLUSTER '
        f'$CLUES_OPERATION [$CLUES_PROVIDER_ID] $SITE" >> {out}\n',
    )
    pm = _pm(
        on_command=[script, "on", "{node}"],
        off_command=f"{script} off {{node}}",
        env={"SITE": "rack-3"},
    )
    assert pm.power_on(_node(), TEMPLATE) == "command://wn-1"
    pm.power_off(_node(provider_id="command://wn-1"))
    assert out.read_text().splitlines() == [
        "on wn-1 wn-1 metal lab on [] rack-3",
        "off wn-1 wn-1 metal lab off [command://wn-1] rack-3",
    ]


def test_non_zero_exit_is_a_plugin_error_with_stderr(tmp_path: Path) -> None:
    script = _script(tmp_path, "fail.sh", 'echo "pdu port 7: access denied" >&2\nexit 3\n')
    pm = _pm(on_command=script, off_command=script)
    with pytest.raises(PluginError) as err:
        pm.power_on(_node(), TEMPLATE)
    msg = str(err.value)
    assert "exited with 3" in msg
    assert "pdu port 7: access denied" in msg
    assert "power.cmd.on_command" in msg and "wn-1" in msg


def test_long_stderr_is_truncated(tmp_path: Path) -> None:
    script = _script(tmp_path, "noisy.sh", "yes error | head -c 20000 >&2\nexit 1\n")
    with pytest.raises(PluginError) as err:
        _pm(on_command=script, off_command=script).power_on(_node(), TEMPLATE)
    assert len(str(err.value)) < 800
    assert "more chars" in str(err.value)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, just not reaped yet


def test_timeout_kills_the_command_and_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = _script(tmp_path, "hang.sh", f"sleep 30 &\necho $! > {pidfile}\nwait\n")
    pm = _pm(on_command=script, off_command=script, timeout=0.3)
    with pytest.raises(PluginError, match="timed out after 0.3 s"):
        pm.power_on(_node(), TEMPLATE)
    # The grandchild held the pipes; it went with the whole process group.
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(child)


def test_missing_program_is_a_clear_error() -> None:
    pm = _pm(on_command="/nonexistent/poweron", off_command="true")
    with pytest.raises(PluginError, match="cannot run '/nonexistent/poweron'"):
        pm.power_on(_node(), TEMPLATE)


def test_no_shell_unless_asked(tmp_path: Path) -> None:
    out = tmp_path / "out"
    line = f"echo $CLUES_NODE > {out}"
    _pm(on_command=["/bin/sh", "-c", line], off_command="true").power_on(_node(), TEMPLATE)
    assert out.read_text() == "wn-1\n"
    # Without shell, `>` is just an argument to echo: nothing is redirected.
    out.unlink()
    _pm(on_command=line, off_command="true").power_on(_node(), TEMPLATE)
    assert not out.exists()
    _pm(on_command=line, off_command="true", shell=True).power_on(_node(), TEMPLATE)
    assert out.read_text() == "wn-1\n"


@pytest.mark.parametrize(
    ("body", "state"),
    [
        ("echo on\n", PowerState.ON),
        ("echo 'Running since 3 days'\n", PowerState.ON),
        ("echo off\nexit 0\n", PowerState.OFF),
        ("echo booting\n", PowerState.BOOTING),
        ("exit 0\n", PowerState.ON),
        ("exit 1\n", PowerState.OFF),
        ("echo stopping; exit 5\n", PowerState.STOPPING),
    ],
)
def test_status_from_stdout_or_exit_code(tmp_path: Path, body: str, state: PowerState) -> None:
    script = _script(tmp_path, "status.sh", body)
    pm = _pm(on_command="true", off_command="true", status_command=script)
    assert pm.describe(_node()) == state


def test_status_other_exit_codes_are_errors(tmp_path: Path) -> None:
    script = _script(tmp_path, "status.sh", "echo 'bmc unreachable' >&2\nexit 2\n")
    pm = _pm(on_command="true", off_command="true", status_command=script)
    with pytest.raises(PluginError, match="bmc unreachable"):
        pm.describe(_node())


def test_without_status_command_the_state_is_derived() -> None:
    pm = _pm(on_command="true", off_command="true")
    assert pm.describe(_node()) == PowerState.UNKNOWN
    pm.power_on(_node(), TEMPLATE)
    assert pm.describe(_node()) == PowerState.ON
    pm.power_off(_node())
    assert pm.describe(_node()) == PowerState.OFF
    with pytest.raises(NotImplementedByPlugin):
        pm.list_owned()


def test_secrets_from_env_never_reach_errors_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "hunter2-very-secret"
    script = _script(tmp_path, "leak.sh", 'echo "login failed for token $PDU_TOKEN" >&2\nexit 1\n')
    pm = _pm(on_command=script, off_command=script, env={"PDU_TOKEN": secret})
    with caplog.at_level(logging.DEBUG), pytest.raises(PluginError) as err:
        pm.power_on(_node(), TEMPLATE)
    assert secret not in str(err.value)
    assert "login failed for token ***" in str(err.value)
    assert secret not in caplog.text


def test_config_through_the_plugin_loader() -> None:
    spec = PluginSpec(
        "command",
        {"on_command": ["wake", "{node}"], "off_command": "halt {node}", "timeout": 5},
        "clues.yaml:10",
        "cmd",
        "power.cmd",
        {"on_command": 11, "off_command": 12, "timeout": 13},
    )
    pm = instantiate("clues_py.power", spec, CTX)
    assert isinstance(pm, CommandPowerManager)
    with pytest.raises(PluginError, match=r"power.cmd.off_command: must not be empty"):
        _pm(on_command="true", off_command="")
    with pytest.raises(PluginError, match=r"power.cmd.on_command: cannot split .*quotation"):
        _pm(on_command="wake 'wn-1", off_command="true")
