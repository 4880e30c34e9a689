"""From configuration to what the daemon runs: plugins, the policy pipeline, timeouts.

Pure construction (no I/O): the daemon calls these at start-up and on reload, the
simulator and tests call them directly. Which keys a reload may change lives here
too, next to the code that turns them into settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any, cast

from clues_py.config.load import Config, ConfigError, PluginSpec
from clues_py.contracts import Backend, PluginContext, PowerManager
from clues_py.lifecycle import Timeouts
from clues_py.model import NodeTemplate
from clues_py.planner import ChainError, PlannerSettings, Policy, check_pipeline
from clues_py.planner.chain import Expander, ExpanderChain
from clues_py.plugins import BACKENDS, EXPANDERS, POLICIES, POWER, instantiate, plugin_issue

# Config keys a reload (SIGHUP) applies at runtime; any other difference (templates, power,
# backend, listeners, store, leader election...) is reported as needing a restart.
RUNTIME_KEYS = (
    "idle_time",
    "min_nodes",
    "max_nodes",
    "max_booting",
    "scale_down_delay",
    "boot_timeout",
    "drain_timeout",
    "shutdown_timeout",
    "max_retries",
    "retry_backoff",
    "retry_backoff_max",
    "max_data_age",
    "policies",
    "expanders",
)
RUNTIME_DAEMON_KEYS = ("tick", "log_level")

# The pipeline and expander chain when the config lists none, by plugin name: they are
# resolved through the plugin loader like configured ones (the planner knows no plugin).
DEFAULT_POLICIES = ("scale_up", "min_nodes", "pack_down", "idle_off", "limits")
# Priority, then cost, then waste (the order before expanders were configurable); among
# templates still equal, the one ready soonest and cheapest to cycle (decision 0019).
DEFAULT_EXPANDERS = ("priority", "cheapest", "least_waste", "soonest_ready")


def planner_settings(cfg: Config) -> PlannerSettings:
    return PlannerSettings(
        idle_time=cfg.idle_time,
        min_nodes=cfg.min_nodes,
        max_booting=cfg.max_booting,
        max_nodes=cfg.max_nodes,
        scale_down_delay=cfg.scale_down_delay,
        # The backend already holds back pods younger than pending_grace unless the
        # scheduler has said Unschedulable; a second grace here would only add delay.
        pending_grace=0.0,
    )


def build_plugins(
    cfg: Config,
    templates: Mapping[str, NodeTemplate],
    extras: Mapping[str, Any] | None = None,
    backend: Backend | None = None,
    power: Mapping[str, PowerManager] | None = None,
) -> tuple[Backend, dict[str, PowerManager]]:
    """The backend and the power managers the config names; those given are used as is."""
    extras = dict(extras or {})
    if backend is None:
        ctx = PluginContext(cfg.cluster_name, "backend", templates, extras)
        backend = cast(Backend, instantiate(BACKENDS, cfg.backend, ctx))
    managers: dict[str, PowerManager] = dict(power or {})
    for name, spec in cfg.power.items():
        if name not in managers:
            ctx = PluginContext(cfg.cluster_name, name, templates, extras)
            managers[name] = cast(PowerManager, instantiate(POWER, spec, ctx))
    return backend, managers


def _builtin(group: str, kind: str, options: dict[str, object], ctx: PluginContext) -> object:
    return instantiate(group, PluginSpec(kind, options, "built-in default", kind), ctx)


def default_chain(ctx: PluginContext | None = None) -> ExpanderChain:
    """DEFAULT_EXPANDERS with their default options."""
    ctx = ctx or PluginContext("", "planner")
    return ExpanderChain(
        [cast(Expander, _builtin(EXPANDERS, k, {}, ctx)) for k in DEFAULT_EXPANDERS]
    )


def default_policies(settings: PlannerSettings, ctx: PluginContext | None = None) -> list[Policy]:
    """DEFAULT_POLICIES configured from `settings`, with the default expander chain."""
    ctx = ctx or PluginContext("", "planner")
    options: dict[str, dict[str, object]] = {
        "scale_up": {"pending_grace": settings.pending_grace},
        "min_nodes": {"min_nodes": settings.min_nodes},
        "idle_off": {
            "idle_time": settings.idle_time,
            "scale_down_delay": settings.scale_down_delay,
        },
        "pack_down": {},
        "limits": {"max_booting": settings.max_booting, "max_nodes": settings.max_nodes},
    }
    policies = [cast(Policy, _builtin(POLICIES, k, options[k], ctx)) for k in DEFAULT_POLICIES]
    _set_chain(policies, default_chain(ctx))
    return policies


def _set_chain(policies: list[Policy], chain: ExpanderChain) -> None:
    for p in policies:
        if hasattr(p, "chain"):
            setattr(p, "chain", chain)  # noqa: B010 (not part of the Policy protocol)


# Policy options that default to the top-level config key of the same name.
_TOP_DEFAULTS = {
    "idle_off": ("idle_time", "scale_down_delay"),
    "min_nodes": ("min_nodes",),
    "limits": ("max_booting", "max_nodes"),
}


def build_pipeline(cfg: Config) -> list[Policy]:
    """Policies from `policies:` (the default pipeline when empty) and the `expanders:` chain.

    Options a policy entry omits take the top-level value (`idle_time`, `min_nodes`...);
    nonsensical orders and chains raise ConfigError naming the entry's file and line.
    """

    def fail(spec: PluginSpec, section: str, exc: Exception) -> ConfigError:
        return ConfigError([plugin_issue(spec, str(exc))])

    ctx = PluginContext(cfg.cluster_name, "planner", cfg.template_map, {})
    policies: list[Policy] = [] if cfg.policies else default_policies(planner_settings(cfg), ctx)
    for spec in cfg.policies:
        defaults = {k: getattr(cfg, k) for k in _TOP_DEFAULTS.get(spec.kind, ())}
        spec = replace(spec, options={**defaults, **spec.options})
        try:
            policies.append(cast(Policy, instantiate(POLICIES, spec, ctx)))
        except ConfigError:
            raise
        except ValueError as exc:  # cross-field checks in the plugin's constructor
            raise fail(spec, "policies", exc) from exc
    try:
        check_pipeline([p.name for p in policies])
    except ChainError as exc:
        raise fail(cfg.policies[exc.index], "policies", exc) from exc
    expanders: list[Expander] = []
    for spec in cfg.expanders:
        try:
            expanders.append(cast(Expander, instantiate(EXPANDERS, spec, ctx)))
        except ConfigError:
            raise
        except ValueError as exc:
            raise fail(spec, "expanders", exc) from exc
    try:
        chain = ExpanderChain(expanders) if expanders else default_chain(ctx)
    except ChainError as exc:
        raise fail(cfg.expanders[exc.index], "expanders", exc) from exc
    _set_chain(policies, chain)
    return policies


def timeouts(cfg: Config) -> Timeouts:
    return Timeouts(
        boot=cfg.boot_timeout,
        drain=cfg.drain_timeout,
        shutdown=cfg.shutdown_timeout,
        max_retries=cfg.max_retries,
        backoff_base=cfg.retry_backoff,
        backoff_max=cfg.retry_backoff_max,
    )


def runtime_update(old: Config, cfg: Config) -> tuple[Config, list[str], list[str]]:
    """What a reload of `cfg` over the running `old` applies: (the config now in force,
    keys that differ but need a restart and keep their running values, keys that changed)."""
    new = replace(
        old,
        **{k: getattr(cfg, k) for k in RUNTIME_KEYS},
        daemon=replace(old.daemon, **{k: getattr(cfg.daemon, k) for k in RUNTIME_DAEMON_KEYS}),
        source=cfg.source,
    )
    restart = [
        f.name
        for f in fields(Config)
        if f.name not in (*RUNTIME_KEYS, "daemon", "source", "marks")
        and getattr(cfg, f.name) != getattr(old, f.name)
    ] + [
        f"daemon.{f.name}"
        for f in fields(type(old.daemon))
        if f.name not in RUNTIME_DAEMON_KEYS
        and getattr(cfg.daemon, f.name) != getattr(old.daemon, f.name)
    ]
    changed = [
        f.name
        for f in fields(Config)
        if f.name not in ("daemon", "source", "marks")
        and getattr(new, f.name) != getattr(old, f.name)
    ]
    changed += [
        f"daemon.{f.name}"
        for f in fields(type(old.daemon))
        if getattr(new.daemon, f.name) != getattr(old.daemon, f.name)
    ]
    return new, restart, changed
