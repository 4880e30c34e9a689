"""`wol` settings and the magic packet format (the packet on the wire is in tests/e2e/wol)."""

from __future__ import annotations

import pytest

from clues_py.contracts import PluginContext, PluginError
from plugins.power.wol import WakeOnLanPowerManager, magic_packet, parse_mac

CTX = PluginContext("lab", "wol")


@pytest.mark.parametrize("mac", ["52:54:00:12:34:56", "52-54-00-12-34-56", "525400123456"])
def test_mac_spellings(mac: str) -> None:
    assert parse_mac(mac) == bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])


@pytest.mark.parametrize("mac", ["52:54:00:12:34", "52:54-00:12:34:56", "zz:54:00:12:34:56", ""])
def test_bad_macs(mac: str) -> None:
    with pytest.raises(ValueError, match="not a MAC address"):
        parse_mac(mac)


def test_magic_packet_layout() -> None:
    p = magic_packet("01:02:03:04:05:06")
    assert len(p) == 102
    assert p[:6] == b"\xff" * 6
    assert p[6:] == bytes(range(1, 7)) * 16


def test_config_errors_name_the_key() -> None:
    def pm(**cfg: object) -> None:
        WakeOnLanPowerManager(WakeOnLanPowerManager.Config(**cfg), CTX)  # type: ignore[arg-type]

    with pytest.raises(PluginError, match=r"power.wol.macs.wn-1: 'nope' is not a MAC"):
        pm(macs={"wn-1": "nope"})
    with pytest.raises(PluginError, match=r"power.wol.broadcast"):
        pm(macs={}, broadcast="everyone")
    with pytest.raises(PluginError, match=r"power.wol.port"):
        pm(macs={}, port=70000)
