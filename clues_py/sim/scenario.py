"""The `clues-scenario/v1` workload format: load, validate, and turn into a clues-py config.

A scenario is a cluster (node groups), daemon overrides, jobs and optionally Kueue queues
(see docs/scenario-format.md and docs/sim.md; the `kueue` section is `queues.py`'s). This module
only parses and
validates; running it is `engine.py`'s job, traces are `traces.py`'s.
Errors name the file and the JSON path of the bad value, and how to fix it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clues_py.model import QuantityError, cpu_millis, to_int
from clues_py.sim.queues import DEFAULT, KueueSpec, parse_kueue

FORMAT = "clues-scenario/v1"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message names the place and the fix."""


@dataclass(frozen=True)
class NodeGroup:
    name: str
    count: int
    cpu: str = "4"
    memory: str = "8Gi"
    gpus: int = 0
    boot_seconds: float = 60.0
    shutdown_seconds: float = 30.0
    initially_on: int = 0
    boot_failure_rate: float = 0.0
    watts_idle: float = 0.0
    watts_busy: float = 0.0
    cost_per_hour: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, Any]] = field(default_factory=list)

    @property
    def node_names(self) -> list[str]:
        return [f"{self.name}-{i}" for i in range(1, self.count + 1)]


@dataclass(frozen=True)
class JobSpec:
    id: str
    submit: float
    duration: float
    cpu: str = "1"
    memory: str = "1Gi"
    gpus: int = 0
    pods: int = 1
    namespace: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    suspended: bool = False
    queue: str = ""  # Kueue LocalQueue (in `namespace`) the job is submitted to

    @property
    def cores(self) -> float:
        return cpu_millis(self.cpu) / 1000.0


@dataclass(frozen=True)
class Scenario:
    name: str
    node_groups: tuple[NodeGroup, ...]
    jobs: tuple[JobSpec, ...]
    config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    until: float | None = None
    description: str = ""
    kueue: KueueSpec | None = None  # queues and quota: the sandbox's mini-Kueue admits jobs


def _quantity(value: Any) -> str:
    return str(value)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {path}: {message}")

    def number(
        self, d: dict[str, Any], key: str, path: str, default: Any, minimum: float = 0.0
    ) -> float:
        v = d.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
            raise self.fail(f"{path}.{key}", f"{v!r} is not a number; write e.g. {key}: 60")
        if v < minimum:
            raise self.fail(f"{path}.{key}", f"{v} is below the minimum {minimum}")
        return v

    def integer(
        self, d: dict[str, Any], key: str, path: str, default: int, minimum: int = 0
    ) -> int:
        v = d.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(f"{path}.{key}", f"{v!r} is not a whole number")
        if v < minimum:
            raise self.fail(f"{path}.{key}", f"{v} is below the minimum {minimum}")
        return v

    def quantity(self, d: dict[str, Any], key: str, path: str, default: str, cpu: bool) -> str:
        v = _quantity(d.get(key, default))
        try:
            cpu_millis(v) if cpu else to_int(v)
        except (QuantityError, ValueError) as exc:
            raise self.fail(
                f"{path}.{key}", f"{v!r} is not a quantity ({exc}); use e.g. '500m', '2Gi'"
            ) from None
        return v

    def mapping(self, d: dict[str, Any], key: str, path: str) -> dict[str, str]:
        v = d.get(key) or {}
        if not isinstance(v, dict):
            raise self.fail(f"{path}.{key}", "must be an object of string to string")
        return {str(k): str(x) for k, x in v.items()}

    def keys(self, d: Any, path: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(d, dict):
            raise self.fail(path, "must be a JSON object")
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise self.fail(path, f"unknown key(s) {unknown}; allowed: {sorted(allowed)}")
        return d


_GROUP_KEYS = {
    "name", "count", "cpu", "memory", "gpus", "boot_seconds", "shutdown_seconds",
    "initially_on", "boot_failure_rate", "watts_idle", "watts_busy", "cost_per_hour",
    "labels", "taints",
}  # fmt: skip
_JOB_KEYS = {
    "id", "submit", "cpu", "memory", "gpus", "duration", "pods", "namespace", "labels",
    "suspended", "queue",
}  # fmt: skip
_TOP_KEYS = {
    "format", "name", "description", "seed", "until", "node_groups", "config", "jobs", "kueue",
}  # fmt: skip


def scenario_from_dict(doc: Any, source: str = "<scenario>") -> Scenario:
    r = _Reader(source)
    doc = r.keys(doc, "$", _TOP_KEYS)
    fmt = doc.get("format", FORMAT)
    if fmt != FORMAT:
        raise r.fail("$.format", f"{fmt!r} is not supported; this simulator reads {FORMAT!r}")
    groups: list[NodeGroup] = []
    raw_groups = doc.get("node_groups")
    if not isinstance(raw_groups, list) or not raw_groups:
        raise r.fail("$.node_groups", "needs a non-empty list of node groups")
    for i, g in enumerate(raw_groups):
        p = f"$.node_groups[{i}]"
        g = r.keys(g, p, _GROUP_KEYS)
        name = str(g.get("name", ""))
        if not _NAME_RE.match(name):
            raise r.fail(f"{p}.name", f"{name!r} must be a lowercase DNS label like 'wn'")
        count = r.integer(g, "count", p, 0, 1)
        initially_on = r.integer(g, "initially_on", p, 0)
        if initially_on > count:
            raise r.fail(f"{p}.initially_on", f"{initially_on} exceeds count {count}")
        rate = r.number(g, "boot_failure_rate", p, 0.0)
        if rate > 1:
            raise r.fail(f"{p}.boot_failure_rate", f"{rate} is a probability; use 0..1")
        taints = g.get("taints") or []
        if not isinstance(taints, list):
            raise r.fail(f"{p}.taints", "must be a list of {key, value, effect}")
        groups.append(
            NodeGroup(
                name=name,
                count=count,
                cpu=r.quantity(g, "cpu", p, "4", True),
                memory=r.quantity(g, "memory", p, "8Gi", False),
                gpus=r.integer(g, "gpus", p, 0),
                boot_seconds=float(r.number(g, "boot_seconds", p, 60.0)),
                shutdown_seconds=float(r.number(g, "shutdown_seconds", p, 30.0)),
                initially_on=initially_on,
                boot_failure_rate=float(rate),
                watts_idle=float(r.number(g, "watts_idle", p, 0.0)),
                watts_busy=float(r.number(g, "watts_busy", p, 0.0)),
                cost_per_hour=float(r.number(g, "cost_per_hour", p, 0.0)),
                labels=r.mapping(g, "labels", p),
                taints=[dict(t) for t in taints],
            )
        )
    if len({g.name for g in groups}) != len(groups):
        raise r.fail("$.node_groups", "group names must be unique")
    jobs: list[JobSpec] = []
    raw_jobs = doc.get("jobs") or []
    if not isinstance(raw_jobs, list):
        raise r.fail("$.jobs", "must be a list of jobs")
    seen: set[str] = set()
    for i, j in enumerate(raw_jobs):
        p = f"$.jobs[{i}]"
        j = r.keys(j, p, _JOB_KEYS)
        jid = str(j.get("id", f"job{i}"))
        if jid in seen:
            raise r.fail(f"{p}.id", f"duplicate job id {jid!r}; ids must be unique")
        seen.add(jid)
        ns = str(j.get("namespace", "default"))
        if not _NAME_RE.match(ns):
            raise r.fail(f"{p}.namespace", f"{ns!r} is not a valid namespace name")
        jobs.append(
            JobSpec(
                id=jid,
                submit=float(r.number(j, "submit", p, 0.0)),
                duration=float(r.number(j, "duration", p, None if "duration" not in j else 0)),
                cpu=r.quantity(j, "cpu", p, "1", True),
                memory=r.quantity(j, "memory", p, "1Gi", False),
                gpus=r.integer(j, "gpus", p, 0),
                pods=r.integer(j, "pods", p, 1, 1),
                namespace=ns,
                labels=r.mapping(j, "labels", p),
                suspended=bool(j.get("suspended", False)) or bool(j.get("queue")),
                queue=str(j.get("queue") or ""),
            )
        )
    kueue = parse_kueue(r, doc.get("kueue"), groups, jobs)
    if kueue is not None and kueue.implicit:
        jobs = [replace(j, queue=DEFAULT) if j.suspended and not j.queue else j for j in jobs]
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise r.fail("$.config", "must be an object of clues-py config keys, e.g. {idle_time: 300}")
    until = doc.get("until")
    if until is not None:
        until = float(r.number(doc, "until", "$", 0.0))
    return Scenario(
        name=str(doc.get("name") or Path(source).stem),
        description=str(doc.get("description", "")),
        seed=int(r.integer(doc, "seed", "$", 0)),
        until=until,
        node_groups=tuple(groups),
        jobs=tuple(sorted(jobs, key=lambda x: x.submit)),
        config=dict(config),
        kueue=kueue,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario JSON file; raises ScenarioError naming the file on any problem."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc}") from None
    except ValueError as exc:
        raise ScenarioError(f"{path}: not valid JSON: {exc}") from None
    return scenario_from_dict(doc, str(path))
