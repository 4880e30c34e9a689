"""Stand-in bare-metal machines for the `command` and `wol` power managers, on loopback.

The "hardware" is one state file per node (`<dir>/state/<node>`, "on" or "off").
`CommandMachines` writes the operator's scripts (on/off/status) that switch and
read it, as a PDU or ssh script would. `WolMachines` is a set of machines whose
network cards listen on a UDP socket of 127.0.0.1: a valid magic packet for a
known MAC switches that node on; power-off is an operator script; the status
script asks the machine over the same socket, so an answer is never older than a
magic packet sent before it (one socket, one queue, one reader).

`StateFileJoinAgent` plays the kubelets: a node whose file says on boots and
registers in the sandbox, one that says off leaves. What clues-py does with all
this (the power managers, the daemon) is under test, not here.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path
from typing import Self

from clues_py.sandbox import Sandbox
from tests.e2e.join_agent import PollingAgent

# Written by rename so that a reader never sees a half-written (empty) file.
_SET = (
    'f="{state}/$CLUES_NODE"\n'
    'echo {value} > "$f.$$" && mv "$f.$$" "$f"\n'
    'echo "{value} $CLUES_NODE" >> "{log}"\n'
)
_STATUS = 'cat "{state}/$CLUES_NODE" 2>/dev/null || echo off\n'
_FAIL = 'echo "pdu 127.0.0.1: outlet for $CLUES_NODE does not answer" >&2\nexit 2\n'
_ASK = """import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(b"status " + os.environ["CLUES_NODE"].encode(), ("127.0.0.1", {port}))
print(s.recv(64).decode())
"""


def _script(path: Path, body: str, interpreter: str = "/bin/sh") -> str:
    path.write_text(f"#!{interpreter}\n{body}")
    path.chmod(0o755)
    return str(path)


class StateFiles:
    """One file per node saying whether the machine is on, plus a log of operations."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "state"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = root / "power.log"

    def power(self, node: str) -> str:
        path = self.dir / node
        return path.read_text().strip() if path.exists() else "off"

    def set(self, node: str, value: str) -> None:
        tmp = self.dir / f".{node}.tmp"
        tmp.write_text(value + "\n")
        os.replace(tmp, self.dir / node)
        with self.log.open("a") as f:
            f.write(f"{value} {node}\n")

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


class CommandMachines(StateFiles):
    """Machines switched by scripts: `on`, `off`, `status` (argv lists) and a failing `on`."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        fmt = {"state": self.dir, "log": self.log}
        self.on = [_script(root / "on.sh", _SET.format(value="on", **fmt))]
        self.off = [_script(root / "off.sh", _SET.format(value="off", **fmt))]
        self.status = [_script(root / "status.sh", _STATUS.format(**fmt))]
        self.broken_on = [_script(root / "broken-on.sh", _FAIL)]


class WolMachines(StateFiles):
    """Machines that wake on a magic packet sent to `port` on 127.0.0.1."""

    def __init__(self, root: Path, macs: dict[str, str]) -> None:
        super().__init__(root)
        self.macs = macs
        self._by_mac = {bytes.fromhex(m.replace(":", "")): n for n, m in macs.items()}
        self.packets: list[str] = []  # node woken by each magic packet, in order
        self.junk: list[bytes] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.05)  # how soon stop() is noticed
        self.port: int = self._sock.getsockname()[1]
        fmt = {"state": self.dir, "log": self.log}
        self.off = [_script(root / "off.sh", _SET.format(value="off", **fmt))]
        self.status = [_script(root / "status.py", _ASK.format(port=self.port), sys.executable)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="wol-machines", daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(2048)
            except TimeoutError:
                continue
            if data.startswith(b"status "):
                self._sock.sendto(self.power(data[7:].decode()).encode(), peer)
                continue
            node = self._by_mac.get(data[6:12])
            if (
                len(data) == 102
                and data[:6] == b"\xff" * 6
                and data[6:] == data[6:12] * 16
                and node
            ):
                self.packets.append(node)
                if self.power(node) != "on":
                    self.set(node, "on")
            else:
                self.junk.append(data)


class StateFileJoinAgent(PollingAgent):
    """A node's file says on -> its sandbox machine boots and registers; off -> it stops."""

    name = "state-file-join-agent"
    interval = 0.05

    def __init__(self, cluster: Sandbox, machines: StateFiles, nodes: list[str]) -> None:
        self.sandbox, self.machines, self.nodes = cluster, machines, nodes
        self.joined: list[str] = []
        self.left: list[str] = []
        super().__init__()

    def step(self) -> None:
        running = {m["name"]: m["state"] for m in self.sandbox.machines.list()}
        for name in self.nodes:
            state, power = running.get(name, "off"), self.machines.power(name)
            if power == "on" and state == "off":
                self.sandbox.machines.power_on(name, cpu="4", memory="8Gi", boot_seconds=0.2)
                self.joined.append(name)
            elif power == "off" and state in ("on", "booting"):
                self.sandbox.machines.power_off(name, shutdown_seconds=0.1)
                self.left.append(name)
