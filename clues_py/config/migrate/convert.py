"""`clues config migrate`: an original CLUES 2 configuration -> clues-py YAML.

Input is what the original cluesd reads (clues2.cfg, its CONFIG_DIR/*.cfg, the power
managers' host files and kubernetes_vnodes.info; see sources.py). Output is a dict
that `clues_py.config.load` accepts, rendered as YAML with a header, plus `Finding`s: every option
that has no clues-py equivalent, or whose meaning changes on the way, with file:line and
why. Nothing is dropped silently. Unset options get the original's defaults written out,
because clues-py's own defaults differ (IDLE_TIME 1800 vs idle_time 300). Templates and
power options are built in nodes.py and power.py over the
shared state of state.py. Validating the result is config/load.py's
and plugins.py's job; the CLI only prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clues_py.config import load as cfg_module
from clues_py.config.migrate.nodes import build_nodes, hooks_section
from clues_py.config.migrate.sources import SourceError, read_original, resolve_beside
from clues_py.config.migrate.state import Finding, Migration

__all__ = ["Finding", "MigrationResult", "SourceError", "migrate"]

DEFAULT_VNODES = "kubernetes_vnodes.info"

# Options with no clues-py equivalent, and why (section-independent: names are unique).
NO_EQUIVALENT = {
    "LOGGER_MARK": "no periodic 'still alive' log line; use `clues status` or /healthz",
    "DB_CONNECTION_STRING": "clues-py keeps its own SQLite state (daemon.state_db, a different "
    "schema); the original's history is not imported",
    "CLUES_SECRET_TOKEN": "the XML-RPC API is gone; for a TCP API on a non-loopback address "
    "put a random secret in a 0600 file and set daemon.token_file (secrets are not copied)",
    "CLUES_PORT": "the XML-RPC server is replaced by the HTTP API on daemon.listen "
    "(default 127.0.0.1:8484)",
    "CLUES_HOST": "see daemon.listen",
    "CLUES_XMLRPC": "client setting of the XML-RPC API; `clues` uses --address/CLUES_ADDRESS",
    "CLUES_REQUEST_WAIT_TIMEOUT": "clients no longer submit requests; pending pods are demand",
    "PATH_REPORTS_WEB": "the web reports are replaced by `clues report --html OUT.html`",
    "PERIOD_MONITORING_NODES": "nodes and pods are watched (events), not polled",
    "PERIOD_MONITORING_JOBS": "pods are watched (events), not polled",
    "PERIOD_MONITORING_NODES_FAIL_GRACE": "watches re-list after failures; observations "
    "are never guessed",
    "PERIOD_MONITORING_JOBS_FAIL_GRACE": "watches re-list after failures",
    "NEGATIVE_RESOURCES_MEANS_INFINITE": "Kubernetes never reports negative allocatable",
    "DELAY_POWON": "a node counts as on when its Node is Ready",
    "DELAY_POWOFF": "a node counts as off when its power manager says so",
    "COOLDOWN_SERVED_JOBS": "pods are watched; there is no job cache",
    "COOLDOWN_SERVED_REQUESTS": "there are no requests; booked capacity lives in the plan",
    "TIME_OFF_GLITCH_DETECTION": "a NotReady node goes unknown, and back, without "
    "resetting its idle timer",
    "PERIOD_SCHEDULE": "the planner runs on every cluster change and every daemon.tick",
    "RECONSIDER_JOB_TIME": "a pending pod stays demand until it runs; nothing to reconsider",
    "ALLOCATE_SERVED_REQUESTS": "booked capacity lives in the plan",
    "EXTRA_SLOTS_FREE": "no 'free CPU slots' policy; size min_nodes instead",
    "EXTRA_NODES_PERIOD": "policies run on every plan",
    "KUBERNETES_SERVER": "the backend uses a kubeconfig (backend.kubeconfig) or in_cluster",
    "KUBERNETES_PODS_API_URL_PATH": "the official Kubernetes client uses the standard paths",
    "KUBERNETES_NODES_API_URL_PATH": "the official Kubernetes client uses the standard paths",
    "KUBERNETES_TOKEN": "put the token in the kubeconfig given as backend.kubeconfig "
    "(secrets are not copied)",
}
HOOKS = (
    "PRE_POWERON", "POST_POWERON", "PRE_POWEROFF", "POST_POWEROFF", "POWEREDON", "POWEREDOFF",
    "UNEXPECTED_POWERON", "UNEXPECTED_POWEROFF", "ONERR", "OFFERR", "UNKNOWN", "IDLE", "USED",
    "REQUEST",
)  # fmt: skip
SCHEDULERS = {
    "CLUES_SCHEDULER_POWON_REQUESTS": "scale_up",
    "CLUES_SCHEDULER_RECONSIDER_JOBS": "",  # folded into scale_up: pending pods stay demand
    "CLUES_SCHEDULER_POWOFF_IDLE": "idle_off",
    "CLUES_SCHEDULER_POWON_FREE": "min_nodes",
}


@dataclass
class MigrationResult:
    data: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def to_yaml(self) -> str:
        head = [
            "# clues-py configuration migrated by `clues config migrate` from:",
            *(f"#   {s}" for s in self.sources),
            "# Check it with `clues config check FILE`; review the notes below before use.",
            "",
        ]
        body = yaml.safe_dump(self.data, sort_keys=False, default_flow_style=False, width=100)
        tail = ["", "# Original options not migrated or changed (also printed on stderr):"]
        tail += [f"#   {f}" for f in self.findings] or ["#   none"]
        return "\n".join(head) + body + "\n".join(tail) + "\n"


class _Migration(Migration):
    """The section builders of one migration, over the shared state."""

    # -- sections
    def general(self) -> dict[str, Any]:
        daemon: dict[str, Any] = {}
        level = self.entry("LOG_LEVEL", ("general",))
        if level is not None and level.value:
            lv = level.value.upper()
            daemon["log_level"] = lv if lv in ("DEBUG", "INFO", "WARNING", "ERROR") else "DEBUG"
            if daemon["log_level"] != lv:
                self.note(level, f"unknown level {level.value!r}; the original used debug")
        log_file = self.entry("LOG_FILE", ("general",))
        if log_file is not None and log_file.value:
            daemon["log_file"] = log_file.value
            self.note(log_file, "clues-py writes its own log format to the same file")
        daemon["tick"] = self.number("PERIOD_LIFECYCLE", ("monitoring",))
        return daemon

    def timing(self) -> None:
        o = self.out
        o["idle_time"] = self.number("IDLE_TIME", ("scheduling",))
        for section in ("scheduler_power_off_idle", "scheduler_reconsider_jobs"):
            for key in ("IDLE_TIME", "COOLDOWN_NODES", "RECONSIDER_JOB_TIME"):
                e = self.conf.get(section, key)
                if e is not None:
                    self.used.add((section, key))
                    self.note(e, f"the original reads {key} only from [scheduling], so this "
                              "value was ignored; move it there if it was meant", True)  # fmt: skip
        cooldown = self.number("COOLDOWN_NODES", ("scheduling",))
        if cooldown:
            o["scale_down_delay"] = cooldown
            self.note(self.entry("COOLDOWN_NODES", ("scheduling",)),
                      "scale_down_delay counts from the last scale-up, not per node")  # fmt: skip
        o["boot_timeout"] = max(1.0, self.number("MAX_WAIT_POWERON", ("monitoring",)))
        o["shutdown_timeout"] = max(1.0, self.number("MAX_WAIT_POWEROFF", ("monitoring",)))
        on = self.number("RETRIES_POWER_ON", ("scheduling",), int)
        off = self.number("RETRIES_POWER_OFF", ("scheduling",), int)
        o["max_retries"] = max(on, off, 0)
        if on != off:
            self.note(self.entry("RETRIES_POWER_OFF", ("scheduling",)),
                      f"one max_retries for both directions: took the larger ({o['max_retries']})")  # fmt: skip
        backoff = self.number("PERIOD_RECOVERY_NODES", ("scheduling",))
        o["retry_backoff"] = backoff
        o["retry_backoff_max"] = max(backoff, 900.0)
        if (rec := self.entry("PERIOD_RECOVERY_NODES", ("scheduling",))) is not None:
            self.note(rec, "retries back off exponentially from retry_backoff (this value) "
                      "up to retry_backoff_max")  # fmt: skip

    def schedulers(self, n_nodes: int) -> None:
        e = self.entry("SCHEDULER_CLASSES", ("scheduling",))
        names = [s.strip() for s in (e.value if e else "").split(",") if s.strip()]
        kinds: list[str] = []
        for name in names:
            cls = name.rsplit(".", 1)[-1].upper()
            if cls not in SCHEDULERS:
                self.note(e, f"scheduler {name!r} has no clues-py policy", True)
            elif SCHEDULERS[cls]:
                kinds.append(SCHEDULERS[cls])
        if e is None:
            self.note(None, "no SCHEDULER_CLASSES: the original powered nothing on or off; "
                      "clues-py's default policies will", True)  # fmt: skip
        booting = self.number("MAX_BOOTING_NODES", ("scheduling",), int)
        self.out["max_booting"] = booting if booting > 0 else max(1, n_nodes)
        if booting <= 0:
            self.note(self.entry("MAX_BOOTING_NODES", ("scheduling",)),
                      f"0 (the default) meant no limit; max_booting set to the node count "
                      f"({self.out['max_booting']})", key="MAX_BOOTING_NODES")  # fmt: skip
        free = self.number("EXTRA_NODES_FREE", ("scheduling",), int)
        if free > 0:
            fe = self.entry("EXTRA_NODES_FREE", ("scheduling",))
            if "min_nodes" in kinds:
                self.out["min_nodes"] = min(free, n_nodes) if n_nodes else free
                self.note(fe, "min_nodes keeps this many nodes on, busy or not; the original "
                          "kept this many idle nodes on top of the busy ones")  # fmt: skip
            else:
                self.note(fe, "CLUES_Scheduler_PowOn_Free is not in SCHEDULER_CLASSES, so the "
                          "original ignored it", True)  # fmt: skip
        if e is not None and ("scale_up" not in kinds or "idle_off" not in kinds):
            # Spell the pipeline out so a missing scheduler stays missing.
            policies: list[Any] = []
            if "scale_up" in kinds:
                policies.append("scale_up")
            policies.append({"kind": "min_nodes", "min_nodes": self.out.get("min_nodes", 0)})
            if "idle_off" in kinds:
                policies.append({"kind": "idle_off", "idle_time": self.out["idle_time"]})
            policies.append({"kind": "limits", "max_booting": self.out["max_booting"]})
            self.out["policies"] = policies
            self.note(e, "policies listed explicitly to match this scheduler list "
                      f"({', '.join(k['kind'] if isinstance(k, dict) else k for k in policies)})")  # fmt: skip

    def hooks(self) -> None:
        given = [e for k in HOOKS if (e := self.entry(k, ("hooks",))) is not None and e.value]
        folder = self.entry("WORKING_FOLDER", ("hooks",))
        timeout = self.entry("TIMEOUT_COMMAND", ("hooks",))
        if not given:
            return
        # nodes.py builds the `hooks:` section; only emit it when this install has one.
        section, problems = hooks_section(given, folder, timeout, cfg_module)
        if section is not None:
            self.out["hooks"] = section
        for entry, why, dropped in problems:
            self.note(entry, why, dropped)

    def leftovers(self) -> None:
        for e in self.conf.entries():
            if (e.section, e.key) in self.used:
                continue
            why = NO_EQUIVALENT.get(e.key)
            right = self.known.get(e.key)
            if e.section == "client":
                why = "client-side setting of the original `clues`; the new CLI has none"
            elif right is not None and right != e.section:
                why = f"the original reads {e.key} only from [{right}], so it ignored this one"
            elif why is None:
                why = f"no clues-py equivalent for [{e.section}] {e.key}"
            self.note(e, why, True)
        for old, new in self.conf.overridden:
            self.note(old, f"overridden by {new.file}:{new.line}, as in the original", True)


def migrate(cfg_path: str | Path, vnodes: str | Path | None = None) -> MigrationResult:
    """Read an original clues2.cfg (and its conf.d) and build the clues-py config."""
    main = Path(cfg_path)
    conf = read_original(main)
    m = _Migration(conf)
    m.used.add(("general", "CONFIG_DIR"))
    daemon = m.general()
    m.out["cluster_name"] = "clues"
    vnodes_path: Path | None
    if vnodes:
        vnodes_path = Path(vnodes)
    else:
        vnodes_path = resolve_beside(main, DEFAULT_VNODES)
        # Only the default file may silently be absent; a path given explicitly is always used.
        if vnodes is None and not vnodes_path.is_file():
            vnodes_path = None
    m.timing()
    nodes = build_nodes(m, main, vnodes_path)
    m.schedulers(nodes.count)
    m.out["daemon"] = daemon
    m.out["backend"] = nodes.backend
    m.out["power"] = nodes.power
    m.out["templates"] = nodes.templates
    m.hooks()
    m.leftovers()
    order = ["cluster_name", "idle_time", "min_nodes", "max_booting", "scale_down_delay",
             "boot_timeout", "shutdown_timeout", "max_retries", "retry_backoff",
             "retry_backoff_max", "daemon", "backend", "power", "templates", "policies",
             "hooks"]  # fmt: skip
    data = {k: m.out[k] for k in order if k in m.out}
    findings = sorted(m.findings, key=lambda f: (f.file, f.line, f.key))
    sources = [*conf.files, *nodes.sources]
    return MigrationResult(data, findings, sources)
