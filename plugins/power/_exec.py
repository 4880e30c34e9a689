"""Running operator commands for the bare-metal power managers (command, wol, ipmi).

A private helper, not a plugin: it turns a configured command (argv list or a
shlex-split string, or a shell line when asked) into a subprocess with a
timeout that kills the whole process group, and turns failures into
`PluginError`s whose text is safe to log and store (stderr truncated, secrets
redacted). What a command means (on, off, status) is left to the plugins.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from clues_py.contracts import PluginContext, PluginError, PowerState
from clues_py.model import ManagedNode

log = logging.getLogger("clues.power.exec")

# Enough of stderr to diagnose, little enough for a log line and a store row.
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def to_argv(command: str | Sequence[str], *, shell: bool = False) -> list[str]:
    """An argv list: lists are kept, strings are shlex-split (or run by /bin/sh with shell)."""
    if isinstance(command, str):
        if shell:
            return ["/bin/sh", "-c", command]
        return shlex.split(command)
    return [str(a) for a in command]


def substitute(argv: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Replace `{node}`, `{template}`... in each argument; other braces are left alone."""
    out = []
    for arg in argv:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", value)
        out.append(arg)
    return out


def redact(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def truncate(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more chars)"


def run(
    argv: Sequence[str],
    *,
    what: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> Result:
    """Run `argv` to completion; PluginError if it cannot start or exceeds `timeout`.

    A non-zero exit is returned, not raised: for a status command it is an answer.
    `what` names the operation for messages ("power on of wn-1").
    """
    if not argv:
        raise PluginError(f"{what}: empty command")
    full_env = {**os.environ, **(env or {})}
    try:
        # A new session so a timeout kills the script *and* what it started (sleep, ssh...);
        # killing only the child would leave grandchildren holding the pipes open.
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            start_new_session=True,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise PluginError(
            f"{what}: cannot run {argv[0]!r}: {exc.strerror or exc} "
            "(is it installed and executable? commands run without a shell unless `shell: true`)"
        ) from exc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        raise PluginError(
            f"{what}: {argv[0]} timed out after {timeout:g} s and was killed"
            + (f"; stderr: {redact(truncate(err), secrets)}" if err.strip() else "")
        ) from None
    return Result(proc.returncode, out, err)


def check(result: Result, what: str, program: str, secrets: Iterable[str] = ()) -> Result:
    """Raise PluginError for a non-zero exit, with its (truncated, redacted) stderr."""
    if result.returncode != 0:
        detail = truncate(result.stderr) or truncate(result.stdout) or "no output"
        raise PluginError(
            f"{what}: {program} exited with {result.returncode}: {redact(detail, secrets)}"
        )
    return result


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


_WORDS = {
    "on": PowerState.ON,
    "running": PowerState.ON,
    "up": PowerState.ON,
    "off": PowerState.OFF,
    "stopped": PowerState.OFF,
    "down": PowerState.OFF,
    "booting": PowerState.BOOTING,
    "starting": PowerState.BOOTING,
    "stopping": PowerState.STOPPING,
    "unknown": PowerState.UNKNOWN,
}


def parse_status(
    result: Result, what: str, program: str, secrets: Iterable[str] = ()
) -> PowerState:
    """stdout's first word wins; else exit 0 = on, 1 = off; else PluginError."""
    words = result.stdout.split()
    if words and words[0].lower() in _WORDS:
        return _WORDS[words[0].lower()]
    if result.returncode == 0:
        return PowerState.ON
    if result.returncode == 1:
        return PowerState.OFF
    check(result, what, program, secrets)
    return PowerState.UNKNOWN  # pragma: no cover - check() raised


class CommandRunner:
    """Runs one configured command for a node; shared by `command` and `wol`."""

    def __init__(
        self,
        command: str | list[str],
        *,
        key: str,
        shell: bool,
        timeout: float,
        env: Mapping[str, str],
        context: PluginContext,
    ) -> None:
        self.key = key
        try:
            self.argv = to_argv(command, shell=shell) if command else []
        except ValueError as exc:  # shlex: unbalanced quotes
            raise PluginError(
                f"power.{context.instance}.{key}: cannot split {command!r}: {exc}"
            ) from None
        self.timeout = timeout
        self.env = dict(env)
        self.ctx = context
        self.program = "sh -c" if shell else (self.argv or [""])[0]
        # Values from `env:` may be secrets: they never reach a log line or an error.
        self.secrets = [v for v in self.env.values() if len(v) >= 4]

    def __bool__(self) -> bool:
        return bool(self.argv)

    def run(
        self, operation: str, node: ManagedNode, template: str = "", provider_id: str = ""
    ) -> Result:
        values = {
            "node": node.name,
            "template": template or node.template,
            "provider_id": provider_id or node.provider_id or "",
            "cluster": self.ctx.cluster_name,
        }
        env = {
            **self.env,
            "CLUES_NODE": values["node"],
            "CLUES_TEMPLATE": values["template"],
            "CLUES_PROVIDER_ID": values["provider_id"],
            "CLUES_CLUSTER": values["cluster"],
            "CLUES_OPERATION": operation,
        }
        what = self.what(operation, node)
        log.debug("%s: running %s", what, self.program)
        return run(
            substitute(self.argv, values),
            what=what,
            timeout=self.timeout,
            env=env,
            secrets=self.secrets,
        )

    def what(self, operation: str, node: ManagedNode) -> str:
        return f"power.{self.ctx.instance}.{self.key} ({operation} {node.name})"

    def run_checked(self, operation: str, node: ManagedNode, template: str = "") -> Result:
        result = self.run(operation, node, template)
        return check(result, self.what(operation, node), self.program, self.secrets)

    def status(self, node: ManagedNode) -> PowerState:
        result = self.run("status", node)
        return parse_status(result, self.what("status", node), self.program, self.secrets)


class DerivedState:
    """What the last successful command says, for managers without a status command."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, PowerState] = {}

    def set(self, node: str, state: PowerState) -> None:
        with self._lock:
            self._state[node] = state

    def get(self, node: str) -> PowerState:
        with self._lock:
            return self._state.get(node, PowerState.UNKNOWN)
