"""Preflight: the one validation path of a config, shared by `clues config check`,
`cluesd --check`, cluesd's start-up and its SIGHUP reload.

A config is accepted only when cluesd could run with it here: the YAML and every core key
(`clues_py.config.load`), every plugin's options against its `Config` dataclass, ranges
included (`clues_py.plugins`), the policy pipeline and expander chain
(`clues_py.daemon.pipeline`), the files the daemon section names (log file writable, state
database creatable, token file non-empty) and, finally, the backend and power managers
constructed, which catches what only their constructors know (credentials, kubeconfig,
recipes). Constructors do no network I/O, so this stays fast and side-effect free; starting
them is the daemon's job. Every problem becomes a `ConfigIssue` at its file:line:col, all of
them in one `ConfigError`: exit code 2 wherever it is raised.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from clues_py.config.load import Config, ConfigError, ConfigIssue, load_config
from clues_py.contracts import Backend, PluginContext, PluginError, PowerManager
from clues_py.daemon.pipeline import build_pipeline
from clues_py.plugins import BACKENDS, POWER, check_plugins, instantiate, plugin_issue
from clues_py.redact import SCRUBBER, config_secrets

# A config error, wherever it is found (check, start-up): restarting cannot fix it, and the
# systemd unit's RestartPreventExitStatus=2 relies on it.
EXIT_CONFIG = 2


@dataclass
class Checked:
    """A config that passed preflight, with the providers it constructed (None when
    `build=False`); hand them to the daemon, or `close()` them."""

    cfg: Config
    backend: Backend | None = None
    power: dict[str, PowerManager] = field(default_factory=dict)

    def close(self) -> None:
        for pm in self.power.values():
            with contextlib.suppress(Exception):
                pm.close()
        self.power = {}


def check_file(
    path: str | os.PathLike[str],
    *,
    build: bool = True,
    here: bool = True,
    extras: Mapping[str, Any] | None = None,
) -> Checked:
    """Load `path` and run every check; raises ConfigError listing every problem."""
    return check_config(load_config(path), build=build, here=here, extras=extras)


def check_config(
    cfg: Config,
    *,
    build: bool = True,
    here: bool = True,
    extras: Mapping[str, Any] | None = None,
) -> Checked:
    """Every check past the YAML and core keys. `build=False` skips constructing the
    providers (a reload cannot change them); `here=False` also skips everything that
    depends on this machine (files, credentials, kubeconfig), for a config meant for
    another one (`clues config check --portable`)."""
    issues: list[ConfigIssue] = []
    try:
        check_plugins(cfg)
    except ConfigError as exc:
        issues += exc.errors
    if here:
        issues += environment_issues(cfg)
    if cfg.leader_election.enabled and cfg.backend.kind != "kubernetes":
        issues.append(cfg.issue("leader_election.enabled", "needs the kubernetes backend",
                                "it elects the leader with a Lease; or set enabled: false"))  # fmt: skip
    if not issues:
        try:
            build_pipeline(cfg)
        except ConfigError as exc:
            issues += exc.errors
    checked = Checked(cfg)
    if build and here and not issues:
        issues += _construct(checked, dict(extras or {}))
    if issues:
        checked.close()
        raise ConfigError(sorted(issues, key=lambda i: (i.file, i.line, i.column)))
    return checked


def _construct(checked: Checked, extras: dict[str, Any]) -> list[ConfigIssue]:
    cfg = checked.cfg
    SCRUBBER.add(config_secrets(cfg))  # before any plugin can log
    issues: list[ConfigIssue] = []
    templates = cfg.template_map
    specs = [(BACKENDS, "backend", cfg.backend)]
    specs += [(POWER, name, spec) for name, spec in cfg.power.items()]
    for group, name, spec in specs:
        ctx = PluginContext(cfg.cluster_name, name, templates, extras)
        try:
            obj = instantiate(group, spec, ctx)
        except ConfigError as exc:
            issues += exc.errors
            continue
        except Exception as exc:  # noqa: BLE001 - a third-party constructor may raise anything
            issues.append(plugin_issue(spec, _describe(exc)))
            continue
        if group == BACKENDS:
            checked.backend = cast(Backend, obj)
        else:
            checked.power[name] = cast(PowerManager, obj)
    return issues


def _describe(exc: Exception) -> str:
    # PluginError and ValueError carry operator-facing text; anything else says what it was.
    if isinstance(exc, PluginError | ValueError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------- the daemon's files


def environment_issues(cfg: Config) -> list[ConfigIssue]:
    """The files of the `daemon` section, as cluesd would use them here."""
    d = cfg.daemon
    problems = {
        "daemon.log_file": log_file_problem(d.log_file) if d.log_file else ("", ""),
        "daemon.state_db": state_db_problem(d.state_db),
        "daemon.token_file": token_problem(d.token_file) if d.token_file else ("", ""),
    }
    issues = [cfg.issue(key, *problem) for key, problem in problems.items() if problem[0]]
    if d.listen.startswith("unix:"):
        parent = Path(d.listen[5:]).parent
        if not parent.is_dir():
            issues.append(cfg.issue("daemon.listen", f"socket directory {parent} does not exist",
                                    "create it; under systemd, RuntimeDirectory=clues does"))  # fmt: skip
    return issues


def log_file_problem(path: str) -> tuple[str, str]:
    """Whether cluesd can append to `path`: tried for real (a file this creates is removed
    again), since permissions alone do not tell about /proc, read-only mounts or root."""
    p = Path(path)
    if p.is_dir():
        return f"{path} is a directory", f"name a file in it, e.g. {p / 'cluesd.log'}"
    if not p.parent.is_dir():
        return f"directory {p.parent} does not exist", "create it, or set log_file: null (stderr)"
    existed = p.exists()
    try:
        with open(p, "a"):
            pass
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}", "or set log_file: null (stderr)"
    if not existed:
        with contextlib.suppress(OSError):
            p.unlink()
    return "", ""


def state_db_problem(path: str) -> tuple[str, str]:
    """The store creates missing parent directories; the nearest existing one must let it."""
    if path == ":memory:":
        return "", ""
    p = Path(path)
    if p.is_dir():
        return f"{path} is a directory", f"name a file in it, e.g. {p / 'clues.db'}"
    if p.exists():
        if not os.access(p, os.R_OK | os.W_OK):
            return f"cannot write {path}", "check its owner and mode"
        return "", ""
    ancestor = p.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is not a directory", "put the database under a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot create {path}: {ancestor} is not writable", "check its owner and mode"
    return "", ""


def token_problem(path: str) -> tuple[str, str]:
    """Mode 0600 is checked with the config; here: readable and not empty."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read token file {path}: {getattr(exc, 'strerror', None) or exc}", ""
    if not token:
        return f"token file {path} is empty", "put a random secret in it"
    return "", ""
