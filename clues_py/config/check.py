"""Validation of composed YAML data against the schema, with file:line:col positions.

`_Positions` maps each key path to the place of its key and of its value; `_Checker` walks
the raw data section by section against the `Key` tables of `clues_py.config.schema`,
collecting every problem as a `ConfigIssue` (nothing is raised here) and building the typed
settings of the daemon, leader-election, hooks and plugin sections. Templates are checked by
`clues_py.config.templates`; reading and composing the YAML, assembling the whole `Config`
and raising `ConfigError` are left to `clues_py.config.load`; plugin options to
`clues_py.plugins`.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clues_py.config.bounds import (
    TYPE_NAMES,
    pattern_problem,
    range_problem,
    show,
    type_problem,
)
from clues_py.config.schema import (
    _DAEMON,
    _HOOK,
    _LEADER,
    HOOK_EVENTS,
    LOG_LEVELS,
    ConfigIssue,
    DaemonConfig,
    HookConfig,
    Key,
    LeaderElectionConfig,
    PluginSpec,
)

Path_ = tuple[str | int, ...]
Mark = tuple[int, int]  # (line, column), both from 1
MAX_ISSUES = 100
# Names of power instances: referenced by templates, shown in metrics labels and logs.
_INSTANCE_RE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


@dataclass
class _Positions:
    keys: dict[Path_, Mark] = field(default_factory=dict)  # where the key is
    values: dict[Path_, Mark] = field(default_factory=dict)  # where the value starts


def _leaf(path: Path_) -> str:
    """The key a scalar lives under; scalars are looked up by name, never by list index."""
    name = path[-1]
    if not isinstance(name, str):
        raise TypeError(f"internal error: scalar path {_fmt(path)} must end in a key name")
    return name


def _fmt(path: Path_) -> str:
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else str(p))
    return s


MORE_NOT_SHOWN = "more problems not shown"


def in_file_order(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """Issues by line and column; the "N more problems not shown" line stays last."""
    return sorted(issues, key=lambda i: (i.message.endswith(MORE_NOT_SHOWN), i.line, i.column))


class _Checker:
    def __init__(self, source: str, pos: _Positions) -> None:
        self.source = source
        self.pos = pos
        self.issues: list[ConfigIssue] = []
        self.dropped = 0

    def all_issues(self) -> list[ConfigIssue]:
        """The issues, and one line saying how many more were not recorded."""
        if not self.dropped:
            return self.issues
        more = ConfigIssue(self.source, 1, "", f"{self.dropped} {MORE_NOT_SHOWN}",
                           "fix the ones above first", 1)  # fmt: skip
        return [*self.issues, more]

    def mark(self, path: Path_, at_key: bool = False) -> Mark:
        """Where `path` is written; its nearest written ancestor when it is not (a missing
        key is reported at the mapping that lacks it)."""
        table = self.pos.keys if at_key else self.pos.values
        while path:
            if path in table:
                return table[path]
            if path in self.pos.values:
                return self.pos.values[path]
            path = path[:-1]
        return self.pos.values.get((), (0, 0))

    def line(self, path: Path_, at_key: bool = False) -> int:
        return self.mark(path, at_key)[0]

    def err(self, path: Path_, message: str, hint: str = "", at_key: bool = False) -> None:
        if len(self.issues) >= MAX_ISSUES:  # a file of 3,000 unknown keys needs no 3,000 lines
            self.dropped += 1
            return
        line, col = self.mark(path, at_key)
        self.issues.append(ConfigIssue(self.source, line, _fmt(path), message, hint, col))

    # -- generic checks

    def mapping(self, raw: Any, path: Path_, allowed: Sequence[str] | None) -> dict[Any, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.err(path, f"expected a mapping, got {type(raw).__name__} {show(raw)}")
            return {}
        for k in raw:
            if not isinstance(k, str):
                self.err((*path, str(k)), f"keys must be strings, got {show(k)}", at_key=True)
            elif allowed is not None and k not in allowed:
                if len(self.issues) >= MAX_ISSUES:
                    self.dropped += 1
                    continue
                close = difflib.get_close_matches(k, allowed, n=1, cutoff=0.6)
                hint = (
                    f"did you mean {close[0]!r}?" if close else "valid keys: " + ", ".join(allowed)
                )
                self.err((*path, k), "unknown key", hint, at_key=True)
        return raw

    def scalar(self, raw: Mapping[str, Any], path: Path_, key: Key) -> Any:
        name = _leaf(path)
        if name not in raw:
            if key.default is None and not key.nullable:
                self.err(path, "missing required key", at_key=True)
            return key.default
        v = raw[name]
        if v is None:
            if key.nullable:
                return None
            self.err(path, f"must be {TYPE_NAMES[key.type]}, got null")
            return key.default
        if problem := type_problem(v, key.type):
            hint = "quote it" if key.type == "str" and isinstance(v, int | float | bool) else ""
            if key.type in ("int", "float") and isinstance(v, str) and _looks_numeric(v):
                hint = "YAML reads 1e3 as text: write 1000 or 1.0e+3"
            self.err(path, problem, hint)
            return key.default
        if key.type in ("int", "float"):
            # Bounds first: a 400-digit integer must not reach float().
            if problem := range_problem(v, key.min, key.max):
                self.err(path, problem)
                return key.default
            if key.type == "float":
                v = float(v)
        elif key.type == "str" and (problem := pattern_problem(v, key.pattern, key.max_len)):
            self.err(path, problem, key.hint)
            return key.default
        return v

    def scalars(
        self, raw: Mapping[str, Any], path: Path_, specs: Mapping[str, Key]
    ) -> dict[str, Any]:
        return {k: self.scalar(raw, (*path, k), s) for k, s in specs.items()}

    # -- sections

    def plugin(self, raw: Any, path: Path_, instance: str, default_kind: str = "") -> PluginSpec:
        line, col = self.mark(path)
        if isinstance(raw, str):  # list shorthand: `- least-waste`
            raw = {"kind": raw}
        m = self.mapping(raw, path, None)
        kind = m.get("kind", default_kind)
        if not isinstance(kind, str) or not kind:
            self.err((*path, "kind"), "missing or empty plugin kind", at_key="kind" in m)
            kind = ""
        options = {k: v for k, v in m.items() if k != "kind" and isinstance(k, str)}
        # Key places of the options (and of `kind`) for the plugin loader's messages.
        marks = {k: self.mark((*path, k), at_key=True) for k in m if isinstance(k, str)}
        return PluginSpec(
            kind,
            options,
            f"{self.source}:{line}",
            instance,
            _fmt(path),
            {k: mk[0] for k, mk in marks.items()},
            {k: mk[1] for k, mk in marks.items()},
            col,
        )

    def instance_name(self, name: str, path: Path_) -> bool:
        if len(name) <= 63 and _INSTANCE_RE.fullmatch(name):
            return True
        self.err(path, f"not a valid power instance name: {show(name)}",
                 "letters, digits, '-', '_' and '.', at most 63 characters", at_key=True)  # fmt: skip
        return False

    def daemon(self, raw: Any) -> DaemonConfig:
        m = self.mapping(raw, ("daemon",), tuple(_DAEMON))
        v = self.scalars(m, ("daemon",), _DAEMON)
        if isinstance(v["log_level"], str):
            v["log_level"] = v["log_level"].upper()
            if v["log_level"] not in LOG_LEVELS:
                self.err(("daemon", "log_level"), f"unknown level {show(m['log_level'])}",
                         "use one of " + ", ".join(LOG_LEVELS))  # fmt: skip
        if problem := _listen_problem(v["listen"]):
            self.err(("daemon", "listen"), problem,
                     "use HOST:PORT such as 127.0.0.1:8484, or unix:/run/clues/clues.sock")  # fmt: skip
        elif not str(v["listen"]).startswith("unix:") and v["token_file"] is None:
            self.err(("daemon", "listen"), f"TCP listener {v['listen']} needs daemon.token_file",
                     "set token_file to a 0600 file holding a random token, "
                     "or listen on unix:/run/clues/clues.sock")  # fmt: skip
        metrics = v["metrics_listen"]
        if isinstance(metrics, str) and (metrics.startswith("unix:") or _listen_problem(metrics)):
            self.err(("daemon", "metrics_listen"), f"not a TCP listen address: {show(metrics)}",
                     "Prometheus scrapes HOST:PORT such as 127.0.0.1:9484; null disables /metrics")  # fmt: skip
        if isinstance(v["token_file"], str) and (problem := _token_file_problem(v["token_file"])):
            self.err(("daemon", "token_file"), problem, "chmod 600 it; it is a secret")
        return DaemonConfig(**v)

    def leader_election(self, raw: Any) -> LeaderElectionConfig:
        m = self.mapping(raw, ("leader_election",), tuple(_LEADER))
        v = self.scalars(m, ("leader_election",), _LEADER)
        if v["renew_deadline"] >= v["lease_duration"]:
            self.err(("leader_election", "renew_deadline"),
                     f"must be < lease_duration ({v['lease_duration']:g})")  # fmt: skip
        if v["retry_period"] >= v["renew_deadline"]:
            self.err(("leader_election", "retry_period"),
                     f"must be < renew_deadline ({v['renew_deadline']:g})")  # fmt: skip
        return LeaderElectionConfig(**v)

    def hooks(self, raw: Any) -> dict[str, HookConfig]:
        out: dict[str, HookConfig] = {}
        for event, spec in self.mapping(raw, ("hooks",), HOOK_EVENTS).items():
            if event not in HOOK_EVENTS:
                continue
            p: Path_ = ("hooks", event)
            if isinstance(spec, str | list):  # shorthand: `on_idle: /usr/local/bin/notify`
                spec = {"command": spec}
            m = self.mapping(spec, p, ("command", *_HOOK))
            cmd = m.get("command")
            command: str | tuple[str, ...]
            if isinstance(cmd, str) and cmd.strip():
                command = cmd
                if not m.get("shell") and (problem := _split_problem(cmd)):
                    self.err((*p, "command"), problem, "balance the quotes, or set shell: true")
            elif isinstance(cmd, list) and cmd and all(isinstance(a, str) for a in cmd):
                command = tuple(cmd)
            else:
                self.err((*p, "command"), f"expected a command, got {show(cmd)}",
                         "a string or a list of arguments, e.g. [/usr/local/bin/notify, --all]",
                         at_key="command" in m)  # fmt: skip
                continue
            if "cancel_on_failure" in m and not event.startswith("pre_"):
                self.err((*p, "cancel_on_failure"), "only pre_power_on and pre_power_off "
                         "hooks can cancel an operation", "remove it", at_key=True)  # fmt: skip
            out[event] = HookConfig(command, **self.scalars(m, p, _HOOK))
        return out


def _token_file_problem(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot read token file {path}: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"token file {path} is not a regular file"
    if st.st_mode & 0o077:
        return f"token file {path} has mode {stat.S_IMODE(st.st_mode):04o}; it must be 0600"
    return ""


def _split_problem(command: str) -> str:
    try:
        shlex.split(command)
    except ValueError as exc:
        return f"cannot split {show(command)} into arguments: {exc}"
    return ""


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _listen_problem(listen: str) -> str:
    if listen.startswith("unix:"):
        return (
            ""
            if listen[5:].startswith("/")
            else f"unix socket path must be absolute: {show(listen)}"
        )
    host, sep, port = listen.rpartition(":")
    if not sep or not host or host in ("[]",):
        return f"not a listen address: {show(listen)}"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        return f"bad port in {show(listen)}"
    return ""
