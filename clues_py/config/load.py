"""YAML configuration: parse, validate with file:line positions, and build typed settings.

The public entry point: `load_config`, `parse_config`, `config_from_dict`, `merge_overrides`
and every settings type are imported from here. The YAML is composed (not just loaded) so
that every key and value keeps its line number; every problem becomes a `ConfigIssue`
printed as `FILE:LINE: KEY.PATH: message (hint)`, and all of them are raised together in one
`ConfigError`. This module reads and composes the YAML and assembles the `Config`; the types
and key tables live in `clues_py.config.schema`, the per-section checks in
`clues_py.config.check`, node-name patterns in `clues_py.config.names`. Plugin sections
(`backend`, `power`, `policies`, `expanders`) are only split into a kind and free options, in
a `PluginSpec` that remembers the lines; `clues_py.plugins` validates those options against
each plugin's own `Config` dataclass. Wiring the settings into the planner and lifecycle is
left to the daemon.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from clues_py.config.check import _CLUSTER_RE, Path_, _Checker, _Positions
from clues_py.config.names import MAX_PATTERN_NODES, NodeNameError, expand_node_names
from clues_py.config.schema import (
    _SECTIONS,
    HOOK_EVENTS,
    LOG_LEVELS,
    TAINT_EFFECTS,
    Config,
    ConfigError,
    ConfigIssue,
    DaemonConfig,
    HookConfig,
    LeaderElectionConfig,
    PluginSpec,
    _default_backend,
)
from clues_py.config.schema import _TOP as _TOP  # redact.effective_config reads the key order
from clues_py.model import NodeTemplate

__all__ = [
    "HOOK_EVENTS",
    "LOG_LEVELS",
    "MAX_PATTERN_NODES",
    "TAINT_EFFECTS",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "DaemonConfig",
    "HookConfig",
    "LeaderElectionConfig",
    "NodeNameError",
    "Path_",
    "PluginSpec",
    "config_from_dict",
    "expand_node_names",
    "load_config",
    "merge_overrides",
    "parse_config",
]


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
