"""Keep secrets (cloud keys, BMC passwords, API tokens) out of logs, API answers, Events and
`clues config show`.

Three layers: values under secret-looking keys (`is_secret_key`: PGPASSWORD, MYSQL_PWD,
DATABASE_URL, GITHUB_PAT, AWS_SECRET_ACCESS_KEY...) are replaced in what we print on purpose
(`redact_tree`); secrets recognised by their shape (URLs with a password, `ghp_`/`github_pat_`,
`AKIA...`, `xox...` tokens, JWTs, PEM private keys, `password=...` pairs) are masked in every
string (`scrub_shapes`); and every secret *value* found in the config (plus the API token) is
scrubbed from any log line, API body or action error that would otherwise carry it
(`SCRUBBER`, installed as a logging filter by `service.setup_logging` and applied by the API
server and the actuator). Deciding what
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
    "pass",
    "pwd",
    "key",
    "apikey",
    "pat",  # GitHub/GitLab personal access token
    "dsn",  # Sentry and database DSNs carry the credentials
    "webhook",  # a Slack/Teams webhook URL is its own secret
    "cookie",
    "otp",
    "pin",
}
# Parts containing one of these are secret whatever surrounds them: PGPASSWORD, htpasswd,
# client_secret, GH_TOKEN, MYSQL_ROOT_PASSWORD, GOOGLE_APPLICATION_CREDENTIALS...
_SECRET_STEMS = ("password", "passwd", "passphrase", "secret", "token", "credential", "privkey")
# Only as the last word: `auth` is secret, `auth_url` is not.
_SECRET_LAST = {"auth", "authorization"}
# Connection strings: `DATABASE_URL`, `REDIS_URI`, `AZURE_STORAGE_CONNECTION_STRING`.
_CONNECTION_LAST = {"url", "uri", "string", "conn"}
_CONNECTION_WORDS = {
    "database", "db", "redis", "mongo", "mongodb", "postgres", "postgresql", "pg", "mysql",
    "amqp", "rabbitmq", "broker", "sentry", "connection", "jdbc", "sql", "mssql", "elastic",
}  # fmt: skip
# A key ending in one of these names a place, not the secret itself.
_REFERENCE_SUFFIXES = ("file", "path", "env", "name", "id", "dir", "kind", "type", "length", "pair")
# Keys named `key` in these sections are Kubernetes taint/label keys, not secrets.
_PLAIN_KEY_PARENTS = {"taints", "tolerations"}
_MIN_SECRET_LEN = 6  # shorter values would mask ordinary words


def _parts(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    return [p for p in re.split(r"[_\-.\s]+", spaced.lower()) if p]


def is_secret_key(key: str, parent: str = "") -> bool:
    """Whether the value of `key` is a secret, from its name alone (`BMC_PASSWORD`,
    `apiToken`, `DATABASE_URL`), not a reference to one (`password_file`, `key_env`)."""
    parts = _parts(key)
    if not parts or parts[-1] in _REFERENCE_SUFFIXES:
        return False
    if parts == ["key"] and parent in _PLAIN_KEY_PARENTS:
        return False
    if parts[-1] in _SECRET_LAST or any(p in _SECRET_WORDS for p in parts):
        return True
    if any(stem in p for p in parts for stem in _SECRET_STEMS):
        return True
    return parts[-1] in _CONNECTION_LAST and any(p in _CONNECTION_WORDS for p in parts)


# Secrets recognised by their shape, wherever they appear: (pattern, replacement). Groups
# keep what is useful around the secret (the user and host of a URL, the key of a pair).
_SHAPES: list[tuple[re.Pattern[str], str]] = [
    # -----BEGIN ... PRIVATE KEY----- blocks (RSA, EC, OPENSSH, PGP, encrypted...)
    (re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----.*?"
                r"(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|$)", re.S), MASK),
    # scheme://user:password@host -> the password only
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@\"']*:)[^/\s@\"']+@"), rf"\1{MASK}@"),
    # JSON Web Tokens: header.payload.signature
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}"), MASK),
    # GitHub, GitLab, Slack, AWS, Google, Stripe, npm, Vault, DigitalOcean, SendGrid tokens
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|"
                r"glpat-[A-Za-z0-9_\-]{20,}|xox[abposr]-[A-Za-z0-9\-]{10,}|"
                r"(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}|"
                r"AIza[0-9A-Za-z_\-]{35}|[sr]k_(live|test)_[0-9a-zA-Z]{16,}|npm_[A-Za-z0-9]{36}|"
                r"hv[sb]\.[A-Za-z0-9_\-]{20,}|dop_v1_[a-f0-9]{64}|"
                r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,})"), MASK),
    (re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"), MASK),
    # Authorization: Bearer/Basic <credentials>
    # (with a digit: "Bearer required" is prose)
    (re.compile(r"\b(Bearer|Basic|bearer|basic)\s+(?=[A-Za-z._~+/=\-]*[0-9])[A-Za-z0-9._~+/=\-]{8,}"),
     rf"\1 {MASK}"),
    # password=..., "token": "..." in query strings, logs and JSON
    (re.compile(r"(?i)\b((?:[a-z_]*_)?(?:password|passwd|pwd|secret|token|api_?key|"
                r"access_?key|private_?key)=)[^\s&\"',;]+"), rf"\1{MASK}"),
    (re.compile(r"(?i)(\"(?:[a-z_]*_)?(?:password|passwd|secret|token|api_?key|"
                r"private_?key)\"\s*:\s*\")[^\"]+\""), rf"\1{MASK}\""),
]  # fmt: skip


def scrub_shapes(text: str) -> str:
    """`text` with every secret recognised by its shape masked."""
    for pattern, replacement in _SHAPES:
        if pattern.search(text):
            text = pattern.sub(replacement, text)
    return text


def redact_tree(obj: Any, parent: str = "") -> Any:
    """A copy of `obj` (dicts, lists, scalars) with the values of secret keys masked, and
    secrets recognised by their shape masked in every other string."""
    if isinstance(obj, str):
        return scrub_shapes(obj)
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
        """Known secret values, then secrets recognised by their shape."""
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return scrub_shapes(text)

    def filter(self, record: logging.LogRecord) -> bool:
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
                    "boot_cost",
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
