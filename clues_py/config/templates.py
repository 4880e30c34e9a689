"""Checks of one `templates[]` entry: scalars, node names, quantities, labels and taints.

Builds the `NodeTemplate` a validated entry describes, reporting every problem through the
`_Checker` it is given (file:line:col of the offending key or value). Kubernetes syntax
(label and taint keys and values) is judged by `clues_py.config.bounds`, node-name patterns
by `clues_py.config.names`; cross-template checks (duplicate names, a node in two templates)
are left to `clues_py.config.load`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from clues_py.config.bounds import (
    label_key_problem,
    label_value_problem,
    range_problem,
    show,
)
from clues_py.config.check import Path_, _Checker, _leaf
from clues_py.config.names import NodeNameError, expand_node_names
from clues_py.config.schema import (
    _TEMPLATE,
    _TEMPLATE_KEYS,
    CPU_MILLIS_RANGE,
    MEMORY_BYTES_RANGE,
    TAINT_EFFECTS,
    Key,
    PluginSpec,
)
from clues_py.contracts import MAX_NODES
from clues_py.model import NodeTemplate, QuantityError, Resources, Taint, cpu_millis, to_int


def template(c: _Checker, raw: Any, path: Path_, power: Mapping[str, PluginSpec]) -> NodeTemplate:
    m = c.mapping(raw, path, _TEMPLATE_KEYS)
    v = c.scalars(m, path, _TEMPLATE)
    if v["power"] is not None and v["power"] not in power:
        known = ", ".join(power) or "none"
        c.err((*path, "power"), f"no power instance named {show(v['power'])}",
              f"define it under power:, known instances: {known}")  # fmt: skip
    if v["max_count"] is not None and v["max_count"] < v["min_count"]:
        c.err((*path, "max_count"), f"must be >= min_count ({v['min_count']})")
    names = node_names(c, m, (*path, "nodes"))
    if names and v["min_count"] > len(names):
        c.err((*path, "min_count"), f"{v['min_count']} is more than the {len(names)} nodes")
    cpu = quantity(c, m, (*path, "cpu"), CPU_MILLIS_RANGE, "use e.g. 4 or 500m")
    mem = quantity(c, m, (*path, "memory"), MEMORY_BYTES_RANGE, "use e.g. 8Gi or 8G")
    return NodeTemplate(
        name=v["name"] or "",
        resources=Resources(cpu, mem, v["gpus"], v["pods"]),
        power=v["power"] or "",
        node_names=tuple(names),
        labels=labels(c, m.get("labels"), (*path, "labels")),
        taints=taints(c, m.get("taints"), (*path, "taints")),
        **{k: v[k] for k in _TEMPLATE if k not in ("name", "power", "gpus", "pods")},
    )


def quantity(
    c: _Checker, raw: Mapping[str, Any], path: Path_, bounds: tuple[int, int], hint: str
) -> int:
    """CPU in millicores or memory in bytes, within `bounds` (`cpu: "1e400"` is refused
    before it becomes a 400-digit integer anywhere else)."""
    name = _leaf(path)
    if name not in raw:
        c.err(path, "missing required key", hint, at_key=True)
        return 0
    v = raw[name]
    try:
        if isinstance(v, bool) or v is None:
            raise QuantityError(v)
        n = cpu_millis(v) if name == "cpu" else to_int(v)
    except QuantityError:
        c.err(path, f"not a Kubernetes quantity: {show(v)}", hint)
        return 0
    if n <= 0:
        c.err(path, f"must be positive, got {show(v)}", hint)
        return 0
    if problem := range_problem(n, None, bounds[1]):
        unit = "millicores" if name == "cpu" else "bytes"
        c.err(path, f"{show(v)} is too large ({problem.split(',')[0]} {unit})", hint)
        return 0
    return n


def node_names(c: _Checker, m: Mapping[str, Any], path: Path_) -> list[str]:
    raw = m.get("nodes")
    if raw is None:
        c.err(path, "missing required key", "e.g. nodes: wn-[1-10]", at_key=True)
        return []
    if raw == []:
        c.err(path, "no node names", "give at least one, e.g. nodes: wn-[1-10]")
        return []
    items = raw if isinstance(raw, list) else [raw]
    names: list[str] = []
    for i, item in enumerate(items):
        p = (*path, i) if isinstance(raw, list) else path
        if not isinstance(item, str):
            c.err(p, f"must be a node name or pattern, got {show(item)}", "quote it")
            continue
        try:
            names.extend(expand_node_names(item))
        except NodeNameError as exc:
            c.err(p, str(exc))
        if len(names) > MAX_NODES:
            c.err(path, f"more than {MAX_NODES} node names", "split the template")
            return []
    for dup in sorted(n for n, k in Counter(names).items() if k > 1):
        c.err(path, f"node {dup!r} is listed twice")
    return names


def labels(c: _Checker, raw: Any, path: Path_) -> tuple[tuple[str, str], ...]:
    out = []
    for k, value in c.mapping(raw, path, None).items():
        p = (*path, str(k))
        if isinstance(k, str) and (problem := label_key_problem(k)):
            c.err(p, problem, at_key=True)
        if not isinstance(value, str):
            c.err(p, f"label values must be strings, got {show(value)}", f"quote it: '{value}'")
        elif problem := label_value_problem(value):
            c.err(p, problem)
        out.append((str(k), str(value)))
    return tuple(sorted(out))


_TAINT_KEY = Key("str", None, max_len=316)
_TAINT_VALUE = Key("str", "", max_len=63)
_TAINT_EFFECT = Key("str", "NoSchedule")


def taints(c: _Checker, raw: Any, path: Path_) -> tuple[Taint, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.err(path, f"expected a list of {{key, value, effect}}, got {show(raw)}")
        return ()
    out = []
    for i, item in enumerate(raw):
        p = (*path, i)
        t = c.mapping(item, p, ("key", "value", "effect"))
        key = c.scalar(t, (*p, "key"), _TAINT_KEY)
        value = c.scalar(t, (*p, "value"), _TAINT_VALUE)
        effect = c.scalar(t, (*p, "effect"), _TAINT_EFFECT)
        if isinstance(key, str) and (problem := label_key_problem(key)):
            c.err((*p, "key"), problem)
        if isinstance(value, str) and (problem := label_value_problem(value)):
            c.err((*p, "value"), problem)
        if effect not in TAINT_EFFECTS:
            c.err((*p, "effect"), f"unknown taint effect {show(effect)}",
                  "use one of " + ", ".join(TAINT_EFFECTS))  # fmt: skip
        out.append(Taint(key or "", value, effect))
    return tuple(out)
