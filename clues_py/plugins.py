"""Plugin loader: entry points -> classes -> validated `Config` -> instances.

Like libcloud's `get_driver`, but the registry is the `importlib.metadata` entry points
of the groups below, so built-ins and third-party plugins register the same way. Only
the kinds a config names are imported, on first use. Each plugin class carries a `Config`
dataclass (typed fields with defaults); this module checks a `PluginSpec`'s options
against it and reports problems as `ConfigError`s with the file, line and key path.
What a plugin does with its config, and calling it, is the daemon's and actuator's job.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import threading
import types
import typing
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from clues_py.config.bounds import annotation_problem, range_problem, show
from clues_py.config.load import Config, ConfigError, ConfigIssue, PluginSpec
from clues_py.contracts import PluginContext

BACKENDS = "clues_py.backends"
POWER = "clues_py.power"
POLICIES = "clues_py.policies"
EXPANDERS = "clues_py.expanders"
GROUPS = (BACKENDS, POWER, POLICIES, EXPANDERS)

_lock = threading.Lock()
_registered: dict[tuple[str, str], type] = {}  # in-code plugins (tests, embedding)
_loaded: dict[tuple[str, str], type] = {}


class PluginLoadError(Exception):
    """A plugin kind is unknown or its module cannot be imported."""

    def __init__(self, message: str, *, group: str, kind: str, valid: tuple[str, ...] = ()):
        super().__init__(message)
        self.group = group
        self.kind = kind
        self.valid = valid


def _entry_points(group: str) -> dict[str, EntryPoint]:
    out: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        out.setdefault(ep.name, ep)  # first distribution wins, as pip would resolve it
    return out


def available(group: str) -> list[str]:
    """Kinds that can be loaded in `group`, sorted."""
    with _lock:
        extra = {k for g, k in _registered if g == group}
    return sorted(set(_entry_points(group)) | extra)


def register(group: str, kind: str, cls: type) -> None:
    """Register a class without a distribution (tests, programs embedding clues-py)."""
    with _lock:
        _registered[(group, kind)] = cls
        _loaded.pop((group, kind), None)


def unregister(group: str, kind: str) -> None:
    with _lock:
        _registered.pop((group, kind), None)
        _loaded.pop((group, kind), None)


def load_class(group: str, kind: str) -> type:
    """The class registered as `kind` in `group`, importing its module on first use."""
    with _lock:
        if (group, kind) in _registered:
            return _registered[(group, kind)]
        if (group, kind) in _loaded:
            return _loaded[(group, kind)]
    eps = _entry_points(group)
    ep = eps.get(kind)
    short = group.rpartition(".")[2]
    if ep is None:
        valid = tuple(available(group))
        close = difflib.get_close_matches(kind, valid, n=1)
        msg = f"unknown {short} kind {kind!r}; valid kinds: {', '.join(valid) or 'none installed'}"
        if close:
            msg += f" (did you mean {close[0]!r}?)"
        raise PluginLoadError(msg, group=group, kind=kind, valid=valid)
    try:
        obj = ep.load()
    except Exception as exc:  # any import-time failure of third-party code
        raise PluginLoadError(
            f"cannot load {short} plugin {kind!r} from entry point "
            f"'{ep.name} = {ep.value}': {type(exc).__name__}: {exc} "
            "(is the plugin's package and its dependencies installed?)",
            group=group,
            kind=kind,
        ) from exc
    if not isinstance(obj, type):
        raise PluginLoadError(
            f"entry point '{ep.name} = {ep.value}' in {group} is not a class",
            group=group,
            kind=kind,
        )
    with _lock:
        _loaded[(group, kind)] = obj
    return obj


# --------------------------------------------------------------------------- option checking


class _Mismatch(Exception):
    pass


def _tname(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and not typing.get_args(tp):
        return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
            tp, tp.__name__
        )
    return str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any) -> Any:
    """`value` checked (and lightly converted: int->float, list->tuple) against type `tp`,
    including the `Range`/`Pattern` bounds of an `Annotated` type."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return value
    if origin is typing.Annotated:
        # Bounds before conversion: a 400-digit integer must not reach float().
        if args[0] in (int, float) and isinstance(value, int | float):
            for marker in tp.__metadata__:
                if problem := annotation_problem(value, marker):
                    raise _Mismatch(problem)
        out = _coerce(value, args[0])
        for marker in tp.__metadata__:
            if problem := annotation_problem(out, marker):
                raise _Mismatch(problem)
        return out
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        problems = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a)
            except _Mismatch as exc:
                problems.append(str(exc))
        # The right type but out of bounds says more than the list of types.
        bounded = [p for p in problems if not p.startswith("must be ") or "between" in p]
        if len(bounded) == 1:
            raise _Mismatch(bounded[0])
        raise _Mismatch(f"must be {' or '.join(_tname(a) for a in args)}, got {show(value)}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise _Mismatch(f"must be one of {', '.join(map(repr, args))}, got {show(value)}")
    if origin in (list, tuple, set, frozenset) or (
        getattr(origin, "__name__", "") in ("Sequence", "Iterable")
    ):
        if not isinstance(value, list):
            raise _Mismatch(f"must be a list, got {show(value)}")
        item = args[0] if args else Any
        items = [_coerce(v, item) for v in value]
        return list(items) if origin is list else tuple(items)
    if origin is dict or getattr(origin, "__name__", "") == "Mapping":
        if not isinstance(value, dict):
            raise _Mismatch(f"must be a mapping, got {show(value)}")
        vt = args[1] if len(args) == 2 else Any
        out_map = {}
        for k, v in value.items():
            try:
                out_map[str(k)] = _coerce(v, vt)
            except _Mismatch as exc:
                raise _Mismatch(f"{k}: {exc}") from None
        return out_map
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if problem := range_problem(value, -1e300, 1e300):  # inf, nan, 10**400
                raise _Mismatch(problem)
            return float(value)
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            valid = ", ".join(repr(m.value) for m in tp)
            raise _Mismatch(f"must be one of {valid}, got {show(value)}") from None
    elif isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return _nested(tp, value)
    elif isinstance(tp, type) and isinstance(value, tp):
        return value
    raise _Mismatch(f"must be {_tname(tp)}, got {show(value)}")


def _nested(tp: type, value: dict[Any, Any]) -> Any:
    """A dataclass inside an option (e.g. one BMC of the ipmi manager), checked field by
    field like the options themselves."""
    hints = typing.get_type_hints(tp, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
    kwargs: dict[str, Any] = {}
    for key, v in value.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "valid: " + ", ".join(fields)
            raise _Mismatch(f"{key}: unknown option ({hint})")
        try:
            kwargs[key] = _coerce(v, hints.get(key, Any))
        except _Mismatch as exc:
            raise _Mismatch(f"{key}: {exc}") from None
    try:
        return tp(**kwargs)
    except (TypeError, ValueError) as exc:
        raise _Mismatch(str(exc)) from None


def build_plugin_config(cls: type, spec: PluginSpec) -> Any:
    """Instantiate `cls.Config` from `spec.options`; every problem in one ConfigError."""
    issues: list[ConfigIssue] = []
    cfg_cls = getattr(cls, "Config", None)
    if cfg_cls is None:
        for opt in spec.options:
            issues.append(spec.issue(opt, "unknown option", f"{spec.kind} takes no options"))
        if issues:
            raise ConfigError(issues)
        return None
    if not (isinstance(cfg_cls, type) and dataclasses.is_dataclass(cfg_cls)):
        raise TypeError(f"{cls.__module__}.{cls.__qualname__}.Config must be a dataclass")
    hints = typing.get_type_hints(cfg_cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cfg_cls) if f.init}
    kwargs: dict[str, Any] = {}
    for opt, value in spec.options.items():
        if opt not in fields:
            close = difflib.get_close_matches(opt, list(fields), n=1, cutoff=0.6)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"{spec.kind} options: {', '.join(fields) or 'none'}"
            )
            issues.append(spec.issue(opt, "unknown option", hint))
            continue
        try:
            kwargs[opt] = _coerce(value, hints.get(opt, Any))
        except _Mismatch as exc:
            issues.append(spec.issue(opt, str(exc)))
    for name, f in fields.items():
        missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if missing and name not in spec.options:
            issues.append(spec.issue(name, f"missing required option of {spec.kind}"))
    if issues:
        raise ConfigError(issues)
    try:
        return cfg_cls(**kwargs)
    except (TypeError, ValueError) as exc:
        # Cross-field checks in the plugin's __post_init__.
        raise ConfigError([plugin_issue(spec, str(exc))]) from exc


def plugin_issue(spec: PluginSpec, message: str, hint: str = "") -> ConfigIssue:
    """A plugin's own error message as a ConfigIssue at the right place: a message that
    starts with a written option (`power.sim.failure_rate: ...` or `failure_rate: ...`) is
    put at that option's line, anything else at the section's, without repeating the path."""
    path = spec.path or spec.instance
    head, sep, rest = message.partition(": ")
    if sep:
        if head in (path, spec.kind):
            return spec.issue("", rest, hint)
        sub = head.removeprefix(path + ".")
        option = sub.split(".")[0].split("[")[0]
        if option in spec.lines and option != "kind":
            inner = sub[len(option) :].lstrip(".")  # e.g. the node of `macs.wn-1`
            return spec.issue(option, f"{inner}: {rest}" if inner else rest, hint)
    return spec.issue("", message, hint)


def _load_for(group: str, spec: PluginSpec) -> type:
    try:
        return load_class(group, spec.kind)
    except PluginLoadError as exc:
        raise ConfigError([spec.issue("kind", str(exc))]) from exc


def instantiate(group: str, spec: PluginSpec, context: PluginContext) -> object:
    """Load, validate and construct one plugin as `cls(config, context)`.

    Unknown kinds, import failures and bad options raise ConfigError (file:line: key);
    errors from the plugin's constructor itself propagate unchanged.
    """
    cls = _load_for(group, spec)
    return cls(build_plugin_config(cls, spec), context)


def plugin_specs(config: Config) -> list[tuple[str, PluginSpec]]:
    """Every plugin section of a config with its entry-point group, in file order."""
    out = [(BACKENDS, config.backend)]
    out += [(POWER, s) for s in config.power.values()]
    out += [(POLICIES, s) for s in config.policies]
    out += [(EXPANDERS, s) for s in config.expanders]
    return out


def check_plugins(config: Config) -> dict[str, Any]:
    """Load and validate every configured plugin without constructing it (`clues config check`).

    Returns the built `Config` objects keyed by section path; raises one ConfigError
    listing every problem.
    """
    issues: list[ConfigIssue] = []
    built: dict[str, Any] = {}
    for group, spec in plugin_specs(config):
        try:
            built[spec.path or spec.instance] = build_plugin_config(_load_for(group, spec), spec)
        except ConfigError as exc:
            issues.extend(exc.errors)
    if issues:
        raise ConfigError(sorted(issues, key=lambda i: (i.file, i.line)))
    return built
