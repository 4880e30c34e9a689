"""`wol` on the wire: the magic packet arrives on a UDP socket of 127.0.0.1; power-off and
status run the operator's real scripts. Nothing is sent anywhere but loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from clues_py.contracts import PluginContext, PluginError, PowerState
from clues_py.model import ManagedNode, NodeState, NodeTemplate, Resources
from plugins.power.wol import WakeOnLanPowerManager

TEMPLATE = NodeTemplate(name="pc", resources=Resources(2000, 4 << 30), power="wol")
MAC = "52:54:00:ab:cd:ef"


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    try:
        yield sock
    finally:
        sock.close()


def _node(name: str = "pc-1") -> ManagedNode:
    return ManagedNode(name=name, template="pc", state=NodeState.OFF, since=0.0)


def _pm(port: int, **cfg: object) -> WakeOnLanPowerManager:
    config = WakeOnLanPowerManager.Config(
        macs={"pc-1": MAC},
        broadcast="127.0.0.1",
        port=port,
        **cfg,  # type: ignore[arg-type]
    )
    return WakeOnLanPowerManager(config, PluginContext("lab", "wol", {"pc": TEMPLATE}))


def test_magic_packet_bytes_on_the_wire(receiver: socket.socket) -> None:
    port = receiver.getsockname()[1]
    pid = _pm(port, repeat=2).power_on(_node(), TEMPLATE)
    assert pid == "wol://52:54:00:ab:cd:ef"
    expected = b"\xff" * 6 + bytes.fromhex("525400abcdef") * 16
    for _ in range(2):
        data, (host, _) = receiver.recvfrom(2048)
        assert host == "127.0.0.1"
        assert data == expected


def test_unknown_node_has_no_mac(receiver: socket.socket) -> None:
    with pytest.raises(PluginError, match="pc-9 has no MAC address; add it under power.wol.macs"):
        _pm(receiver.getsockname()[1]).power_on(_node("pc-9"), TEMPLATE)


def test_power_off_runs_off_command_and_status_command(
    receiver: socket.socket, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    off = tmp_path / "off.sh"
    off.write_text(f'#!/bin/sh\necho off > {state}\necho "$CLUES_NODE" >> {state}.log\n')
    status = tmp_path / "status.sh"
    status.write_text(f"#!/bin/sh\ncat {state} 2>/dev/null || echo on\n")
    for s in (off, status):
        s.chmod(0o755)
    pm = _pm(receiver.getsockname()[1], off_command=str(off), status_command=[str(status)])
    pm.power_on(_node(), TEMPLATE)
    assert pm.describe(_node()) == PowerState.ON
    pm.power_off(_node())
    assert pm.describe(_node()) == PowerState.OFF
    assert (tmp_path / "state.log").read_text() == "pc-1\n"


def test_power_off_without_off_command_is_a_clear_error(receiver: socket.socket) -> None:
    pm = _pm(receiver.getsockname()[1])
    with pytest.raises(PluginError, match="set `off_command`"):
        pm.power_off(_node())
    # Without a status command the state follows what we did.
    assert pm.describe(_node()) == PowerState.UNKNOWN
    pm.power_on(_node(), TEMPLATE)
    assert pm.describe(_node()) == PowerState.BOOTING
