"""Workload traces turned into scenarios: Standard Workload Format (SWF) and original CLUES `.sim`.

SWF (Parallel Workloads Archive, v2.2): `;` comment/header lines, then one job per
line of 18 whitespace-separated fields; we use 1 job number, 2 submit, 4 run time,
5 allocated processors (8 requested processors when 5 is missing). A job of P
processors becomes ceil(P / node cores) identical pods of ceil(P / pods) cores
(an MPI job fills whole nodes, as the machines of these traces ran it); memory per
pod is proportional to its cores. Jobs with no run time or no processors (cancelled
records) are skipped, as are jobs wider than the whole cluster; both are counted.

CLUES `.sim` (grycap/clues `cluessim.py`, `etc/simulator/simple.sim`): lines
`time;command;fields...`, `#` comments; `;node;NAME;CORES;MEMORY_MB;COUNT` (no time:
cluster set-up) and `T;job;SLOTS;MEMORY_MB;SECONDS[;NODECOUNT[;CONTROL]]` (NODECOUNT
pods of SLOTS cores each; the `norequest` control is accepted and has no effect
here: clues-py always sees the pending pods). Missing values, which the original
drew at random, are errors. Running the result is `engine.py`'s job.
"""

from __future__ import annotations

import gzip
import math
import re
from dataclasses import dataclass
from pathlib import Path

from clues_py.model import QuantityError, to_int
from clues_py.sim.scenario import JobSpec, NodeGroup, Scenario, ScenarioError

_NODES_RE = re.compile(r"^(\d+)x(\d+)(?:x([0-9.]+[A-Za-z]*))?$")


@dataclass(frozen=True)
class SwfJob:
    number: int
    submit: float
    runtime: float
    procs: int


@dataclass(frozen=True)
class NodeShape:
    count: int
    cores: int
    memory: str = "16Gi"


def parse_nodes(spec: str) -> NodeShape:
    """`16x8` (16 nodes of 8 cores) or `16x8x32Gi`."""
    m = _NODES_RE.match(spec.strip())
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise ScenarioError(f"--nodes {spec!r}: write COUNTxCORES[xMEMORY], e.g. 16x8 or 16x8x32Gi")
    memory = m.group(3) or f"{2 * int(m.group(2))}Gi"
    try:
        to_int(memory)
    except (QuantityError, ValueError):
        raise ScenarioError(f"--nodes {spec!r}: memory {memory!r} is not a quantity") from None
    return NodeShape(int(m.group(1)), int(m.group(2)), memory)


def _open_text(path: str | Path) -> list[str]:
    p = Path(path)
    try:
        if p.suffix == ".gz":
            with gzip.open(p, "rt", encoding="utf-8", errors="replace") as fh:
                return fh.read().splitlines()
        return p.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read trace: {exc}") from None


def parse_swf_lines(lines: list[str], source: str = "<swf>") -> tuple[list[SwfJob], int]:
    """(jobs, skipped) from SWF text; skipped counts cancelled / zero-size records."""
    jobs: list[SwfJob] = []
    skipped = 0
    for no, line in enumerate(lines, 1):
        # Only the first eight fields are read: splitting off the other ten of each of a
        # trace's ~200,000 records was most of the parse.
        fields = line.split(None, 8)
        if not fields or fields[0].startswith(";"):
            continue
        if len(fields) < 8:
            raise ScenarioError(
                f"{source}:{no}: SWF records have 18 fields, this one has {len(fields)}"
            )
        try:
            number, submit, runtime = int(fields[0]), float(fields[1]), float(fields[3])
            procs = int(fields[4])
            if procs <= 0:
                procs = int(fields[7])
        except ValueError:
            raise ScenarioError(
                f"{source}:{no}: SWF fields must be numbers: {line.strip()[:60]!r}"
            ) from None
        if runtime <= 0 or procs <= 0 or submit < 0:
            skipped += 1
            continue
        jobs.append(SwfJob(number, submit, runtime, procs))
    jobs.sort(key=lambda j: (j.submit, j.number))
    return jobs, skipped


def swf_scenario(
    path: str | Path,
    *,
    nodes: str = "16x8",
    start: float = 0.0,
    hours: float | None = None,
    seed: int = 0,
    boot_seconds: float = 60.0,
    shutdown_seconds: float = 30.0,
    watts_idle: float = 120.0,
    watts_busy: float = 250.0,
    lines: list[str] | None = None,
) -> tuple[Scenario, dict[str, int]]:
    """A scenario of the jobs submitted in [start, start + hours*3600), times shifted to 0."""
    shape = parse_nodes(nodes)
    raw, skipped = parse_swf_lines(lines if lines is not None else _open_text(path), str(path))
    end = start + hours * 3600.0 if hours is not None else math.inf
    mem_per_core = to_int(shape.memory) // shape.cores
    jobs: list[JobSpec] = []
    too_wide = 0
    for j in raw:
        if not start <= j.submit < end:
            continue
        if j.procs > shape.count * shape.cores:
            too_wide += 1
            continue
        pods = math.ceil(j.procs / shape.cores)
        cores = math.ceil(j.procs / pods)
        jobs.append(
            JobSpec(
                id=f"swf-{j.number}",
                submit=j.submit - start,
                duration=j.runtime,
                cpu=str(cores),
                memory=str(cores * mem_per_core),
                pods=pods,
            )
        )
    group = NodeGroup(
        name="n",
        count=shape.count,
        cpu=str(shape.cores),
        memory=shape.memory,
        boot_seconds=boot_seconds,
        shutdown_seconds=shutdown_seconds,
        watts_idle=watts_idle,
        watts_busy=watts_busy,
    )
    name = Path(path).name.removesuffix(".gz").removesuffix(".swf")
    scenario = Scenario(name=name, node_groups=(group,), jobs=tuple(jobs), seed=seed)
    return scenario, {"skipped": skipped, "too_wide": too_wide, "jobs": len(jobs)}


def clues_sim_scenario(
    path: str | Path,
    *,
    seed: int = 0,
    boot_seconds: float = 60.0,
    shutdown_seconds: float = 30.0,
    lines: list[str] | None = None,
) -> Scenario:
    """A scenario from an original CLUES `.sim` file (format in the module docstring)."""
    groups: list[NodeGroup] = []
    jobs: list[JobSpec] = []
    src = str(path)
    for no, line in enumerate(lines if lines is not None else _open_text(path), 1):
        fields = [f.strip() for f in line.split("#")[0].strip().split(";")]
        if len(fields) < 2:
            continue
        where = f"{src}:{no}"
        t, command, args = fields[0], fields[1], fields[2:]
        try:
            if command == "node":
                if t:
                    raise ScenarioError(f"{where}: nodes are set up before time starts; drop {t!r}")
                name, cores, mem = args[0], int(args[1]), float(args[2])
                count = int(float(args[3])) if len(args) > 3 and args[3] else 1
                groups.append(
                    NodeGroup(
                        name=re.sub(r"[^a-z0-9-]", "-", name.lower()) or "node",
                        count=count,
                        cpu=str(cores),
                        memory=f"{int(mem)}Mi",
                        boot_seconds=boot_seconds,
                        shutdown_seconds=shutdown_seconds,
                    )
                )
            elif command == "job":
                slots, mem, secs = float(args[0]), float(args[1]), float(args[2])
                nodecount = int(float(args[3])) if len(args) > 3 and args[3] else 1
                control = args[4] if len(args) > 4 else ""
                if control not in ("", "norequest"):
                    raise ScenarioError(f"{where}: unknown control {control!r} (only norequest)")
                jobs.append(
                    JobSpec(
                        id=f"sim-{len(jobs)}",
                        submit=float(t),
                        duration=secs,
                        cpu=f"{int(slots * 1000)}m",
                        memory=f"{int(mem)}Mi",
                        pods=nodecount,
                    )
                )
            else:
                raise ScenarioError(f"{where}: unknown command {command!r} (node or job)")
        except ScenarioError:
            raise
        except (IndexError, ValueError):
            raise ScenarioError(
                f"{where}: bad {command} line {line.strip()!r}; see `;node;NAME;CORES;MEM_MB;COUNT` "
                "and `T;job;SLOTS;MEM_MB;SECONDS[;NODECOUNT]`"
            ) from None
    if not groups:
        raise ScenarioError(f"{src}: no `;node;...` line; the cluster is empty")
    name = Path(path).stem
    return Scenario(name=name, node_groups=tuple(groups), jobs=tuple(jobs), seed=seed)
