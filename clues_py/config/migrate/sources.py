"""Readers for the original CLUES 2 files, keeping the file and line of every value.

The original reads `clues2.cfg` and then every `CONFIG_DIR/*.cfg` with Python's
`ConfigParser` (through cpyutils.config): section names are case-sensitive, option names are
not, a later file overrides an earlier one, values may continue on indented lines, string
values lose a trailing `# comment`, and `%%` reads as `%`. Its host files (IPMI, WoL,
command line) are `/etc/hosts`-like `ADDRESS NAME` lines; the Kubernetes plugin's virtual
node list is a JSON list of objects (older releases: one node name per line). These
readers reproduce that and raise `SourceError` (file:line) on what the original could not
read either. Turning the values into clues-py settings is `clues_py.config.migrate.convert`'s job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SECTION_RE = re.compile(r"^\[(?P<name>[^\]]+)\]\s*$")
_OPTION_RE = re.compile(r"^(?P<key>[^=:\s][^=:]*?)\s*(?P<sep>[=:])\s*(?P<value>.*)$")


class SourceError(Exception):
    """An original CLUES file that cannot be read or parsed; says where and how to fix it."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")


@dataclass(frozen=True)
class Entry:
    """One `KEY=value` of an INI file: value as the original would read it, and where."""

    section: str
    key: str  # upper case, as the original's variables are spelt
    value: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class OriginalConfig:
    """The merged view of clues2.cfg and its CONFIG_DIR files (later files win)."""

    main: str
    files: list[str] = field(default_factory=list)
    sections: dict[str, dict[str, Entry]] = field(default_factory=dict)
    # Same key given again (in another file or the same one): the earlier one lost.
    overridden: list[tuple[Entry, Entry]] = field(default_factory=list)

    def get(self, section: str, key: str) -> Entry | None:
        return self.sections.get(section, {}).get(key.upper())

    def entries(self) -> Iterator[Entry]:
        for opts in self.sections.values():
            yield from opts.values()


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(str(path), 0, "no such file (check the path)") from None
    except IsADirectoryError:
        raise SourceError(str(path), 0, "is a directory; give the file itself") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(str(path), 0, f"cannot read: {exc}") from None


def _clean(value: str) -> str:
    # cpyutils cuts string values at '#'; ConfigParser's interpolation turns %% into %.
    return value.split("#", 1)[0].strip().replace("%%", "%")


def read_ini(path: str | Path, into: OriginalConfig) -> None:
    """Parse one INI file the way ConfigParser does, merging its options into `into`."""
    p = Path(path)
    text = _read_text(p)
    into.files.append(str(p))
    section: str | None = None
    last: tuple[str, str, int, list[str]] | None = None  # section, key, line, value lines

    def flush() -> None:
        nonlocal last
        if last is None:
            return
        sec, key, line, parts = last
        entry = Entry(sec, key, _clean("\n".join(parts).strip()), str(p), line)
        opts = into.sections.setdefault(sec, {})
        if key in opts:
            into.overridden.append((opts[key], entry))
        opts[key] = entry
        last = None

    for n, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if raw[0] in " \t" and last is not None:
            last[3].append(stripped)  # continuation of a multi-line value
            continue
        flush()
        m = _SECTION_RE.match(stripped)
        if m:
            section = m.group("name").strip()
            into.sections.setdefault(section, {})
            continue
        m = _OPTION_RE.match(stripped)
        if not m:
            raise SourceError(
                str(p), n, f"cannot parse {stripped!r}: expected [section] or KEY=value"
            )
        if section is None:
            raise SourceError(
                str(p), n, f"option {m.group('key')!r} before any [section] header; add one"
            )
        last = (section, m.group("key").strip().upper(), n, [m.group("value")])
    flush()


def read_original(cfg: str | Path) -> OriginalConfig:
    """Read clues2.cfg and the `*.cfg` files of its CONFIG_DIR, as cluesd does."""
    main = Path(cfg)
    conf = OriginalConfig(main=str(main))
    read_ini(main, conf)
    conf_dir = conf.get("general", "CONFIG_DIR")
    if conf_dir is not None and conf_dir.value:
        folder = resolve_beside(main, conf_dir.value)
        for extra in sorted(folder.glob("*.cfg")) if folder.is_dir() else []:
            read_ini(extra, conf)
    return conf


def resolve_beside(main: Path, name: str) -> Path:
    """A relative path is looked up in the folder of clues2.cfg (cpyutils' config_filename)."""
    p = Path(name).expanduser()
    return p if p.is_absolute() else main.parent / p


@dataclass(frozen=True)
class HostLine:
    address: str
    name: str
    line: int


def read_hosts(path: str | Path) -> list[HostLine]:
    """`ADDRESS NAME` lines (IPMI IPs or WoL MACs); '#' starts a comment."""
    p = Path(path)
    out: list[HostLine] = []
    for n, raw in enumerate(_read_text(p).splitlines(), start=1):
        parts = raw.split("#", 1)[0].split()
        if not parts:
            continue
        if len(parts) != 2:
            # The original only logs "malformed host entry" and skips it; a migration
            # that silently loses a node is worse, so stop here.
            raise SourceError(
                str(p), n, f"expected 'ADDRESS NAME', got {raw.strip()!r} (one host per line)"
            )
        out.append(HostLine(parts[0], parts[1], n))
    return out


@dataclass(frozen=True)
class VNode:
    """One virtual node of kubernetes_vnodes.info, with the fields the original reads."""

    name: str
    line: int
    fields: dict[str, Any]


def _json_lines(text: str) -> dict[str, int]:
    """Line of each `"name": "..."` in a JSON vnode list (json keeps no positions)."""
    lines: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        for m in re.finditer(r'"name"\s*:\s*"([^"]*)"', raw):
            lines.setdefault(m.group(1), n)
    return lines


def read_vnodes(path: str | Path) -> list[VNode]:
    """Parse kubernetes_vnodes.info: a JSON list of {name, cpu, memory, gpu, ...} objects,
    or (older releases) one node name per line, optionally followed by `key=value` fields."""
    p = Path(path)
    text = _read_text(p)
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(str(p), exc.lineno, f"invalid JSON: {exc.msg}") from None
        lines = _json_lines(text)
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise SourceError(
                    str(p), 0, f'entry {i} has no "name": each entry needs {{"name": ...}}'
                )
            out.append(VNode(item["name"], lines.get(item["name"], 0), dict(item)))
        return out
    out = []
    for n, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split("#", 1)[0].split()
        if not parts:
            continue
        fields: dict[str, Any] = {"name": parts[0]}
        for part in parts[1:]:
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise SourceError(str(p), n, f"expected key=value after the name, got {part!r}")
            fields[key] = value
        out.append(VNode(parts[0], n, fields))
    return out
