"""Configuration schema: the typed settings, the issue/error types and the key tables.

This module only declares: the frozen dataclasses a validated configuration is made of
(`Config`, `DaemonConfig`, `LeaderElectionConfig`, `HookConfig`, `PluginSpec`), the
`ConfigIssue`/`ConfigError` pair every problem is reported with, and the tables of scalar
keys `(type, default, minimum, nullable)` that the checker walks. Checking values against the
tables is left to `clues_py.config.check`, node-name patterns to `clues_py.config.names`, and
reading YAML and the public entry points (`load_config`, `parse_config`...) to
`clues_py.config.load`, which re-exports everything here; import from there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from clues_py.contracts import (
    DAY,
    DNS_LABEL,
    DNS_SUBDOMAIN,
    HOUR,
    LABEL_NAME,
    MAX_NODES,
    WEEK,
    YEAR,
)
from clues_py.model import NodeTemplate

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class ConfigIssue:
    """One problem, printed `FILE:LINE:COL: KEY.PATH: message (hint)`; a config built in code
    (no file) has line 0 and prints `SOURCE:0: ...`."""

    file: str
    line: int
    key: str
    message: str
    hint: str = ""
    column: int = 0

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:" + (f"{self.column}:" if self.column else "")
        where += " " + (f"{self.key}: " if self.key else "")
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
    # Where it is written: not part of equality (moving a section is no change on reload).
    where: str = field(compare=False)  # "file:line" of the section
    instance: str = ""  # key under `power:`, or "backend", "policies[0]", ...
    path: str = ""  # config key path of the section, e.g. "power.sim"
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)  # option -> line
    columns: Mapping[str, int] = field(default_factory=dict, compare=False)  # option -> col
    column: int = field(default=0, compare=False)  # of the section

    @property
    def file(self) -> str:
        return self.where.rpartition(":")[0] or self.where

    @property
    def line(self) -> int:
        tail = self.where.rpartition(":")[2]
        return int(tail) if tail.isdigit() else 0

    def issue(self, option: str, message: str, hint: str = "") -> ConfigIssue:
        """A problem with `option` (or with the whole section when empty), at its place."""
        key = f"{self.path or self.instance}.{option}" if option else self.path or self.instance
        if option in self.lines:
            return ConfigIssue(self.file, self.lines[option], key, message, hint,
                               self.columns.get(option, 0))  # fmt: skip
        return ConfigIssue(self.file, self.line, key, message, hint, self.column)


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


# Operator hooks (clues_py.daemon.hooks): when each one runs is documented in docs/hooks.md.
HOOK_EVENTS = (
    "pre_power_on",
    "post_power_on",
    "pre_power_off",
    "post_power_off",
    "on_error",
    "on_idle",
    "on_used",
    "on_terminate",
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
    # No drain or power-off starts or finishes on cluster data older than this (seconds
    # since the watch went down); past it the daemon also stops planning until it is back.
    max_data_age: float = 30.0
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
    # Where each value is written ("daemon.log_file" -> (line, column)), so that checks made
    # after loading (files, plugins, start-up) still point at the line; not part of equality.
    marks: Mapping[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)

    def issue(self, key: str, message: str, hint: str = "") -> ConfigIssue:
        """A problem with the value of `key` (a dotted path such as `daemon.log_file`), at
        the nearest place written: the key, its section, or the top of the file."""
        path = key
        while path not in self.marks and path:
            path = path.rpartition(".")[0]
        line, col = self.marks.get(path, (0, 0))
        return ConfigIssue(self.source, line, key, message, hint, col)

    @property
    def template_map(self) -> dict[str, NodeTemplate]:
        return {t.name: t for t in self.templates}

    def template_of(self, node_name: str) -> NodeTemplate | None:
        for t in self.templates:
            if node_name in t.node_names:
                return t
        return None


@dataclass(frozen=True)
class Key:
    """One scalar key: its type, default and bounds; `Key("float", 5.0, 0.01, HOUR)`.

    A key is required when its default is None and it is not nullable. Numbers must lie in
    `[min, max]` (every number has both: a test walks the tables); `pattern` is a full-match
    regex for strings, with `hint` saying what is allowed. Adding a key is one line here
    plus its field in the dataclass it fills.
    """

    type: str  # "int", "float", "bool" or "str"
    default: Any = None
    min: float | None = None
    max: float | None = None
    nullable: bool = False
    pattern: str = ""
    hint: str = ""
    max_len: int = 4096


_NAME_HINT = "lowercase letters, digits and '-', at most 63 characters, e.g. clues"
_TOP: dict[str, Key] = {
    "cluster_name": Key("str", "clues", pattern=DNS_LABEL, hint=_NAME_HINT, max_len=63),
    "idle_time": Key("float", 300.0, 0, 100 * YEAR),  # the simulator's always-on: ~forever
    "min_nodes": Key("int", 0, 0, MAX_NODES),
    "max_nodes": Key("int", None, 0, MAX_NODES, nullable=True),
    "max_booting": Key("int", 10, 1, MAX_NODES),
    "scale_down_delay": Key("float", 0.0, 0, 30 * DAY),
    "pending_grace": Key("float", 5.0, 0, DAY),
    "boot_timeout": Key("float", 600.0, 1, WEEK),
    # At 0 every drain would be given up on the next tick, before its step could report:
    # scale-down would silently never happen.
    "drain_timeout": Key("float", 300.0, 1, WEEK),
    "shutdown_timeout": Key("float", 300.0, 1, WEEK),
    "max_retries": Key("int", 3, 0, 1000),
    "retry_backoff": Key("float", 30.0, 0, WEEK),
    "retry_backoff_max": Key("float", 900.0, 0, WEEK),
    "reconcile_interval": Key("float", 120.0, 0, DAY),
    # No planning, drain or power-off on cluster data older than this (decision 0016).
    "max_data_age": Key("float", 30.0, 0, DAY),
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
_HOOK: dict[str, Key] = {
    "timeout": Key("float", HookConfig.timeout, 0.01, DAY),
    "cancel_on_failure": Key("bool", HookConfig.cancel_on_failure),
    "shell": Key("bool", HookConfig.shell),
}
_PATH_HINT = "a file path"
_DAEMON: dict[str, Key] = {
    "state_db": Key("str", DaemonConfig.state_db, pattern=r".*\S.*", hint=_PATH_HINT),
    "listen": Key("str", DaemonConfig.listen),
    "tick": Key("float", DaemonConfig.tick, 0.01, HOUR),
    "workers": Key("int", DaemonConfig.workers, 1, 1024),
    "log_level": Key("str", DaemonConfig.log_level),
    "log_file": Key("str", None, nullable=True, pattern=r".*\S.*", hint=_PATH_HINT),
    "token_file": Key("str", None, nullable=True, pattern=r".*\S.*", hint=_PATH_HINT),
    "metrics_listen": Key("str", DaemonConfig.metrics_listen, nullable=True),
}
_LEADER: dict[str, Key] = {
    "enabled": Key("bool", False),
    "lease_name": Key(
        "str",
        LeaderElectionConfig.lease_name,
        pattern=DNS_SUBDOMAIN,
        hint="a Kubernetes object name: lowercase letters, digits, '-' and '.'",
    ),  # fmt: skip
    "namespace": Key(
        "str", LeaderElectionConfig.namespace, pattern=DNS_LABEL, hint=_NAME_HINT, max_len=63
    ),  # fmt: skip
    "lease_duration": Key("float", LeaderElectionConfig.lease_duration, 1, HOUR),
    "renew_deadline": Key("float", LeaderElectionConfig.renew_deadline, 0.5, HOUR),
    "retry_period": Key("float", LeaderElectionConfig.retry_period, 0.1, HOUR),
    "identity": Key("str", None, nullable=True, max_len=253),
}
# Template names become label values, tags and metric labels.
_TEMPLATE_NAME_HINT = "letters, digits, '-', '_' and '.', at most 63 characters, e.g. wn"
_TEMPLATE: dict[str, Key] = {
    "name": Key("str", None, pattern=LABEL_NAME, hint=_TEMPLATE_NAME_HINT, max_len=63),
    "power": Key("str", None),
    "gpus": Key("int", 0, 0, 1024),
    "pods": Key("int", 110, 1, 100_000),
    "cost_per_hour": Key("float", 0.0, 0, 1e6),
    "watts_idle": Key("float", 0.0, 0, 1e6),
    "watts_busy": Key("float", 0.0, 0, 1e6),
    "boot_seconds": Key("float", 60.0, 0, DAY),
    "shutdown_seconds": Key("float", 30.0, 0, DAY),
    "boot_cost": Key("float", 0.0, 0, 1e6),
    "min_count": Key("int", 0, 0, MAX_NODES),
    "max_count": Key("int", None, 0, MAX_NODES, nullable=True),
    "priority": Key("int", 0, -(2**31), 2**31 - 1),
}
_TEMPLATE_KEYS = (*_TEMPLATE, "nodes", "cpu", "memory", "labels", "taints")
# Quantities of one node: (smallest, largest) in millicores / bytes.
CPU_MILLIS_RANGE = (1, 100_000 * 1000)
MEMORY_BYTES_RANGE = (1, 2**60)
