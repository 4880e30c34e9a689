"""`ipmi` power manager: chassis power on/off/status through each node's BMC with ipmitool.

Every call runs `ipmitool -I lanplus -C <cipher> -H host -p port -U user
(-f password_file | -E) chassis power on|soft|off|status`. Passwords never
appear on a command line, in a log line or an error: `password_file` is handed
to ipmitool as a path, `password_env` names a variable of the daemon whose value
is passed to ipmitool as IPMI_PASSWORD (`-E`). Settings are per node, under
`nodes:`, on top of `defaults:`; a `{node}` in a default host is replaced by the
node name (e.g. `{node}-bmc.example.org`).

Power-off asks for a soft (ACPI) shutdown and waits up to `soft_timeout` for the
chassis to report off, then forces it off; `soft_off: false` forces at once.
Whether the node rejoins the cluster after power-on is the backend's concern;
boot timeouts and retries are the FSM's.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field, fields, replace
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

from . import _exec

log = logging.getLogger("clues.power.ipmi")


@dataclass(frozen=True)
class BMC:
    """How to reach one node's BMC; unset fields come from `defaults`."""

    host: str | None = None
    port: Annotated[int, Range(*PORT)] | None = None
    user: str | None = None
    password_file: str | None = None
    password_env: str | None = None


class IPMIPowerManager:
    @dataclass(frozen=True)
    class Config:
        nodes: dict[str, BMC] = field(default_factory=dict)
        defaults: BMC = field(default_factory=BMC)
        ipmitool: str = "ipmitool"
        interface: str = "lanplus"
        cipher_suite: Annotated[int, Range(0, 17)] = 3
        soft_off: bool = True
        # wait this long for a soft shutdown, then force off
        soft_timeout: Annotated[float, Range(0, DAY)] = 120.0
        poll_interval: Annotated[float, Range(0.1, HOUR)] = 2.0
        timeout: Annotated[float, Range(0.1, HOUR)] = 30.0  # per ipmitool call
        # ipmitool's own retransmission (-R) and per-try timeout in seconds (-N).
        retries: Annotated[int, Range(0, 100)] = 2
        retry_timeout: Annotated[int, Range(1, 3600)] = 2

    def __init__(self, config: Config, context: PluginContext) -> None:
        self._where = f"power.{context.instance}"
        self._cfg = config
        self._ctx = context
        if config.soft_timeout < 0 or config.poll_interval <= 0 or config.timeout <= 0:
            raise PluginError(
                f"{self._where}: soft_timeout must be >= 0, poll_interval and timeout > 0"
            )
        if shutil.which(config.ipmitool) is None:
            raise PluginError(
                f"{self._where}.ipmitool: {config.ipmitool!r} not found "
                "(install the Debian/Ubuntu package `ipmitool` or set the path)"
            )
        self._bmcs: dict[str, BMC] = {}
        for node in config.nodes:
            self._bmcs[node] = self._resolve(node, f"{self._where}.nodes.{node}")

    # ------------------------------------------------------------------ settings

    def _resolve(self, node: str, where: str) -> BMC:
        """Node settings over defaults, checked; raises PluginError naming the key to fix."""
        own = self._cfg.nodes.get(node, BMC())
        merged = replace(
            self._cfg.defaults,
            **{f.name: getattr(own, f.name) for f in fields(BMC) if getattr(own, f.name)},
        )
        if own.password_file and not own.password_env:
            merged = replace(merged, password_env=None)
        if own.password_env and not own.password_file:
            merged = replace(merged, password_file=None)
        host = (merged.host or "").replace("{node}", node)
        if not host:
            raise PluginError(
                f"{where}.host: no BMC address for node {node}; set it under "
                f"{self._where}.nodes.{node}.host or {self._where}.defaults.host"
            )
        if not merged.user:
            raise PluginError(f"{where}.user: no BMC user for node {node}")
        port = merged.port or 623
        if not 0 < port < 65536:
            raise PluginError(f"{where}.port: {port} is not a UDP port")
        if merged.password_file:
            if not os.access(merged.password_file, os.R_OK):
                raise PluginError(
                    f"{where}.password_file: {merged.password_file} is missing or unreadable "
                    "(a file holding only the BMC password, mode 0600)"
                )
        elif merged.password_env:
            if merged.password_env not in os.environ:
                raise PluginError(
                    f"{where}.password_env: environment variable {merged.password_env} "
                    "is not set in the daemon's environment"
                )
        else:
            raise PluginError(
                f"{where}: node {node} has no password_file or password_env "
                "(passwords are never written in the config itself)"
            )
        return replace(merged, host=host, port=port)

    def _bmc(self, node: str) -> BMC:
        bmc = self._bmcs.get(node)
        if bmc is None:
            bmc = self._bmcs[node] = self._resolve(node, f"{self._where}.defaults")
        return bmc

    # ------------------------------------------------------------------ ipmitool

    def _ipmitool(self, node: str, *args: str) -> str:
        bmc = self._bmc(node)
        argv = [
            self._cfg.ipmitool,
            "-I",
            self._cfg.interface,
            "-C",
            str(self._cfg.cipher_suite),
            "-N",
            str(self._cfg.retry_timeout),
            "-R",
            str(self._cfg.retries),
            "-H",
            str(bmc.host),
            "-p",
            str(bmc.port),
            "-U",
            str(bmc.user),
        ]
        env: dict[str, str] = {}
        secrets: list[str] = []
        if bmc.password_file:
            argv += ["-f", bmc.password_file]
        else:
            password = os.environ.get(str(bmc.password_env), "")
            env["IPMI_PASSWORD"] = password
            secrets.append(password)
            argv.append("-E")
        argv += args
        what = f"ipmi {' '.join(args)} of {node} (BMC {bmc.host}:{bmc.port})"
        result = _exec.run(argv, what=what, timeout=self._cfg.timeout, env=env, secrets=secrets)
        if result.returncode != 0:
            detail = _exec.redact(_exec.truncate(result.stderr or result.stdout), secrets)
            hint = (
                " (check the BMC address, user and password, and that IPMI over LAN "
                f"with cipher suite {self._cfg.cipher_suite} is enabled)"
                if "session" in detail.lower()
                else ""
            )
            raise PluginError(
                f"{what}: ipmitool exited with {result.returncode}: {detail or 'no output'}{hint}"
            )
        return result.stdout

    def _status(self, node: str) -> PowerState:
        out = self._ipmitool(node, "chassis", "power", "status").strip().lower()
        if out.endswith(" on"):
            return PowerState.ON
        if out.endswith(" off"):
            return PowerState.OFF
        log.warning("ipmi status of %s: unexpected answer %r", node, out[:100])
        return PowerState.UNKNOWN

    # ------------------------------------------------------------------ contract

    def power_on(self, node: ManagedNode, template: NodeTemplate) -> str:
        self._ipmitool(node.name, "chassis", "power", "on")
        bmc = self._bmc(node.name)
        return f"ipmi://{bmc.host}:{bmc.port}"

    def power_off(self, node: ManagedNode) -> None:
        if self._cfg.soft_off:
            if self._status(node.name) == PowerState.OFF:
                return
            self._ipmitool(node.name, "chassis", "power", "soft")
            deadline = time.monotonic() + self._cfg.soft_timeout
            while time.monotonic() < deadline:
                time.sleep(self._cfg.poll_interval)
                if self._status(node.name) == PowerState.OFF:
                    log.info("ipmi: %s shut down softly", node.name)
                    return
            log.warning(
                "ipmi: %s still on %.0f s after a soft shutdown; forcing power off",
                node.name,
                self._cfg.soft_timeout,
            )
        self._ipmitool(node.name, "chassis", "power", "off")

    def describe(self, node: ManagedNode) -> PowerState:
        return self._status(node.name)

    def list_owned(self) -> list[OwnedInstance]:
        raise NotImplementedByPlugin("ipmi power manager powers fixed machines; nothing to own")

    def close(self) -> None:
        pass
