"""How long a container's command runs and how it exits, read from the command line itself.

The sandbox runs no processes; it understands the commands that make up most test
and batch manifests: `sleep N` (N in seconds or with s/m/h/d, `infinity`), `true`,
`false`, `:`, `echo ...`, and shell scripts (`sh -c "...; sleep N"`, `bash -ec`,
`/bin/sh -c 'echo x && sleep 5 || exit 3'`) made of those joined by `;`, `&&`, `||`
and newlines, with `exit N`. Anything else runs for the caller's default duration
(None: forever). Pure; the kubelet (`kubelet.py`, via `podlife.py`) uses the result.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox-sh"})
_SLEEP_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SLEEP_ARG = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$")
# Split a script into simple commands, keeping the operator that precedes each.
_OPERATORS = re.compile(r"(&&|\|\||;|\n)")
_QUICK = frozenset(
    {"echo", "printf", "true", ":", "cd", "export", "set", "date", "env", "hostname"}
)
_KNOWN = _QUICK | SHELLS | {"sleep", "false", "exit"}


@dataclass(frozen=True, slots=True)
class Run:
    """What a command does: runs `seconds` (None: never ends), then exits with `code`."""

    seconds: float | None
    code: int = 0


def _sleep(args: Sequence[str]) -> float | None:
    """`sleep` adds up its arguments (GNU); `infinity` never returns; bad args fail at once."""
    total = 0.0
    for a in args:
        if a in ("inf", "infinity"):
            return None
        m = _SLEEP_ARG.match(a)
        if m is None:
            return -1.0
        total += float(m.group(1)) * _SLEEP_UNITS[m.group(2)]
    return total if args else -1.0


def _simple(argv: Sequence[str], default: float | None) -> tuple[float | None, int, bool]:
    """(seconds, exit code, exits the shell?) of one simple command."""
    if not argv:
        return 0.0, 0, False
    name = argv[0].rsplit("/", 1)[-1]
    if name == "exit":
        try:
            return 0.0, int(argv[1]) % 256 if len(argv) > 1 else 0, True
        except ValueError:
            return 0.0, 2, True
    if name == "sleep":
        secs = _sleep(argv[1:])
        if secs is not None and secs < 0:
            return 0.0, 1, False  # "sleep: invalid time interval"
        return secs, 0, False
    if name == "false":
        return 0.0, 1, False
    if name in _QUICK:
        return 0.0, 0, False
    if name in SHELLS:
        run = script_of(argv, default)
        return run.seconds, run.code, False
    return default, 0, False


def _run_script(script: str, default: float | None) -> Run:
    parts = _OPERATORS.split(script)
    total = 0.0
    code = 0
    op = ";"
    for i in range(0, len(parts), 2):
        text = parts[i].strip()
        if text and not text.startswith("#"):
            skip = (op == "&&" and code != 0) or (op == "||" and code == 0)
            if not skip:
                try:
                    argv = shlex.split(text, comments=True)
                except ValueError:
                    argv = text.split()
                secs, code, leaves = _simple(argv, default)
                if secs is None:
                    return Run(None, 0)
                total += secs
                if leaves:
                    return Run(total, code)
        op = parts[i + 1] if i + 1 < len(parts) else ";"
        if op == "\n":
            op = ";"
    return Run(total, code)


def script_of(argv: Sequence[str], default: float | None) -> Run:
    """What a shell invocation (`sh -c SCRIPT`, `bash -ec SCRIPT`) does; other shells: default."""
    for i, a in enumerate(argv[1:], start=1):
        if a.startswith("-") and not a.startswith("--") and "c" in a[1:]:
            if i + 1 < len(argv):
                return _run_script(argv[i + 1], default)
            return Run(0.0, 2)
    return Run(default, 0)


def run_of(command: Sequence[str] | None, args: Sequence[str] | None, default: float | None) -> Run:
    """What a container with this `command` and `args` does (the image's entrypoint: default)."""
    argv = [str(a) for a in (command or ())] + [str(a) for a in (args or ())]
    if not argv:
        return Run(default, 0)
    if not command and argv[0].rsplit("/", 1)[-1] not in _KNOWN:
        # Only args: they go to the image's entrypoint, which the sandbox cannot know;
        # images without one (busybox, alpine) run them as the command, handled below.
        return Run(default, 0)
    secs, code, _ = _simple(argv, default)
    return Run(secs, code)
