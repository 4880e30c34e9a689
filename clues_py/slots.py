"""Building frozen, slotted dataclasses through their slots (the planner's hot values).

A frozen dataclass's `__init__` sets each field by name through `object.__setattr__`, and
`dataclasses.replace` also looks the fields up on every call. The daemon copies nodes and
the planner adds and subtracts `Resources` by the thousand per pass, so both are made here
once per class: code generated for the class's fields, as `dataclass` generates `__init__`,
that sets each slot through its own descriptor. Only for classes without `__post_init__`
or defaults that need a factory (every field is given). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

__all__ = ["slot_maker", "slot_replacer"]


def _compile(cls: type, src: list[str], name: str) -> Callable[..., Any]:
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for i, f in enumerate(fields(cls)):
        slot = cls.__dict__[f.name]
        env[f"_set{i}"], env[f"_get{i}"] = slot.__set__, slot.__get__
    exec("\n".join(src), env)  # noqa: S102 - generated from the field names, nothing else
    made: Callable[..., Any] = env[name]
    return made


def slot_maker(cls: type) -> Callable[..., Any]:
    """`f(*values)`: a new `cls` with every field given, in field order."""
    n = len(fields(cls))
    args = ", ".join(f"a{i}" for i in range(n))
    body = [f"    _set{i}(new, a{i})" for i in range(n)]
    return _compile(
        cls, [f"def make({args}):", "    new = _new(_cls)", *body, "    return new"], "make"
    )


def slot_replacer(cls: type) -> Callable[[Any, dict[str, Any]], Any]:
    """`f(obj, changes)`: a copy of `obj` with `changes` (what `dataclasses.replace` gives),
    TypeError naming any key that is not a field."""
    body = [
        f"    _set{i}(new, ch.pop({f.name!r}, _get{i}(obj)) if ch else _get{i}(obj))"
        for i, f in enumerate(fields(cls))
    ]
    src = [
        "def replace(obj, ch):",
        "    new = _new(_cls)",
        *body,
        "    if ch:",
        f"        raise TypeError(f'{cls.__name__} has no field(s) {{sorted(ch)}}')",
        "    return new",
    ]
    return _compile(cls, src, "replace")
