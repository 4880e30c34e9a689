"""`wol` power manager: Wake-on-LAN to power on, an operator command to power off.

Power-on sends the magic packet (6 x 0xFF then the MAC 16 times) as a UDP
datagram to `broadcast:port` (default 255.255.255.255:9), `repeat` times since
UDP may drop it. Wake-on-LAN cannot switch a machine off, so power-off runs
`off_command` (e.g. `ssh {node} systemctl poweroff`, or an IPMI/PDU script) with
the same environment variables as the `command` manager. `describe` runs
`status_command` when configured, else it reports what the last successful
operation implies (unknown before the first one). Whether the node then joins
the cluster is the backend's observation and the FSM's boot timeout.
"""

from __future__ import annotations

import logging
import re
import socket
from dataclasses import dataclass, field
from typing import Annotated

from clues_py.contracts import (
    DAY,
    HOUR,
    PORT,
    NotImplementedByPlugin,
    OwnedInstance,
    PluginContext,
    PluginError,
    PowerState,
    Range,
)
from clues_py.model import ManagedNode, NodeTemplate

from ._exec import CommandRunner, DerivedState

log = logging.getLogger("clues.power.wol")

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-]?)[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$")


def parse_mac(mac: str) -> bytes:
    """`aa:bb:cc:dd:ee:ff`, `aa-bb-...` or `aabbccddeeff` -> 6 bytes; ValueError otherwise."""
    if not _MAC_RE.match(mac.strip()):
        raise ValueError(f"{mac!r} is not a MAC address (write it like 52:54:00:12:34:56)")
    return bytes.fromhex(re.sub(r"[:-]", "", mac.strip()))


def magic_packet(mac: str | bytes) -> bytes:
    raw = parse_mac(mac) if isinstance(mac, str) else mac
    return b"\xff" * 6 + raw * 16


class WakeOnLanPowerManager:
    @dataclass(frozen=True)
    class Config:
        macs: dict[str, str]  # node name -> MAC address
        broadcast: str = "255.255.255.255"
        port: Annotated[int, Range(*PORT)] = 9
        repeat: Annotated[int, Range(1, 100)] = 3
        off_command: str | list[str] = ""
        status_command: str | list[str] = ""
        timeout: Annotated[float, Range(0.1, DAY)] = 120.0  # for off_command
        status_timeout: Annotated[float, Range(0.1, HOUR)] = 15.0
        shell: bool = False
        env: dict[str, str] = field(default_factory=dict)

    def __init__(self, config: Config, context: PluginContext) -> None:
        where = f"power.{context.instance}"
        self._macs: dict[str, bytes] = {}
        for node, mac in config.macs.items():
            try:
                self._macs[node] = parse_mac(mac)
            except ValueError as exc:
                raise PluginError(f"{where}.macs.{node}: {exc}") from None
        if not 0 < config.port < 65536:
            raise PluginError(f"{where}.port: {config.port} is not a UDP port (1-65535)")
        if config.repeat < 1:
            raise PluginError(f"{where}.repeat: must be >= 1")
        try:
            socket.inet_aton(config.broadcast)
        except OSError:
            raise PluginError(
                f"{where}.broadcast: {config.broadcast!r} is not an IPv4 address "
                "(use the broadcast address of the nodes' subnet, e.g. 192.168.1.255)"
            ) from None

        def runner(command: str | list[str], key: str, timeout: float) -> CommandRunner:
            return CommandRunner(
                command,
                key=key,
                shell=config.shell,
                timeout=timeout,
                env=config.env,
                context=context,
            )

        self._off = runner(config.off_command, "off_command", config.timeout)
        self._status = runner(config.status_command, "status_command", config.status_timeout)
        self._cfg = config
        self._ctx = context
        self._derived = DerivedState()

    def _mac(self, node: str) -> bytes:
        mac = self._macs.get(node)
        if mac is None:
            raise PluginError(
                f"power.{self._ctx.instance}: node {node} has no MAC address; "
                f"add it under power.{self._ctx.instance}.macs"
            )
        return mac

    def power_on(self, node: ManagedNode, template: NodeTemplate) -> str:
        packet = magic_packet(self._mac(node.name))
        target = (self._cfg.broadcast, self._cfg.port)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                for _ in range(self._cfg.repeat):
                    sock.sendto(packet, target)
        except OSError as exc:
            raise PluginError(
                f"power.{self._ctx.instance}: cannot send the magic packet for {node.name} "
                f"to {target[0]}:{target[1]}: {exc}"
            ) from exc
        log.info("wake-on-lan packet for %s sent to %s:%d", node.name, *target)
        self._derived.set(node.name, PowerState.BOOTING)
        return "wol://" + self._mac(node.name).hex(":")

    def power_off(self, node: ManagedNode) -> None:
        if not self._off:
            raise PluginError(
                f"power.{self._ctx.instance}: Wake-on-LAN cannot power {node.name} off; "
                "set `off_command` (e.g. ssh {node} systemctl poweroff)"
            )
        self._off.run_checked("off", node)
        self._derived.set(node.name, PowerState.OFF)

    def describe(self, node: ManagedNode) -> PowerState:
        if not self._status:
            return self._derived.get(node.name)
        return self._status.status(node)

    def list_owned(self) -> list[OwnedInstance]:
        raise NotImplementedByPlugin("wol power manager does not track instances")

    def close(self) -> None:
        pass
