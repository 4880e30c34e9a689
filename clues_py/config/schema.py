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

from clues_py.model import NodeTemplate

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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


# Operator hooks (clues_py.daemon.hooks): when each one runs is documented in docs/hooks.md.
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
