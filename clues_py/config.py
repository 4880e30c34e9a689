"""YAML configuration: parse, validate with file:line positions, and build typed settings.

The YAML is composed (not just loaded) so that every key and value keeps its line number;
every problem becomes a `ConfigIssue` printed as `FILE:LINE: KEY.PATH: message (hint)`, and
all of them are raised together in one `ConfigError`. Plugin sections (`backend`, `power`,
`policies`, `expanders`) are only split into a kind and free options here, in a
`PluginSpec` that remembers the lines; `clues_py.plugins` validates those options against
each plugin's own `Config` dataclass. Wiring the settings into the planner and lifecycle is
left to the daemon.
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
from pathlib import Path
from typing import Any

import yaml

from clues_py.model import NodeTemplate, QuantityError, Resources, Taint, cpu_millis, to_int

Path_ = tuple[str | int, ...]
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_PATTERN_NODES = 100_000
_NODE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_RANGE_RE = re.compile(r"\[(\d+)-(\d+)\]")
_CLUSTER_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    key: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " + (f"{self.key}: " if self.key else "")
        return where + self.message + (f" ({self.hint})" if self.hint else "")


class ConfigError(Exception):
    """One or more configuration problems; `str()` shows one per line."""

    def __init__(self, errors: Sequence[ConfigIssue]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass(frozen=True)
class PluginSpec:
    """A `{kind: NAME, ...options}` section, before the plugin validates its options."""

    kind: str
    options: Mapping[str, Any]
    where: str  # "file:line" of the section
    instance: str  # key under `power:`, or "backend", "policies[0]", ...
    path: str = ""  # config key path of the section, e.g. "power.sim"
    lines: Mapping[str, int] = field(default_factory=dict)  # option -> line of its key

    @property
    def file(self) -> str:
        return self.where.rpartition(":")[0] or self.where

    @property
    def line(self) -> int:
        tail = self.where.rpartition(":")[2]
        return int(tail) if tail.isdigit() else 0


@dataclass(frozen=True)
class DaemonConfig:
    state_db: str = "/var/lib/clues/clues.db"
    # unix:/path (0660 socket; the default) or HOST:PORT, which requires token_file.
    listen: str = "unix:/run/clues/clues.sock"
    tick: float = 5.0
    workers: int = 8
    log_level: str = "INFO"
    log_file: str | None = None
    # Required for a TCP listener; a file of mode 0600 holding the bearer token.
    token_file: str | None = None
    # HOST:PORT of the Prometheus /metrics listener (port 0: any free port); None disables it.
    metrics_listen: str | None = "127.0.0.1:9484"


@dataclass(frozen=True)
class LeaderElectionConfig:
    """HA: a coordination.k8s.io/v1 Lease; only its holder acts (client-go semantics)."""

    enabled: bool = False
    lease_name: str = "clues-py"
    namespace: str = "kube-system"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str | None = None  # null: HOSTNAME-PID


# Operator hooks (clues_py.hooks): when each one runs is documented in docs/hooks.md.
HOOK_EVENTS = (
    "pre_power_on",
    "post_power_on",
    "pre_power_off",
    "post_power_off",
    "on_error",
    "on_idle",
    "on_used",
)


@dataclass(frozen=True)
class HookConfig:
    """One `hooks.<event>` entry: a command run with CLUES_* environment variables."""

    command: str | tuple[str, ...]
    timeout: float = 60.0
    # pre_* hooks only: a failing hook cancels the power-on/off it precedes.
    cancel_on_failure: bool = True
    shell: bool = False  # run a string command through /bin/sh -c


def _default_backend() -> PluginSpec:
    return PluginSpec("kubernetes", {}, "<default>:0", "backend", "backend")


@dataclass(frozen=True)
class Config:
    cluster_name: str = "clues"
    idle_time: float = 300.0
    min_nodes: int = 0
    max_nodes: int | None = None
    max_booting: int = 10
    scale_down_delay: float = 0.0
    pending_grace: float = 5.0
    boot_timeout: float = 600.0
    drain_timeout: float = 300.0
    shutdown_timeout: float = 300.0
    max_retries: int = 3
    retry_backoff: float = 30.0
    retry_backoff_max: float = 900.0
    # Compare store, providers and cluster this often (and at start-up); 0 disables.
    reconcile_interval: float = 120.0
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    leader_election: LeaderElectionConfig = field(default_factory=LeaderElectionConfig)
    backend: PluginSpec = field(default_factory=_default_backend)
    power: Mapping[str, PluginSpec] = field(default_factory=dict)
    templates: tuple[NodeTemplate, ...] = ()
    # Empty: the built-in default pipeline / expander order.
    policies: tuple[PluginSpec, ...] = ()
    expanders: tuple[PluginSpec, ...] = ()
    hooks: Mapping[str, HookConfig] = field(default_factory=dict)
    source: str = "<default>"

    @property
    def template_map(self) -> dict[str, NodeTemplate]:
        return {t.name: t for t in self.templates}

    def template_of(self, node_name: str) -> NodeTemplate | None:
        for t in self.templates:
            if node_name in t.node_names:
                return t
        return None


# name: (type, default, minimum, nullable). Minimum None: no lower bound.
_TOP: dict[str, tuple[str, Any, float | None, bool]] = {
    "cluster_name": ("str", "clues", None, False),
    "idle_time": ("float", 300.0, 0, False),
    "min_nodes": ("int", 0, 0, False),
    "max_nodes": ("int", None, 0, True),
    "max_booting": ("int", 10, 1, False),
    "scale_down_delay": ("float", 0.0, 0, False),
    "pending_grace": ("float", 5.0, 0, False),
    "boot_timeout": ("float", 600.0, 1, False),
    "drain_timeout": ("float", 300.0, 0, False),
    "shutdown_timeout": ("float", 300.0, 1, False),
    "max_retries": ("int", 3, 0, False),
    "retry_backoff": ("float", 30.0, 0, False),
    "retry_backoff_max": ("float", 900.0, 0, False),
    "reconcile_interval": ("float", 120.0, 0, False),
}
_SECTIONS = (
    "daemon",
    "leader_election",
    "backend",
    "power",
    "templates",
    "policies",
    "expanders",
    "hooks",
)
_HOOK: dict[str, tuple[str, Any, float | None, bool]] = {
    "timeout": ("float", HookConfig.timeout, 0.01, False),
    "cancel_on_failure": ("bool", HookConfig.cancel_on_failure, None, False),
    "shell": ("bool", HookConfig.shell, None, False),
}
_DAEMON: dict[str, tuple[str, Any, float | None, bool]] = {
    "state_db": ("str", DaemonConfig.state_db, None, False),
    "listen": ("str", DaemonConfig.listen, None, False),
    "tick": ("float", DaemonConfig.tick, 0.01, False),
    "workers": ("int", DaemonConfig.workers, 1, False),
    "log_level": ("str", DaemonConfig.log_level, None, False),
    "log_file": ("str", None, None, True),
    "token_file": ("str", None, None, True),
    "metrics_listen": ("str", DaemonConfig.metrics_listen, None, True),
}
_LEADER: dict[str, tuple[str, Any, float | None, bool]] = {
    "enabled": ("bool", False, None, False),
    "lease_name": ("str", LeaderElectionConfig.lease_name, None, False),
    "namespace": ("str", LeaderElectionConfig.namespace, None, False),
    "lease_duration": ("float", LeaderElectionConfig.lease_duration, 1, False),
    "renew_deadline": ("float", LeaderElectionConfig.renew_deadline, 0.5, False),
    "retry_period": ("float", LeaderElectionConfig.retry_period, 0.1, False),
    "identity": ("str", None, None, True),
}
_TEMPLATE: dict[str, tuple[str, Any, float | None, bool]] = {
    "name": ("str", None, None, False),
    "power": ("str", None, None, False),
    "gpus": ("int", 0, 0, False),
    "pods": ("int", 110, 1, False),
    "cost_per_hour": ("float", 0.0, 0, False),
    "watts_idle": ("float", 0.0, 0, False),
    "watts_busy": ("float", 0.0, 0, False),
    "boot_seconds": ("float", 60.0, 0, False),
    "shutdown_seconds": ("float", 30.0, 0, False),
    "min_count": ("int", 0, 0, False),
    "max_count": ("int", None, 0, True),
    "priority": ("int", 0, None, False),
}
_TEMPLATE_KEYS = (*_TEMPLATE, "nodes", "cpu", "memory", "labels", "taints")
_TYPE_NAMES = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}


# --------------------------------------------------------------------------- node names


class NodeNameError(ValueError):
    """A `nodes:` entry that is not a valid name, list or range pattern."""


def expand_node_names(pattern: str) -> list[str]:
    """`wn-[1-3]` -> wn-1..wn-3, `wn-[01-10]` keeps the padding, `a,b` is a list."""
    out: list[str] = []
    for part in (p.strip() for p in pattern.split(",")):
        if not part:
            raise NodeNameError(f"empty name in {pattern!r}")
        ranges = _RANGE_RE.findall(part)
        if len(ranges) > 1:
            raise NodeNameError(f"only one [a-b] range per pattern: {part!r}")
        if ranges:
            a, b = ranges[0]
            lo, hi = int(a), int(b)
            if lo > hi:
                raise NodeNameError(f"range [{a}-{b}] in {part!r} goes backwards")
            if hi - lo + 1 > MAX_PATTERN_NODES:
                raise NodeNameError(f"range [{a}-{b}] has more than {MAX_PATTERN_NODES} names")
            width = len(a) if a.startswith("0") and len(a) > 1 else 0
            m = _RANGE_RE.search(part)
            assert m is not None
            prefix, suffix = part[: m.start()], part[m.end() :]
            names = [f"{prefix}{i:0{width}d}{suffix}" for i in range(lo, hi + 1)]
        else:
            names = [part]
        for n in names:
            if not _NODE_NAME_RE.match(n) or len(n) > 253:
                raise NodeNameError(
                    f"{n!r} is not a valid node name or pattern: "
                    "use lowercase letters, digits, '-' and '.', and ranges like wn-[1-10]"
                )
        out.extend(names)
    return out


# --------------------------------------------------------------------------- YAML with positions


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


def _build(data: Any, source: str, pos: _Positions) -> Config:
    c = _Checker(source, pos)
    top = c.mapping(data, (), (*_TOP, *_SECTIONS))
    v = c.scalars(top, (), _TOP)
    if isinstance(v["cluster_name"], str) and not _CLUSTER_RE.match(v["cluster_name"]):
        c.err(("cluster_name",), f"not a valid name: {v['cluster_name']!r}",
              "lowercase letters, digits and '-', e.g. clues")  # fmt: skip
    if v["max_nodes"] is not None and v["max_nodes"] < v["min_nodes"]:
        c.err(("max_nodes",), f"must be >= min_nodes ({v['min_nodes']})")
    if v["retry_backoff_max"] < v["retry_backoff"]:
        c.err(("retry_backoff_max",), f"must be >= retry_backoff ({v['retry_backoff']:g})")

    backend = (
        c.plugin(top["backend"], ("backend",), "backend", default_kind="kubernetes")
        if top.get("backend") is not None
        else _default_backend()
    )
    power: dict[str, PluginSpec] = {}
    for name, spec in c.mapping(top.get("power"), ("power",), None).items():
        if isinstance(name, str):
            power[name] = c.plugin(spec, ("power", name), name)
    chains: dict[str, tuple[PluginSpec, ...]] = {}
    for section in ("policies", "expanders"):
        raw = top.get(section) or []
        if not isinstance(raw, list):
            c.err((section,), f"expected a list of plugins, got {raw!r}")
            raw = []
        chains[section] = tuple(
            c.plugin(item, (section, i), f"{section}[{i}]") for i, item in enumerate(raw)
        )

    templates: list[NodeTemplate] = []
    raw_templates = top.get("templates") or []
    if not isinstance(raw_templates, list):
        c.err(("templates",), f"expected a list of templates, got {raw_templates!r}")
        raw_templates = []
    owner: dict[str, tuple[int, str]] = {}  # node name -> (template index, name)
    for i, raw in enumerate(raw_templates):
        t = c.template(raw, ("templates", i), power)
        if t.name and any(t.name == o.name for o in templates):
            c.err(("templates", i, "name"), f"duplicate template name {t.name!r}")
        for n in t.node_names:
            j, other = owner.setdefault(n, (i, t.name))
            if j != i:
                c.err(("templates", i, "nodes"), f"node {n!r} is also in template {other!r}")
        templates.append(t)

    daemon = c.daemon(top.get("daemon"))
    leader_election = c.leader_election(top.get("leader_election"))
    hooks = c.hooks(top.get("hooks"))
    if c.issues:
        raise ConfigError(c.issues)
    return Config(
        **v,
        daemon=daemon,
        leader_election=leader_election,
        backend=backend,
        power=power,
        templates=tuple(templates),
        policies=chains["policies"],
        expanders=chains["expanders"],
        hooks=hooks,
        source=source,
    )


def _to_python(
    node: yaml.Node, path: Path_, pos: _Positions, c: _Checker, ctor: yaml.SafeLoader
) -> Any:
    pos.values[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for k, v in node.value:
            if k.tag == "tag:yaml.org,2002:merge":
                c.err(path, "YAML merge keys (<<) are not supported", "write the keys out")
                continue
            key = ctor.construct_object(k, deep=True)
            if not isinstance(key, str | int | float | bool):
                c.err(path, f"mapping keys must be scalars, got {key!r}")
                continue
            sub = (*path, key if isinstance(key, str) else str(key))
            pos.keys[sub] = k.start_mark.line + 1
            if key in out:
                c.err(sub, "duplicate key", "remove one of them", at_key=True)
            out[key] = _to_python(v, sub, pos, c, ctor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, (*path, i), pos, c, ctor) for i, v in enumerate(node.value)]
    return ctor.construct_object(node, deep=True)


def parse_config(text: str, source: str = "<string>") -> Config:
    """Parse and validate YAML text; raises ConfigError listing every problem."""
    pos = _Positions()
    c = _Checker(source, pos)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = {} if root is None else _to_python(root, (), pos, c, yaml.SafeLoader(""))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ConfigError([ConfigIssue(source, line, "", f"invalid YAML: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(source, 0, "", f"invalid YAML: {exc}")]) from exc
    try:
        cfg = _build(data, source, pos)
    except ConfigError as exc:
        # YAML-level issues (duplicate keys) and validation issues, in file order.
        raise ConfigError(sorted([*c.issues, *exc.errors], key=lambda i: i.line)) from None
    if c.issues:
        raise ConfigError(c.issues)
    return cfg


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(str(path), 0, "", f"cannot read config: {exc}")]) from exc
    return parse_config(text, str(path))


def config_from_dict(data: dict[str, Any], source: str = "<dict>") -> Config:
    """Validate a config built in code (simulator, demo, tests); issues carry line 0."""
    return _build(data, source, _Positions())


def merge_overrides(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `overrides` into a copy of `base`: mappings merge, anything else replaces."""
    out = dict(base)
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_overrides(out[k], v)
        else:
            out[k] = v
    return out
