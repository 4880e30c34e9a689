"""The state one migration shares between its builders (convert, nodes, power).

`Migration` holds the original config being read, which options were used, the findings
so far and the output being built, with the accessors every builder uses (`entry`,
`number`, `note`). Reading the original files is `sources.py`'s job; what to build from
them is `convert.py`'s, `nodes.py`'s and `power.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clues_py.config.migrate.sources import Entry, OriginalConfig, SourceError

# The original's defaults (clueslib/configlib.py, schedulers.py), used when a key is unset.
ORIGINAL_DEFAULTS = {
    "IDLE_TIME": 1800.0,
    "MAX_WAIT_POWERON": 300.0,
    "MAX_WAIT_POWEROFF": 300.0,
    "RETRIES_POWER_ON": 3,
    "RETRIES_POWER_OFF": 3,
    "PERIOD_LIFECYCLE": 5.0,
    "PERIOD_RECOVERY_NODES": 30.0,
    "MAX_BOOTING_NODES": 0,
    "COOLDOWN_NODES": 0.0,
    "EXTRA_NODES_FREE": 0,
}


@dataclass(frozen=True)
class Finding:
    """An original option not carried over (`dropped`) or carried over with changes."""

    file: str
    line: int
    key: str
    message: str
    dropped: bool = True

    def __str__(self) -> str:
        tag = "not migrated" if self.dropped else "note"
        return f"{self.file}:{self.line}: {self.key}: {tag}: {self.message}"


class Migration:
    """One migration's shared state: the original config, the options used so far, the
    findings, and the clues-py settings being built."""

    def __init__(self, conf: OriginalConfig) -> None:
        self.conf = conf
        self.used: set[tuple[str, str]] = set()
        self.findings: list[Finding] = []
        self.out: dict[str, Any] = {}
        self.known: dict[str, str] = {}  # option -> the section the original reads it from

    # -- access
    def entry(self, key: str, sections: tuple[str, ...]) -> Entry | None:
        self.known.setdefault(key.upper(), sections[0])
        for s in sections:
            e = self.conf.get(s, key)
            if e is not None:
                self.used.add((e.section, e.key))
                return e
        return None

    def number(self, key: str, sections: tuple[str, ...], kind: type = float) -> Any:
        e = self.entry(key, sections)
        if e is None or e.value == "":
            return ORIGINAL_DEFAULTS[key]
        try:
            v = kind(float(e.value)) if kind is int else float(e.value)
        except ValueError:
            raise SourceError(e.file, e.line, f"{key}={e.value!r} is not a number") from None
        if kind is int and float(e.value) != int(float(e.value)):
            raise SourceError(e.file, e.line, f"{key}={e.value!r} must be a whole number")
        return v

    def note(self, e: Entry | None, message: str, dropped: bool = False, key: str = "") -> None:
        """Record a finding at `e`, or (unset option) at the main file under `key`."""
        file, line, name = (e.file, e.line, e.key) if e else (self.conf.main, 0, key or "-")
        self.findings.append(Finding(file, line, name, message, dropped))
