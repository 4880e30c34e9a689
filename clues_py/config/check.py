"""Validation of composed YAML data against the schema, with file:line positions.

`_Positions` maps each key path to the line of its key and of its value; `_Checker` walks the
raw data section by section against the tables of `clues_py.config.schema`, collecting every
problem as a `ConfigIssue` (nothing is raised here) and building the typed settings. Reading
and composing the YAML, assembling the whole `Config` and raising `ConfigError` are left to
`clues_py.config.load`; plugin options are left to `clues_py.plugins`.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import stat
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clues_py.config.names import NodeNameError, expand_node_names
from clues_py.config.schema import (
    _DAEMON,
    _HOOK,
    _LEADER,
    _TEMPLATE,
    _TEMPLATE_KEYS,
    _TYPE_NAMES,
    HOOK_EVENTS,
    LOG_LEVELS,
    TAINT_EFFECTS,
    ConfigIssue,
    DaemonConfig,
    HookConfig,
    LeaderElectionConfig,
    PluginSpec,
)
from clues_py.model import NodeTemplate, QuantityError, Resources, Taint, cpu_millis, to_int

Path_ = tuple[str | int, ...]
_CLUSTER_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass
class _Positions:
    keys: dict[Path_, int] = field(default_factory=dict)  # line of the key
    values: dict[Path_, int] = field(default_factory=dict)  # line where the value starts


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


class _Checker:
    def __init__(self, source: str, pos: _Positions) -> None:
        self.source = source
        self.pos = pos
        self.issues: list[ConfigIssue] = []

    def line(self, path: Path_, at_key: bool = False) -> int:
        table = self.pos.keys if at_key else self.pos.values
        while path:
            if path in table:
                return table[path]
            if path in self.pos.values:
                return self.pos.values[path]
            path = path[:-1]
        return self.pos.values.get((), 0)

    def err(self, path: Path_, message: str, hint: str = "", at_key: bool = False) -> None:
        issue = ConfigIssue(self.source, self.line(path, at_key), _fmt(path), message, hint)
        self.issues.append(issue)

    # -- generic checks

    def mapping(self, raw: Any, path: Path_, allowed: Sequence[str] | None) -> dict[Any, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.err(path, f"expected a mapping, got {type(raw).__name__} {raw!r}")
            return {}
        for k in raw:
            if not isinstance(k, str):
                self.err((*path, str(k)), f"keys must be strings, got {k!r}", at_key=True)
            elif allowed is not None and k not in allowed:
                close = difflib.get_close_matches(k, allowed, n=1, cutoff=0.6)
                hint = (
                    f"did you mean {close[0]!r}?" if close else "valid keys: " + ", ".join(allowed)
                )
                self.err((*path, k), "unknown key", hint, at_key=True)
        return raw

    def scalar(self, raw: Mapping[str, Any], path: Path_, spec: tuple[Any, ...]) -> Any:
        kind, default, minimum, nullable = spec
        name = _leaf(path)
        if name not in raw:
            if default is None and not nullable:
                self.err(path, "missing required key", at_key=True)
            return default
        v = raw[name]
        if v is None:
            if nullable:
                return None
            self.err(path, f"must be {_TYPE_NAMES[kind]}, got null")
            return default
        ok = {
            "int": isinstance(v, int) and not isinstance(v, bool),
            "float": isinstance(v, int | float) and not isinstance(v, bool),
            "bool": isinstance(v, bool),
            "str": isinstance(v, str),
        }[kind]
        if not ok:
            hint = "quote it" if kind == "str" and isinstance(v, int | float | bool) else ""
            self.err(path, f"must be {_TYPE_NAMES[kind]}, got {v!r}", hint)
            return default
        if kind == "float":
            v = float(v)
            if v != v or v in (float("inf"), float("-inf")):
                self.err(path, f"must be a finite number, got {v!r}")
                return default
        if minimum is not None and v < minimum:
            self.err(path, f"must be >= {minimum:g}, got {v!r}")
            return default
        return v

    def scalars(
        self, raw: Mapping[str, Any], path: Path_, specs: Mapping[str, tuple[Any, ...]]
    ) -> dict[str, Any]:
        return {k: self.scalar(raw, (*path, k), s) for k, s in specs.items()}

    # -- sections

    def plugin(self, raw: Any, path: Path_, instance: str, default_kind: str = "") -> PluginSpec:
        where = f"{self.source}:{self.line(path)}"
        if isinstance(raw, str):  # list shorthand: `- least-waste`
            raw = {"kind": raw}
        m = self.mapping(raw, path, None)
        kind = m.get("kind", default_kind)
        if not isinstance(kind, str) or not kind:
            self.err((*path, "kind"), "missing or empty plugin kind", at_key="kind" in m)
            kind = ""
        options = {k: v for k, v in m.items() if k != "kind" and isinstance(k, str)}
        # Key lines of the options (and of `kind`) for the plugin loader's messages.
        lines = {k: self.line((*path, k), at_key=True) for k in m if isinstance(k, str)}
        return PluginSpec(kind, options, where, instance, _fmt(path), lines)

    def daemon(self, raw: Any) -> DaemonConfig:
        m = self.mapping(raw, ("daemon",), tuple(_DAEMON))
        v = self.scalars(m, ("daemon",), _DAEMON)
        if isinstance(v["log_level"], str):
            v["log_level"] = v["log_level"].upper()
            if v["log_level"] not in LOG_LEVELS:
                self.err(("daemon", "log_level"), f"unknown level {m['log_level']!r}",
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
            self.err(("daemon", "metrics_listen"), f"not a TCP listen address: {metrics!r}",
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
        for key in ("lease_name", "namespace"):
            if isinstance(v[key], str) and not _CLUSTER_RE.match(v[key]):
                self.err(("leader_election", key), f"not a valid Kubernetes name: {v[key]!r}",
                         "lowercase letters, digits and '-'")  # fmt: skip
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
                self.err((*p, "command"), f"expected a command, got {cmd!r}",
                         "a string or a list of arguments, e.g. [/usr/local/bin/notify, --all]",
                         at_key="command" in m)  # fmt: skip
                continue
            if "cancel_on_failure" in m and not event.startswith("pre_"):
                self.err((*p, "cancel_on_failure"), "only pre_power_on and pre_power_off "
                         "hooks can cancel an operation", "remove it", at_key=True)  # fmt: skip
            out[event] = HookConfig(command, **self.scalars(m, p, _HOOK))
        return out

    def quantity(self, raw: Mapping[str, Any], path: Path_, hint: str) -> int:
        name = _leaf(path)
        if name not in raw:
            self.err(path, "missing required key", hint, at_key=True)
            return 0
        v = raw[name]
        try:
            if isinstance(v, bool) or v is None:
                raise QuantityError(v)
            n = cpu_millis(v) if name == "cpu" else to_int(v)
        except QuantityError:
            self.err(path, f"not a Kubernetes quantity: {v!r}", hint)
            return 0
        if n <= 0:
            self.err(path, f"must be positive, got {v!r}", hint)
        return n

    def template(self, raw: Any, path: Path_, power: Mapping[str, PluginSpec]) -> NodeTemplate:
        m = self.mapping(raw, path, _TEMPLATE_KEYS)
        v = self.scalars(m, path, _TEMPLATE)
        if v["power"] is not None and v["power"] not in power:
            known = ", ".join(power) or "none"
            self.err((*path, "power"), f"no power instance named {v['power']!r}",
                     f"define it under power:, known instances: {known}")  # fmt: skip
        if v["max_count"] is not None and v["max_count"] < v["min_count"]:
            self.err((*path, "max_count"), f"must be >= min_count ({v['min_count']})")
        names = self.node_names(m, (*path, "nodes"))
        if names and v["min_count"] > len(names):
            self.err((*path, "min_count"), f"{v['min_count']} is more than the {len(names)} nodes")
        cpu = self.quantity(m, (*path, "cpu"), "use e.g. 4 or 500m")
        mem = self.quantity(m, (*path, "memory"), "use e.g. 8Gi or 8G")
        labels = self.mapping(m.get("labels"), (*path, "labels"), None)
        for k, lv in labels.items():
            if not isinstance(lv, str):
                self.err((*path, "labels", str(k)), f"label values must be strings, got {lv!r}",
                         f"quote it: '{lv}'")  # fmt: skip
        return NodeTemplate(
            name=v["name"] or "",
            resources=Resources(cpu, mem, v["gpus"], v["pods"]),
            power=v["power"] or "",
            node_names=tuple(names),
            labels=tuple(sorted((str(k), str(x)) for k, x in labels.items())),
            taints=self.taints(m.get("taints"), (*path, "taints")),
            **{k: v[k] for k in _TEMPLATE if k not in ("name", "power", "gpus", "pods")},
        )

    def node_names(self, m: Mapping[str, Any], path: Path_) -> list[str]:
        raw = m.get("nodes")
        if raw is None:
            self.err(path, "missing required key", "e.g. nodes: wn-[1-10]", at_key=True)
            return []
        items = raw if isinstance(raw, list) else [raw]
        names: list[str] = []
        for i, item in enumerate(items):
            p = (*path, i) if isinstance(raw, list) else path
            if not isinstance(item, str):
                self.err(p, f"must be a node name or pattern, got {item!r}", "quote it")
                continue
            try:
                names.extend(expand_node_names(item))
            except NodeNameError as exc:
                self.err(p, str(exc))
        for dup in sorted(n for n, k in Counter(names).items() if k > 1):
            self.err(path, f"node {dup!r} is listed twice")
        return names

    def taints(self, raw: Any, path: Path_) -> tuple[Taint, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.err(path, f"expected a list of {{key, value, effect}}, got {raw!r}")
            return ()
        out = []
        for i, item in enumerate(raw):
            p = (*path, i)
            t = self.mapping(item, p, ("key", "value", "effect"))
            key = self.scalar(t, (*p, "key"), ("str", None, None, False))
            value = self.scalar(t, (*p, "value"), ("str", "", None, False))
            effect = self.scalar(t, (*p, "effect"), ("str", "NoSchedule", None, False))
            if effect not in TAINT_EFFECTS:
                self.err((*p, "effect"), f"unknown taint effect {effect!r}",
                         "use one of " + ", ".join(TAINT_EFFECTS))  # fmt: skip
            out.append(Taint(key or "", value, effect))
        return tuple(out)


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
        return f"cannot split {command!r} into arguments: {exc}"
    return ""


def _listen_problem(listen: str) -> str:
    if listen.startswith("unix:"):
        return (
            "" if listen[5:].startswith("/") else f"unix socket path must be absolute: {listen!r}"
        )
    host, sep, port = listen.rpartition(":")
    if not sep or not host or host in ("[]",):
        return f"not a listen address: {listen!r}"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        return f"bad port in {listen!r}"
    return ""
