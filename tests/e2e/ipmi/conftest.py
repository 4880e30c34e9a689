"""A real BMC emulator: OpenIPMI's `ipmi_sim` on 127.0.0.1, driven with the real `ipmitool`.

Nothing is faked on the IPMI side: ipmi_sim speaks IPMI 2.0 / RMCP+ (lanplus,
cipher suite 3) on a free UDP port of 127.0.0.1 and calls a chassis control
script for `chassis power on|soft|off|status`. The script stands in for the
machine: it keeps the power state ("1"/"0") in a file and logs each call; a
soft shutdown is honoured unless the file `ignore_soft` exists (a hung OS).

Under CI (`CI=true`) a missing ipmi_sim or ipmitool fails the tests; elsewhere
they are skipped with the packages to install.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tools import stop_process, unavailable, wait_started

PASSWORD = "s3cr3t-Pa55"
USER = "admin"

_CHASSIS = """#!/bin/sh
# ipmi_sim chassis control: <device> get power | <device> set power 0|1 | set shutdown 1
dir=$(dirname "$0")
echo "$*" >> "$dir/calls.log"
op=$2; shift 2
case "$op" in
get)
    for parm in "$@"; do
        [ "$parm" = power ] && echo "power:$(cat "$dir/power" 2>/dev/null || echo 0)"
    done ;;
set)
    while [ -n "$1" ]; do
        case "$1" in
        power) echo "$2" > "$dir/power" ;;
        shutdown) [ -e "$dir/ignore_soft" ] || echo 0 > "$dir/power" ;;
        esac
        shift 2
    done ;;
esac
exit 0
"""


def _require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    unavailable(f"{', '.join(missing)} not installed (apt-get install openipmi ipmitool)")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Bmc:
    port: int
    dir: Path
    password_file: Path
    proc: subprocess.Popen[bytes]

    @property
    def power(self) -> str:
        p = self.dir / "power"
        return p.read_text().strip() if p.exists() else "0"

    def set_power(self, value: str) -> None:
        (self.dir / "power").write_text(value + "\n")

    def calls(self) -> list[str]:
        log = self.dir / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def ignore_soft(self, ignore: bool = True) -> None:
        flag = self.dir / "ignore_soft"
        if ignore:
            flag.touch()
        elif flag.exists():
            flag.unlink()

    def ipmitool(self, *args: str, password_file: Path | None = None) -> str:
        out = subprocess.run(
            ["ipmitool", "-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", str(self.port)]
            + ["-U", USER, "-f", str(password_file or self.password_file), *args],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return out.stdout + out.stderr


def start_bmc(root: Path, name: str = "bmc") -> Bmc:
    _require("ipmi_sim", "ipmitool")
    d = root / name
    (d / "state").mkdir(parents=True)
    chassis = d / "chassis.sh"
    chassis.write_text(_CHASSIS)
    chassis.chmod(0o755)
    pw = d / "password"
    pw.write_text(PASSWORD + "\n")
    pw.chmod(0o600)
    port = _free_udp_port()
    (d / "lan.conf").write_text(
        f'name "{name}"\n'
        "set_working_mc 0x20\n"
        "startlan 1\n"
        f"  addr 127.0.0.1 {port}\n"
        "  priv_limit admin\n"
        "  allowed_auths_admin md5 straight\n"
        "  guid 0123456789abcdef0123456789abcdef\n"
        "endlan\n"
        f'user 2 true "{USER}" "{PASSWORD}" admin 10 md5 straight\n'
        f'chassis_control "{chassis} 0x20"\n'
    )
    # The BMC itself: an MC at IPMB 0x20 that is the BMC (without it ipmi_sim exits).
    (d / "cmd.conf").write_text(
        "mc_setbmc 0x20\n"
        "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
        "mc_enable 0x20\n"
    )
    proc = subprocess.Popen(
        ["ipmi_sim", "-c", "lan.conf", "-f", "cmd.conf", "-s", "state", "-n"],
        cwd=d,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bmc = Bmc(port, d, pw, proc)
    try:
        wait_started(proc, lambda: "Chassis Power is" in bmc.ipmitool("chassis", "power", "status"),
                     f"ipmi_sim answering on 127.0.0.1:{port}")  # fmt: skip
    except AssertionError:
        stop_bmc(bmc)
        raise
    return bmc


def stop_bmc(bmc: Bmc) -> None:
    if bmc.proc.poll() is None:
        stop_process(bmc.proc, timeout=5)


@pytest.fixture
def bmc(tmp_path: Path) -> Iterator[Bmc]:
    b = start_bmc(tmp_path)
    try:
        yield b
    finally:
        stop_bmc(b)
