"""Every number in the config has a range: each core key in the schema tables, and each
numeric option of every installed plugin (a `Range` in its `Config` dataclass). A new key
or option without one fails here, naming it."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

import pytest

from clues_py import plugins
from clues_py.config import schema
from clues_py.config.load import ConfigError, parse_config
from clues_py.contracts import Range
from clues_py.plugins import GROUPS, available, check_plugins, load_class

F = "c.yaml"
TABLES = {"": schema._TOP, "daemon.": schema._DAEMON, "leader_election.": schema._LEADER}
TABLES |= {"templates[].": schema._TEMPLATE, "hooks.*.": schema._HOOK}


def test_every_core_number_has_both_bounds() -> None:
    unbounded = [
        prefix + name
        for prefix, table in TABLES.items()
        for name, key in table.items()
        if key.type in ("int", "float") and (key.min is None or key.max is None)
    ]
    assert unbounded == []


def _numbers_without_range(tp: Any, where: str, seen: set[Any]) -> list[str]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        inner = args[0]
        if inner in (int, float) and any(isinstance(m, Range) for m in tp.__metadata__):
            return []
        return _numbers_without_range(inner, where, seen)
    if tp in (int, float):
        return [where]
    if origin in (typing.Union, types.UnionType, list, tuple, dict) or getattr(
        origin, "__name__", ""
    ) in ("Mapping", "Sequence"):
        return [m for a in args for m in _numbers_without_range(a, where, seen)]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and tp not in seen:
        seen.add(tp)
        hints = typing.get_type_hints(tp, include_extras=True)
        return [
            m for f in dataclasses.fields(tp) for m in _numbers_without_range(
                hints[f.name], f"{where}.{f.name}", seen)
        ]  # fmt: skip
    return []


@pytest.mark.parametrize("group", GROUPS)
def test_every_plugin_number_has_a_range(group: str) -> None:
    missing: list[str] = []
    for kind in available(group):
        cfg = getattr(load_class(group, kind), "Config", None)
        if cfg is not None:
            missing += _numbers_without_range(cfg, f"{group}:{kind}", set())
    assert missing == [], "add Annotated[..., Range(lo, hi)] to these options"


def test_plugin_ranges_are_checked_at_the_option() -> None:
    text = (
        "power:\n"
        "  sim: {kind: sim, url: 'http://x', failure_rate: 1.5, timeout: 0}\n"
        "  bmc:\n"
        "    kind: ipmi\n"
        "    nodes: {wn-1: {host: h, port: 70000}}\n"
        "backend: {kind: kubernetes, watch_timeout: -5, namespace: 'Not OK'}\n"
        "policies: [{kind: limits, max_nodes: -1}]\n"
    )
    with pytest.raises(ConfigError) as exc:
        check_plugins(parse_config(text, F))
    assert [str(e) for e in exc.value.errors] == [
        f"{F}:2:37: power.sim.failure_rate: must be between 0 and 1, got 1.5",
        f"{F}:2:56: power.sim.timeout: must be between 0.1 and 3600, got 0",
        f"{F}:5:5: power.bmc.nodes: wn-1: port: must be between 1 and 65535, got 70000",
        f"{F}:6:29: backend.watch_timeout: must be between 1 and 86400, got -5",
        f"{F}:6:48: backend.namespace: not valid: 'Not OK' (a namespace name)",
        f"{F}:7:27: policies[0].max_nodes: must be between 0 and 100000, got -1",
    ]


def test_plugin_numbers_too_large_for_a_float() -> None:
    text = "power:\n  sim: {kind: sim, url: 'http://x', boot_seconds: " + "9" * 400 + "}\n"
    with pytest.raises(ConfigError) as exc:
        check_plugins(parse_config(text, F))
    (msg,) = exc.value.errors
    assert str(msg).startswith(f"{F}:2:37: power.sim.boot_seconds: must be between 0 and 86400")


def test_constructor_messages_land_on_their_option() -> None:
    spec = parse_config("power:\n  w:\n    kind: wol\n    macs: {}\n", F).power["w"]

    def at(message: str) -> str:
        return str(plugins.plugin_issue(spec, message))

    assert at("power.w.macs.wn-1: bad MAC") == f"{F}:4:5: power.w.macs: wn-1: bad MAC"
    assert at("macs: bad") == f"{F}:4:5: power.w.macs: bad"
    # Anything else lands on the section, without repeating its path or kind.
    assert at("power.w: no url") == f"{F}:3:5: power.w: no url"
    assert at("wol: something") == f"{F}:3:5: power.w: something"
    assert at("odd") == f"{F}:3:5: power.w: odd"
