"""systemd/cluesd.service passes `systemd-analyze verify` with nothing on stderr, and keeps
the properties operations rely on (restart policy, reload, hardening, state directory).

The unit is copied with ExecStart/ExecStartPre pointing at the installed `cluesd`
(verify checks that the binaries exist; /usr/local/bin/cluesd may not here).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

from tests.tools import require_tool

UNIT = Path(__file__).resolve().parents[3] / "systemd" / "cluesd.service"
ENV_FILE = UNIT.with_name("cluesd.env")


def _tool(name: str) -> str:
    return require_tool(name, "systemd")


def _verify(unit_text: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    cluesd = shutil.which("cluesd")
    assert cluesd, "the cluesd entry point is not installed (pip install -e .)"
    unit = tmp / "cluesd.service"
    unit.write_text(unit_text.replace("/usr/local/bin/cluesd", cluesd))
    return subprocess.run(
        [_tool("systemd-analyze"), "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )


def test_unit_verifies_cleanly(tmp_path: Path) -> None:
    out = _verify(UNIT.read_text(), tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    # Guards the test above: a misspelt directive must show up on stderr.
    broken = UNIT.read_text().replace("NoNewPrivileges=", "NoNewPrivilege=")
    out = _verify(broken, tmp_path)
    assert "NoNewPrivilege" in out.stderr


def test_unit_has_restart_reload_and_hardening() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    svc = parser["Service"]
    assert svc["Restart"] == "on-failure"
    assert svc["RestartPreventExitStatus"] == "2"  # config errors: restarting cannot help
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert svc["KillSignal"] == "SIGTERM"
    assert svc["NoNewPrivileges"] == "true"
    assert svc["ProtectSystem"] == "strict"
    assert svc["StateDirectory"] == "clues"  # /var/lib/clues: the default daemon.state_db
    assert "--check" in svc["ExecStartPre"]
    assert parser["Install"]["WantedBy"] == "multi-user.target"


def test_environment_file_names_the_config() -> None:
    values = dict(
        line.split("=", 1)
        for line in ENV_FILE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert values == {"CLUES_CONFIG": "/etc/clues/clues.yaml"}
