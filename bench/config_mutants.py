"""Mutants of YAML configs for bench/config_fuzz.py: each is bytes plus whether it must be
refused (`invalid`) or may go either way (`invalid` None).

Structural mutations walk the parsed base and change one place (a value's type, a number
out of range, a name, a missing, unknown or misspelt key); text mutations build YAML bombs
and break the encoding. What counts as certainly invalid follows docs/configuration.md:
strict types, a range for every number, Kubernetes names, required keys, and free-form
mappings (labels, env, tags...) where unknown or misspelt keys are legitimate.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

# Mappings whose keys are the user's own (a typo there is just another name).
FREE = {"labels", "env", "macs", "tags", "images", "sizes", "recipes", "priorities",
        "driver_args", "nodes", "power"}  # fmt: skip
# Keys that accept a negative number.
NEGATIVE_OK = {"priority"}
REQUIRED = {"name", "power", "nodes", "cpu", "memory", "on_command", "off_command", "driver",
            "image", "size", "url", "auth_file", "macs", "cron"}  # fmt: skip
NUMBERS = (-1, 1.0e10, 10**400, float("inf"), float("nan"), 0)
BAD_NAMES = ("", " ", "a b", "x" * 10_000, "-bad-", "UPPER_case!", "é", "a" * 64)


@dataclass(frozen=True)
class Mutant:
    kind: str
    what: str
    data: bytes
    invalid: bool | None  # True: must be refused; None: either way


def _leaves(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))


def _set(data: Any, path: Path_, value: Any) -> Any:
    out = copy.deepcopy(data)
    node = out
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return out


def _dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1 << 20).encode()


def _name(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def _in_free(path: Path_) -> bool:
    return any(p in FREE for p in path[:-1] if isinstance(p, str)) or "driver_args" in path


def _type_swaps(base: Any) -> Iterator[Mutant]:
    for path, v in _leaves(base):
        if not path or _in_free(path) or isinstance(v, dict | list):
            continue
        if isinstance(v, bool):
            swaps: list[tuple[Any, bool | None]] = [("maybe", True), (2, True), ([1], True)]
        elif isinstance(v, int | float):
            swaps = [("abc", True), ([1], True), ({"a": 1}, True), (True, True)]
        elif isinstance(v, str):
            swaps = [([1, 2], True), ({"zz_a": 1}, True), (12345, None)]
        else:
            swaps = [("abc", None), ([1], None)]
        for new, invalid in swaps:
            yield Mutant(
                "type_swap", f"{_name(path)}: {new!r}", _dump(_set(base, path, new)), invalid
            )


def _out_of_range(base: Any) -> Iterator[Mutant]:
    for path, v in _leaves(base):
        if not path or _in_free(path) or isinstance(v, bool) or not isinstance(v, int | float):
            continue
        for new in NUMBERS:
            invalid: bool | None = True
            if new == 0 or (new == -1 and path[-1] in NEGATIVE_OK):
                invalid = None
            text = _dump(_set(base, path, 0)).replace(b": 0\n", b": @@\n", 1)
            value = {float("inf"): ".inf", 1.0e10: "1.0e+10"}.get(new, str(new))
            if new != new:
                value = ".nan"
            data = text.replace(b"@@", value.encode(), 1) if b"@@" in text else _dump(
                _set(base, path, new))  # fmt: skip
            yield Mutant("out_of_range", f"{_name(path)}: {value[:20]}", data, invalid)


def _name_targets(base: dict[str, Any]) -> Iterator[tuple[Path_, str, tuple[str, ...]]]:
    """(path, how to change it, bad values certainly refused there)."""
    label_bad = ("a b", "x" * 10_000, "-bad-", "UPPER_case!", "é", "a" * 64)
    yield ("cluster_name",), "value", BAD_NAMES
    le = base.get("leader_election") or {}
    if "namespace" in le:
        yield ("leader_election", "namespace"), "value", BAD_NAMES
    if "lease_name" in le:
        yield ("leader_election", "lease_name"), "value", BAD_NAMES[:7]
    if "namespace" in (base.get("backend") or {}):
        yield ("backend", "namespace"), "value", BAD_NAMES
    for name in base.get("power") or {}:
        yield ("power", name), "key", BAD_NAMES[:7] + ("a" * 64,)
    for i, t in enumerate(base.get("templates") or []):
        yield ("templates", i, "name"), "value", BAD_NAMES
        yield ("templates", i, "nodes"), "value", BAD_NAMES[:7]
        for k in t.get("labels") or {}:
            yield ("templates", i, "labels", k), "key", ("", *label_bad)
            yield ("templates", i, "labels", k), "value", label_bad
        for j, _ in enumerate(t.get("taints") or []):
            yield ("templates", i, "taints", j, "key"), "value", ("", *label_bad)
            yield ("templates", i, "taints", j, "value"), "value", label_bad


def _rename(data: Any, path: Path_, new: str) -> Any:
    out = copy.deepcopy(data)
    node = out
    for p in path[:-1]:
        node = node[p]
    node[new] = node.pop(path[-1])
    if path[:1] == ("power",):  # templates follow the renamed instance
        for t in out.get("templates") or []:
            if t.get("power") == path[-1]:
                t["power"] = new
    return out


def _bad_names(base: Any) -> Iterator[Mutant]:
    if not isinstance(base, dict):
        return
    for path, how, values in _name_targets(base):
        for bad in values:
            data = _rename(base, path, bad) if how == "key" else _set(base, path, bad)
            yield Mutant("bad_name", f"{how} {_name(path)}: {bad[:20]!r}", _dump(data), True)


def _keys(base: Any) -> Iterator[tuple[Path_, Any]]:
    for path, v in _leaves(base):
        if path and isinstance(path[-1], str):
            yield path, v


def _missing(base: Any) -> Iterator[Mutant]:
    for path, _ in _keys(base):
        out = copy.deepcopy(base)
        node = out
        for p in path[:-1]:
            node = node[p]
        del node[path[-1]]
        required = path[-1] in REQUIRED and not _in_free(path)
        required |= path[-1] == "kind" and path[0] in ("power", "policies")
        yield Mutant("missing_key", _name(path), _dump(out), True if required else None)


def _unknown_and_typos(base: Any) -> Iterator[Mutant]:
    for path, v in _leaves(base):
        if isinstance(v, dict) and path[-1:] != ("driver_args",):
            free = bool(path) and path[-1] in ("priorities", "labels")
            yield Mutant("unknown_key", f"{_name(path)}.zzz_unknown",
                         _dump(_set(base, (*path, "zzz_unknown"), 1) if path else
                               {**base, "zzz_unknown": 1}), None if free else True)  # fmt: skip
    for path, _ in _keys(base):
        key = str(path[-1])
        if len(key) < 3:
            continue
        typo = key[:1] + key[2:] if key[1] != key[2] else key + "x"
        invalid = None if _in_free(path) or path[0] == "power" and len(path) == 2 else True
        yield Mutant("typo", f"{_name(path)} -> {typo}", _dump(_rename(base, path, typo)), invalid)


def _bombs(text: bytes, rng: random.Random) -> Iterator[Mutant]:
    for depth in (5, 7, 9):
        doc = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in range(1, depth + 1):
            doc += f"b{i}: &b{i} [" + ", ".join([f"*{'a' if i == 1 else f'b{i - 1}'}"] * 9) + "]\n"
        yield Mutant("yaml_bomb", f"billion laughs depth {depth}", text + doc.encode(), True)
    for n in (100, 5000, 200_000):
        yield Mutant("yaml_bomb", f"flow depth {n}", text + b"x: " + b"[" * n + b"]" * n + b"\n",
                     True)  # fmt: skip
        yield Mutant("yaml_bomb", f"mapping depth {n}", text + b"x: " + b"{a: " * n + b"}" * n
                     + b"\n", True)  # fmt: skip
    block = "".join("  " * i + "- \n" for i in range(300))
    yield Mutant("yaml_bomb", "block depth 300", text + b"x:\n" + block.encode(), True)
    yield Mutant("yaml_bomb", "merge key", text + b"base: &b {x: 1}\nother:\n  <<: *b\n", True)
    yield Mutant("yaml_bomb", "python tag", text + b"x: !!python/object/apply:os.getpid []\n", True)
    yield Mutant("yaml_bomb", "huge file", text + b"#" * (2 << 20) + b"\n", True)
    yield Mutant("yaml_bomb", "huge integer", text + b"idle_time: " + b"7" * 5000 + b"\n", True)
    yield Mutant("yaml_bomb", "huge key", text + b"k" * 100_000 + b": 1\n", True)
    many = "".join(f"a{i}: &a{i} [1]\n" for i in range(3000)) + "z: [" + ", ".join(
        f"*a{i}" for i in range(3000)) + "]\n"  # fmt: skip
    yield Mutant("yaml_bomb", "3000 aliases", text + many.encode(), True)
    yield Mutant("yaml_bomb", "two documents", text + b"---\nidle_time: 1\n", True)
    yield Mutant("yaml_bomb", "bad timestamp", text + b"x: !!timestamp 2020-13-45\n", True)
    del rng


def _encodings(text: bytes, rng: random.Random) -> Iterator[Mutant]:
    for _ in range(8):
        at = rng.randrange(len(text))
        for bad in (b"\x80", b"\xff", b"\xc3("):
            yield Mutant("encoding", f"byte {bad!r} at {at}", text[:at] + bad + text[at:], True)
        yield Mutant("encoding", f"NUL at {at}", text[:at] + b"\x00" + text[at:], True)
        yield Mutant("encoding", f"BEL at {at}", text[:at] + b"\x07" + text[at:], True)
        yield Mutant("encoding", f"truncated at {at}", text[:at], None)
    yield Mutant("encoding", "latin-1 comment", text + "# café\n".encode("latin-1"), True)
    yield Mutant("encoding", "utf-16 with BOM", text.decode().encode("utf-16"), None)
    yield Mutant("encoding", "utf-16-le without BOM", text.decode().encode("utf-16-le"), True)
    yield Mutant("encoding", "utf-8 BOM", b"\xef\xbb\xbf" + text, None)
    yield Mutant("encoding", "CR line ends", text.replace(b"\n", b"\r"), None)
    yield Mutant("encoding", "CRLF line ends", text.replace(b"\n", b"\r\n"), None)


QUOTA = {"type_swap": 0.2, "out_of_range": 0.2, "bad_name": 0.15, "missing_key": 0.08,
         "unknown_key": 0.07, "typo": 0.08, "yaml_bomb": 0.1, "encoding": 0.12}  # fmt: skip


def mutants(bases: dict[str, str], count: int, rng: random.Random) -> list[Mutant]:
    """About `count` mutants over all bases, each class its share of QUOTA (all the bombs)."""
    pools: dict[str, list[Mutant]] = {k: [] for k in QUOTA}
    for name, text in bases.items():
        base = yaml.safe_load(text)
        raw = text.encode()
        for gen in (_type_swaps, _out_of_range, _bad_names, _missing, _unknown_and_typos):
            for m in gen(base):
                pools[m.kind].append(Mutant(m.kind, f"{name}: {m.what}", m.data, m.invalid))
        for tgen in (_bombs, _encodings):
            for m in tgen(raw, rng):
                pools[m.kind].append(Mutant(m.kind, f"{name}: {m.what}", m.data, m.invalid))
    out: list[Mutant] = []
    for kind, share in QUOTA.items():
        pool = pools[kind]
        want = len(pool) if kind == "yaml_bomb" else max(1, round(count * share))
        out += rng.sample(pool, min(want, len(pool)))
    rng.shuffle(out)
    return out
