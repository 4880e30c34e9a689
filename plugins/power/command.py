"""`command` power manager: the operator's own scripts power nodes on and off.

Each operation runs a configured command (an argv list, or a string split like a
shell would, without running a shell unless `shell: true`) with the node in
environment variables: CLUES_NODE, CLUES_TEMPLATE, CLUES_PROVIDER_ID,
CLUES_CLUSTER, CLUES_OPERATION, plus `env:` from the config. `{node}`,
`{template}`, `{provider_id}` and `{cluster}` in arguments are replaced too.

A non-zero exit or a timeout is a PluginError carrying the (truncated) stderr,
which the actuator logs and stores with the action. The status command answers
with its first word of stdout (on/off/booting/stopping/unknown and synonyms) or,
if it prints nothing recognisable, with its exit code (0 = on, 1 = off; anything
else is an error). Without a status command the state is derived from the last
command that succeeded. Retrying and timeouts of the node itself are the FSM's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from clues_py.contracts import (
    DAY,
    HOUR,
    NotImplementedByPlugin,
    OwnedInstance,
    PluginContext,
    PluginError,
    PowerState,
    Range,
)
from clues_py.model import ManagedNode, NodeTemplate

from ._exec import CommandRunner, DerivedState


class CommandPowerManager:
    @dataclass(frozen=True)
    class Config:
        on_command: str | list[str]
        off_command: str | list[str]
        status_command: str | list[str] = ""
        timeout: Annotated[float, Range(0.1, DAY)] = 120.0  # for on/off commands
        status_timeout: Annotated[float, Range(0.1, HOUR)] = 15.0
        shell: bool = False  # run string commands through /bin/sh -c
        env: dict[str, str] = field(default_factory=dict)
        provider_id: str = "command://{node}"

    def __init__(self, config: Config, context: PluginContext) -> None:
        where = f"power.{context.instance}"
        for key in ("on_command", "off_command"):
            if not getattr(config, key):
                raise PluginError(f"{where}.{key}: must not be empty (the command to run)")
        for key in ("timeout", "status_timeout"):
            if getattr(config, key) <= 0:
                raise PluginError(f"{where}.{key}: must be > 0 seconds")

        def runner(command: str | list[str], key: str, timeout: float) -> CommandRunner:
            return CommandRunner(
                command,
                key=key,
                shell=config.shell,
                timeout=timeout,
                env=config.env,
                context=context,
            )

        self._on = runner(config.on_command, "on_command", config.timeout)
        self._off = runner(config.off_command, "off_command", config.timeout)
        self._status = runner(config.status_command, "status_command", config.status_timeout)
        self._cfg = config
        self._ctx = context
        self._derived = DerivedState()

    def power_on(self, node: ManagedNode, template: NodeTemplate) -> str:
        self._on.run_checked("on", node, template.name)
        self._derived.set(node.name, PowerState.ON)
        return self._cfg.provider_id.replace("{node}", node.name)

    def power_off(self, node: ManagedNode) -> None:
        self._off.run_checked("off", node)
        self._derived.set(node.name, PowerState.OFF)

    def describe(self, node: ManagedNode) -> PowerState:
        if not self._status:
            return self._derived.get(node.name)
        return self._status.status(node)

    def list_owned(self) -> list[OwnedInstance]:
        raise NotImplementedByPlugin("command power manager does not track instances")

    def close(self) -> None:
        pass
