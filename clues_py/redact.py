"""Keep secrets (cloud keys, BMC passwords, API tokens) out of logs, API answers and
`clues config show`.

Two layers: values under secret-looking keys are replaced in what we print on purpose
(`redact_tree`), and every secret *value* found in the config (plus the API token) is
scrubbed from any log line or API body that would otherwise carry it (`SCRUBBER`, installed
as a logging filter by `service.setup_logging` and applied by the API server). Deciding what
a plugin does with its secrets is the plugin's business; this module only hides them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

MASK = "***REDACTED***"
# Words that make a key secret, matched against its parts (split on _ - . and camelCase).
_SECRET_WORDS = {
    "password",
    "passwd",
    "pass",
    "secret",
    "token",
    "key",
    "apikey",
    "credential",
    "credentials",
}
# Only as the last word: `auth` is secret, `auth_url` is not.
_SECRET_LAST = {"auth", "authorization"}
# A key ending in one of these names a place, not the secret itself.
_REFERENCE_SUFFIXES = ("file", "path", "env", "name", "id")
# Keys named `key` in these sections are Kubernetes taint/label keys, not secrets.
_PLAIN_KEY_PARENTS = {"taints", "tolerations"}
_MIN_SECRET_LEN = 6  # shorter values would mask ordinary words


def _parts(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    return [p for p in re.split(r"[_\-.\s]+", spaced.lower()) if p]


def is_secret_key(key: str, parent: str = "") -> bool:
    parts = _parts(key)
    if not parts or parts[-1] in _REFERENCE_SUFFIXES:
        return False
    if parts == ["key"] and parent in _PLAIN_KEY_PARENTS:
        return False
    return parts[-1] in _SECRET_LAST or any(p in _SECRET_WORDS for p in parts)


def redact_tree(obj: Any, parent: str = "") -> Any:
    """A copy of `obj` (dicts, lists, scalars) with the values of secret keys masked."""
    if isinstance(obj, Mapping):
        return {
            k: (
                MASK
                if isinstance(k, str) and is_secret_key(k, parent) and v not in (None, "")
                else redact_tree(v, str(k))
            )
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [redact_tree(v, parent) for v in obj]
    return obj


def secret_values(obj: Any, parent: str = "") -> set[str]:
    """Every non-trivial value found under a secret key, as text."""
    out: set[str] = set()
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if isinstance(k, str) and is_secret_key(k, parent):
                out |= _leaves(v)
            else:
                out |= secret_values(v, str(k))
    elif isinstance(obj, list | tuple):
        for v in obj:
            out |= secret_values(v, parent)
    return {s for s in out if len(s) >= _MIN_SECRET_LEN}


def _leaves(obj: Any) -> set[str]:
    if isinstance(obj, Mapping):
        return set().union(*(_leaves(v) for v in obj.values())) if obj else set()
    if isinstance(obj, list | tuple):
        return set().union(*(_leaves(v) for v in obj)) if obj else set()
    return set() if obj is None or isinstance(obj, bool) else {str(obj)}


class Scrubber(logging.Filter):
    """Replaces known secret values in log records and text; thread-safe, add-only."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            merged = set(self._values) | {v for v in values if len(v) >= _MIN_SECRET_LEN}
            # Longest first, so a secret that contains another is masked whole.
            self._values = tuple(sorted(merged, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._values:
            return True
        message = record.getMessage()
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


SCRUBBER = Scrubber()


def config_secrets(cfg: Any) -> set[str]:
    """Secret values of a `clues_py.config.load.Config`: plugin options and the API token."""
    from pathlib import Path

    sections = [cfg.backend, *cfg.power.values(), *cfg.policies, *cfg.expanders]
    found = secret_values({s.instance: dict(s.options) for s in sections})
    if cfg.daemon.token_file:
        try:
            found.add(Path(cfg.daemon.token_file).read_text().strip())
        except OSError:
            pass  # reported by the API server at start-up
    return {v for v in found if len(v) >= _MIN_SECRET_LEN}


def effective_config(cfg: Any) -> dict[str, Any]:
    """The effective configuration (defaults filled in) as plain YAML-able data, redacted."""
    from clues_py.config.load import _TOP  # the top-level scalar keys, in documented order

    def plugin(spec: Any) -> dict[str, Any]:
        return {"kind": spec.kind, **dict(spec.options)}

    data: dict[str, Any] = {k: getattr(cfg, k) for k in _TOP}
    data["daemon"] = asdict(cfg.daemon)
    data["leader_election"] = asdict(cfg.leader_election)
    data["backend"] = plugin(cfg.backend)
    data["power"] = {name: plugin(spec) for name, spec in cfg.power.items()}
    data["templates"] = [
        {
            "name": t.name,
            "power": t.power,
            "nodes": list(t.node_names),
            "cpu": f"{t.resources.cpu_millis}m",
            "memory": t.resources.memory_bytes,
            "gpus": t.resources.gpus,
            "pods": t.resources.pods,
            "labels": dict(t.labels),
            "taints": [asdict(x) for x in t.taints],
            **{
                k: getattr(t, k)
                for k in (
                    "cost_per_hour",
                    "watts_idle",
                    "watts_busy",
                    "boot_seconds",
                    "shutdown_seconds",
                    "min_count",
                    "max_count",
                    "priority",
                )
            },
        }
        for t in cfg.templates
    ]
    data["policies"] = [plugin(p) for p in cfg.policies]
    data["expanders"] = [plugin(p) for p in cfg.expanders]
    redacted: dict[str, Any] = redact_tree(data)
    return redacted
