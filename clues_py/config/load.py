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
from dataclasses import replace
from typing import Any

import yaml

from clues_py.config.bounds import show
from clues_py.config.check import Path_, _Checker, _fmt, _Positions, in_file_order
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
from clues_py.config.templates import template
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
    if v["max_nodes"] is not None and v["max_nodes"] < v["min_nodes"]:
        c.err(("max_nodes",), f"must be >= min_nodes ({v['min_nodes']})")
    if v["retry_backoff_max"] < v["retry_backoff"]:
        c.err(("retry_backoff_max",), f"must be >= retry_backoff ({v['retry_backoff']:g})")

    backend = (
        c.plugin(top["backend"], ("backend",), "backend", default_kind="kubernetes")
        if top.get("backend") is not None
        else _default_backend()
    )
    if top.get("backend") is None and pos.values:  # problems of the default: at the top
        line, col = c.mark(())
        backend = replace(backend, where=f"{source}:{line}", column=col)
    power: dict[str, PluginSpec] = {}
    for name, spec in c.mapping(top.get("power"), ("power",), None).items():
        if isinstance(name, str) and c.instance_name(name, ("power", name)):
            power[name] = c.plugin(spec, ("power", name), name)
    chains: dict[str, tuple[PluginSpec, ...]] = {}
    for section in ("policies", "expanders"):
        raw = top.get(section) or []
        if not isinstance(raw, list):
            c.err((section,), f"expected a list of plugins, got {show(raw)}")
            raw = []
        chains[section] = tuple(
            c.plugin(item, (section, i), f"{section}[{i}]") for i, item in enumerate(raw)
        )

    templates: list[NodeTemplate] = []
    raw_templates = top.get("templates") or []
    if not isinstance(raw_templates, list):
        c.err(("templates",), f"expected a list of templates, got {show(raw_templates)}")
        raw_templates = []
    owner: dict[str, tuple[int, str]] = {}  # node name -> (template index, name)
    for i, raw in enumerate(raw_templates):
        t = template(c, raw, ("templates", i), power)
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
        raise ConfigError(c.all_issues())
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
        marks={_fmt(p): m for p, m in pos.values.items()},
    )


# Limits on the YAML itself: a config is a few hundred lines, so these only stop documents
# built to hurt (deep nesting overflows the composer's recursion; a "billion laughs" of
# nested aliases expands exponentially) before they cost more than milliseconds.
MAX_BYTES = 1 << 20
MAX_DEPTH = 40
MAX_VALUES = 100_000  # values after expanding aliases
MAX_ALIASED = 10_000  # of which reached through an alias


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that refuses nesting deeper than MAX_DEPTH as soon as it scans it: in the
    scanner for flow collections (`[[[[...`, which PyYAML otherwise scans to the end before
    composing, in quadratic time) and block indentation, in the composer for the rest."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def _too_deep(self) -> yaml.MarkedYAMLError:
        return yaml.scanner.ScannerError(
            None, None, f"nested deeper than {MAX_DEPTH} levels", self.get_mark()
        )

    def fetch_flow_collection_start(self, token_class: type) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise self._too_deep()
        super().fetch_flow_collection_start(token_class)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= MAX_DEPTH:
            raise self._too_deep()
        return super().add_indent(column)

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.get_mark()
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _TooBig(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node


class _Walk:
    """Composed YAML -> Python data, recording where every key and value is written."""

    def __init__(self, pos: _Positions, c: _Checker) -> None:
        self.pos, self.c = pos, c
        self.ctor = yaml.SafeLoader("")
        self.values = 0
        self.aliased = 0
        self.seen: set[int] = set()

    def value(self, node: yaml.Node, path: Path_) -> Any:
        self.values += 1
        if id(node) in self.seen:  # a node reached again: an alias being expanded
            self.aliased += 1
        else:
            self.seen.add(id(node))
        if self.values > MAX_VALUES or self.aliased > MAX_ALIASED:
            raise _TooBig(node, f"more than {MAX_VALUES} values or {MAX_ALIASED} expanded "
                          "through aliases (&anchors/*aliases nested too deep?)")  # fmt: skip
        mark = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.pos.values.setdefault(path, mark)
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_TAGS:
            raise yaml.constructor.ConstructorError(
                None, None, f"tag {node.tag} is not allowed here", node.start_mark
            )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(v, (*path, i)) for i, v in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        try:
            return self.ctor.construct_object(node, deep=True)
        except (ValueError, TypeError, OverflowError) as exc:
            # e.g. an integer of 5,000 digits, a timestamp like 2020-13-45
            why = "a number with too many digits" if "digits" in str(exc) else str(exc)
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {why}", node.start_mark
            ) from None

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for k, v in node.value:
            if k.tag == "tag:yaml.org,2002:merge":
                self.c.err(path, "YAML merge keys (<<) are not supported", "write the keys out")
                continue
            key = self.scalar(k) if isinstance(k, yaml.ScalarNode) else None
            if not isinstance(key, str | int | float | bool):
                self.c.err(path, "mapping keys must be plain scalars")
                continue
            sub = (*path, key if isinstance(key, str) else str(key))
            self.pos.keys[sub] = (k.start_mark.line + 1, k.start_mark.column + 1)
            if key in out:
                self.c.err(sub, "duplicate key", "remove one of them", at_key=True)
            out[key] = self.value(v, sub)
        return out


def _yaml_issue(source: str, exc: yaml.YAMLError, text: str) -> ConfigIssue:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return ConfigIssue(source, line, "", f"invalid YAML: {exc.problem}", "", col)
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
        line, col = _line_col(text, exc.position)
        what = f"character #x{exc.character:04x}" if isinstance(exc.character, int) else "byte"
        return ConfigIssue(source, line, "", f"invalid YAML: unacceptable {what}",
                           "remove it; a config is plain UTF-8 text", col)  # fmt: skip
    return ConfigIssue(source, 1, "", f"invalid YAML: {exc}", "", 1)


def _line_col(text: str | bytes, offset: int) -> tuple[int, int]:
    nl: Any = "\n" if isinstance(text, str) else b"\n"
    before = text[:offset]
    return before.count(nl) + 1, offset - (before.rfind(nl) + 1) + 1


def parse_config(text: str, source: str = "<string>") -> Config:
    """Parse and validate YAML text; raises ConfigError listing every problem."""
    pos = _Positions()
    c = _Checker(source, pos)
    if len(text) > MAX_BYTES:
        raise ConfigError([ConfigIssue(source, 1, "", f"larger than {MAX_BYTES} bytes",
                                       "is this the config file?", 1)])  # fmt: skip
    walk = _Walk(pos, c)
    try:
        root = yaml.compose(text, Loader=_LimitedLoader)
        data = {} if root is None else walk.value(root, ())
        pos.values.setdefault((), (1, 1))  # an empty file: its problems are at its start
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_issue(source, exc, text)]) from None
    except _TooBig as exc:
        mark = exc.node.start_mark
        raise ConfigError([ConfigIssue(source, mark.line + 1, "", str(exc),
                                       "write the values out", mark.column + 1)]) from None  # fmt: skip
    try:
        cfg = _build(data, source, pos)
    except ConfigError as exc:
        # YAML-level issues (duplicate keys) and validation issues, in file order.
        raise ConfigError(in_file_order([*c.issues, *exc.errors])) from None
    if c.issues:
        raise ConfigError(c.issues)
    return cfg


def decode(raw: bytes, source: str) -> str:
    """Config bytes as text: UTF-8 (a BOM is dropped, UTF-16 with a BOM is accepted); an
    encoding error names its line and column."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        raise ConfigError([ConfigIssue(
            source, line, "", f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be decoded",
            "save the file as UTF-8", col)]) from None  # fmt: skip


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(path), 0, "", f"cannot read config: {exc.strerror or exc}",
                                       "pass an existing file with -c FILE")]) from exc  # fmt: skip
    return parse_config(decode(raw, str(path)), str(path))


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
