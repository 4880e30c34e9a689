"""Reason maps (key -> reason) built from shared chunks, and their cheap comparison.

A plan says why each waiting pod waits, and at scale most of those reasons are the same
from one plan to the next (15,000 backlog pods that fit nowhere, in a few demand groups).
`Reasons` is a Mapping made of *layers*, the latest winning: *chunks*, dicts shared between
plans and never changed once shared (the packer's reasons of a whole demand group, kept
while the group and its reason stay the same), and private dicts for everything written
key by key. Building a plan then costs the number of chunks, not of keys in them, and
`changed(new, old)` / `gone(new, old)` compare two maps by layer identity: only the keys of
layers that are not in both are looked at (maps with no chunk in common, or whose common
chunks are not in the same order, are compared with C-level set operations). Iterating, `len()` and the views work on one merged dict, built
on first use and kept (the map is read-only once its plan is built).

The planner builds them (`builder.py`, `packing.py`); the decision recorder and the Events
writer compare them. No I/O.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView

__all__ = ["Reasons", "changed", "gone"]

_FEW = 256  # keys looked up through the layers rather than a merged dict


class Reasons(Mapping[str, str]):
    __slots__ = ("_layers", "_shared", "_flat")

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._layers: list[Mapping[str, str]] = []
        self._shared: set[int] = set()  # ids of the layers that are shared chunks
        self._flat: dict[str, str] | None = None
        if items:
            self.update(items)

    # ------------------------------------------------------------------ building

    def __setitem__(self, key: str, value: str) -> None:
        self._own()[key] = value
        self._flat = None

    def update(self, items: Mapping[str, str]) -> None:
        """Copy `items` in (a `Reasons`' shared chunks are shared, not copied)."""
        if isinstance(items, Reasons):
            for layer in items._layers:
                if id(layer) in items._shared:
                    self.add_chunk(layer)
                elif layer:
                    self._own().update(layer)
        elif items:
            self._own().update(items)
        self._flat = None

    def add_chunk(self, chunk: Mapping[str, str]) -> None:
        """Put `chunk`'s entries over the others, by reference: it must never change again."""
        if chunk:
            self._layers.append(chunk)
            self._shared.add(id(chunk))
            self._flat = None

    def _own(self) -> dict[str, str]:
        layers = self._layers
        if not layers or id(layers[-1]) in self._shared:
            layers.append({})
        last = layers[-1]
        assert isinstance(last, dict)
        return last

    def layers(self) -> list[tuple[Mapping[str, str], bool]]:
        """The layers, earliest first, each with whether it is a shared chunk."""
        return [(layer, id(layer) in self._shared) for layer in self._layers]

    # ------------------------------------------------------------------ reading

    def flat(self) -> dict[str, str]:
        """All entries in one dict (built once; do not change it)."""
        if self._flat is None:
            if len(self._layers) == 1 and id(self._layers[0]) not in self._shared:
                self._flat = self._layers[0]  # type: ignore[assignment]
            else:
                out: dict[str, str] = {}
                for layer in self._layers:
                    out.update(layer)
                self._flat = out
        assert self._flat is not None
        return self._flat

    def __getitem__(self, key: str) -> str:
        if self._flat is not None:
            return self._flat[key]
        for layer in reversed(self._layers):
            if key in layer:
                return layer[key]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if self._flat is not None:
            return key in self._flat
        return any(key in layer for layer in self._layers)

    def __iter__(self) -> Iterator[str]:
        return iter(self.flat())

    def __len__(self) -> int:
        return len(self.flat())

    def keys(self) -> KeysView[str]:
        return self.flat().keys()

    def items(self) -> ItemsView[str, str]:
        return self.flat().items()

    def values(self) -> ValuesView[str]:
        return self.flat().values()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Reasons):
            return self.flat() == other.flat()
        if isinstance(other, Mapping):
            return self.flat() == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Reasons({self.flat()!r})"


def _suspects(new: Reasons, old: Reasons) -> set[str] | None:
    """Keys whose entry may differ between `new` and `old`: those of the layers that are not
    in both. None when the chunks in both are not in the same order (then a key in two of
    them may take its value from another one): everything may differ."""
    both = new._shared & old._shared
    if not both:
        return None
    order = [id(layer) for layer in new._layers if id(layer) in both]
    if order != [id(layer) for layer in old._layers if id(layer) in both]:
        return None
    out: set[str] = set()
    for r in (new, old):
        for layer in r._layers:
            if id(layer) not in both:
                out.update(layer)
    return out


def _compared(
    new: Mapping[str, str], old: Mapping[str, str]
) -> tuple[set[str], Mapping[str, str], Mapping[str, str]] | None:
    """The keys to look at and where to look them up, or None: compare everything."""
    if not (isinstance(new, Reasons) and isinstance(old, Reasons)):
        return None
    keys = _suspects(new, old)
    if keys is None:
        return None
    if len(keys) > _FEW:  # many keys: through the merged dicts; a few: through the layers
        return keys, new.flat(), old.flat()
    return keys, new, old


def changed(new: Mapping[str, str], old: Mapping[str, str]) -> set[str]:
    """Keys of `new` whose entry is not in `old` (new, or with another value)."""
    got = _compared(new, old)
    if got is None:
        return {k for k, _ in new.items() - old.items()}
    keys, n, o = got
    return {k for k in keys if k in n and (k not in o or o[k] != n[k])}


def gone(new: Mapping[str, str], old: Mapping[str, str]) -> set[str]:
    """Keys of `old` that `new` does not have."""
    got = _compared(new, old)
    if got is None:
        return set(old.keys() - new.keys())
    keys, n, o = got
    return {k for k in keys if k in o and k not in n}
