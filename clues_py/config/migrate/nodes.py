"""Nodes, templates, power managers and hooks of a migrated original CLUES configuration.

Node names come from kubernetes_vnodes.info and from the power manager's host file
(IPMI/WoL/command line); nodes with identical resources and labels become one template
whose `nodes:` is compressed to range patterns (`wn-[1-8]`). Resources follow the original
Kubernetes plugin: `cpu` (older files: `cpus`) and `memory` (bytes unless suffixed), else
KUBERNETES_NODE_SLOTS / KUBERNETES_NODE_MEMORY / KUBERNETES_NODE_PODS. Power options are
named after the clues-py plugin's own `Config` fields when the plugin is installed. The
option tables and the YAML rendering are clues_py.config.migrate.convert's job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from clues_py.config.load import NodeNameError, expand_node_names
from clues_py.config.migrate.power import PowerBuilder, hosts_options, im_options
from clues_py.config.migrate.sources import Entry, SourceError, read_vnodes

if TYPE_CHECKING:
    from clues_py.config.migrate.state import Migration

GI, MI = 1 << 30, 1 << 20
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<num>\d+)(?P<suffix>\D*)$")
# POWERMANAGER_CLASS module -> (clues-py kind, INI section, option prefix, default host file)
POWER_MANAGERS = {
    "im": ("im", "IM VIRTUAL CLUSTER", "IM_VIRTUAL_CLUSTER_", ""),
    "ipmi": ("ipmi", "IPMI", "IPMI_", "ipmi.hosts"),
    "wol": ("wol", "WOL", "WOL_", "wol.hosts"),
    "commandline": ("command", "COMMANDLINE", "COMMANDLINE_", "commandline.hosts"),
}
VNODE_FIELDS = ("name", "cpu", "cpus", "memory", "gpu", "gpu_vendor", "keywords")


@dataclass
class Nodes:
    backend: dict[str, Any]
    power: dict[str, Any]
    templates: list[dict[str, Any]]
    count: int
    sources: list[str] = field(default_factory=list)


def memory_bytes(text: Any) -> int:
    """The original Kubernetes plugin's `_get_memory_in_bytes`: bare numbers are bytes."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return int(text)
    s = str(text).strip().lower()
    units = {"k": 1 << 10, "m": MI, "g": GI, "t": 1 << 40}
    for suffix in ("ib", "b", "i", ""):
        if suffix and not s.endswith(suffix):
            continue
        core = s[: len(s) - len(suffix)] if suffix else s
        if core and core[-1] in units:
            return int(core[:-1].strip()) * units[core[-1]]
    return int(s)


def quantity(n: int) -> str | int:
    for unit, size in (("Gi", GI), ("Mi", MI)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return n


def compress_names(names: Sequence[str]) -> str | list[str]:
    """Node names as few patterns as possible: wn-1..wn-8 -> 'wn-[1-8]'."""
    groups: dict[tuple[str, str, int], list[int]] = {}
    loose: list[str] = []
    for n in names:
        m = _NUMBERED.match(n)
        if not m:
            loose.append(n)
            continue
        num = m.group("num")
        width = len(num) if num.startswith("0") and len(num) > 1 else 0
        groups.setdefault((m.group("prefix"), m.group("suffix"), width), []).append(int(num))
    out: list[str] = []
    for (prefix, suffix, width), nums in groups.items():
        nums.sort()
        start = prev = nums[0]
        for x in [*nums[1:], None]:
            if x is not None and x == prev + 1:
                prev = x
                continue
            a, b = f"{start:0{width}d}", f"{prev:0{width}d}"
            out.append(f"{prefix}{a}{suffix}" if start == prev else f"{prefix}[{a}-{b}]{suffix}")
            if x is not None:
                start = prev = x
    out += loose
    # Only trust a pattern that expands back to exactly the names it stands for.
    try:
        ok = sorted(n for p in out for n in expand_node_names(p)) == sorted(names)
    except NodeNameError:
        ok = False
    out = out if ok else list(names)
    return out[0] if len(out) == 1 else out


def build_nodes(m: Migration, main: Path, vnodes_path: Path | None) -> Nodes:
    general = ("general",)
    lrms = m.entry("LRMS_CLASS", general)
    if lrms is None or not lrms.value.endswith("kubernetes"):
        m.note(lrms, f"clues-py manages Kubernetes clusters only; LRMS "
               f"{lrms.value if lrms else '(none)'!r} has no backend, kubernetes assumed", True)  # fmt: skip
    backend: dict[str, Any] = {"kind": "kubernetes", "kubeconfig": None}
    kube = ("KUBERNETES",)
    slots_e, mem_e, pods_e = (m.entry(k, kube) for k in
                              ("KUBERNETES_NODE_SLOTS", "KUBERNETES_NODE_MEMORY", "KUBERNETES_NODE_PODS"))  # fmt: skip
    try:
        d_cpu = int(float(slots_e.value)) if slots_e and slots_e.value else 1
        d_mem = memory_bytes(mem_e.value) if mem_e and mem_e.value else GI
        d_pods = int(pods_e.value) if pods_e and pods_e.value else 110
    except ValueError:
        bad = next(e for e in (slots_e, mem_e, pods_e) if e is not None)
        raise SourceError(bad.file, bad.line, f"{bad.key}={bad.value!r} is not a number") from None

    sources: list[str] = []
    names: dict[str, dict[str, Any]] = {}  # node -> resources
    if vnodes_path is not None:
        sources.append(str(vnodes_path))
        for v in read_vnodes(vnodes_path):
            names[v.name] = _vnode_resources(m, v, str(vnodes_path), d_cpu, d_mem, d_pods)
    else:
        m.note(None, "no kubernetes_vnodes.info beside the config and no --vnodes: node names "
               "come only from the power manager's host file", key="vnodes")  # fmt: skip

    pm_e = m.entry("POWERMANAGER_CLASS", general)
    module = pm_e.value.rsplit(".", 1)[-1].lower() if pm_e and pm_e.value else ""
    power: dict[str, Any] = {}
    instance = ""
    if module in POWER_MANAGERS:
        kind, section, prefix, default_hosts = POWER_MANAGERS[module]
        pb = PowerBuilder(m, kind, section, prefix)
        instance = kind
        if kind == "im":
            im_options(pb)
        else:
            for name in hosts_options(pb, main, default_hosts, sources):
                names.setdefault(name, {"cpu": d_cpu, "memory": d_mem, "gpus": 0,
                                        "pods": d_pods, "labels": {}})  # fmt: skip
        timeout = m.entry("TIMEOUT_COMMANDS", general)
        if timeout is not None and kind != "im" and timeout.value:
            pb.put(("timeout",), float(timeout.value), timeout)
        power[instance] = pb.options
    else:
        m.note(pm_e, f"power manager {pm_e.value if pm_e else '(none)'!r} has no clues-py "
               "equivalent; define one under power: and set it in the templates", True)  # fmt: skip

    disabled = m.entry("DISABLED_HOSTS", general)
    for name in disabled.value.split() if disabled else []:
        for mapping in ("nodes", "macs"):
            power.get(instance, {}).get(mapping, {}).pop(name, None)
        if names.pop(name, None) is not None:
            m.note(disabled, f"{name} left out of the templates (the original ignored it); "
                   "add it back and use `clues disable` if it should be known but untouched")  # fmt: skip
    templates = _templates(m, names, instance)
    return Nodes(backend, power, templates, sum(len(n) for n in _groups(names).values()), sources)


def _vnode_resources(m: Migration, v: Any, file: str, d_cpu: int, d_mem: int, d_pods: int) -> dict[str, Any]:  # fmt: skip
    f = v.fields
    where = Entry("vnodes", v.name, "", file, v.line)
    cpu = int(f.get("cpu", f.get("cpus", d_cpu)))
    try:
        mem = memory_bytes(f["memory"]) if "memory" in f else d_mem
    except ValueError:
        raise SourceError(file, v.line, f"{v.name}: memory {f['memory']!r} is not a size") from None
    if mem < MI:
        m.note(where, f"memory {f.get('memory')!r} is {mem} bytes as the original reads it; "
               "if MiB were meant, write e.g. \"1024Mi\" in the template")  # fmt: skip
    gpus = int(f.get("gpu", 0))
    if gpus and str(f.get("gpu_vendor", "nvidia")).lower() != "nvidia":
        m.note(where, f"gpu_vendor {f['gpu_vendor']!r}: clues-py counts gpus as one resource")
    labels: dict[str, str] = {}
    for pair in str(f.get("keywords", "")).split(","):
        if not pair.strip():
            continue
        key, _, value = (s.strip() for s in pair.partition("="))
        if _LABEL_KEY.match(key) and len(value) <= 63 and _LABEL_VALUE.match(value):
            labels[key] = value
        else:
            m.note(where, f"keyword {pair.strip()!r} is not a valid Kubernetes label; left out", True)  # fmt: skip
    for key in f:
        if key not in VNODE_FIELDS:
            m.note(where, f"vnode field {key!r} has no clues-py equivalent", True)
    return {"cpu": cpu, "memory": mem, "gpus": gpus, "pods": d_pods, "labels": labels}


def _groups(names: dict[str, dict[str, Any]]) -> dict[tuple[Any, ...], list[str]]:
    groups: dict[tuple[Any, ...], list[str]] = {}
    for name, r in names.items():
        key = (r["cpu"], r["memory"], r["gpus"], r["pods"], tuple(sorted(r["labels"].items())))
        groups.setdefault(key, []).append(name)
    return groups


def _templates(m: Migration, names: dict[str, dict[str, Any]], power: str) -> list[dict[str, Any]]:  # fmt: skip
    out: list[dict[str, Any]] = []
    used: set[str] = set()
    for (cpu, mem, gpus, pods, labels), members in _groups(names).items():
        bad = [n for n in members if not _valid_name(n)]
        for n in bad:
            m.note(None, f"node name {n!r} is not a valid Kubernetes node name; left out", True)
        members = [n for n in members if n not in bad]
        if not members:
            continue
        base = re.sub(r"[^a-z0-9]+$", "", re.sub(r"\d.*$", "", members[0].split(".")[0])) or "wn"
        name, i = base, 2
        while name in used:
            name, i = f"{base}-{i}", i + 1
        used.add(name)
        t: dict[str, Any] = {"name": name, "power": power, "nodes": compress_names(members),
                             "cpu": cpu, "memory": quantity(mem), "pods": pods}  # fmt: skip
        if gpus:
            t["gpus"] = gpus
        if labels:
            t["labels"] = dict(labels)
        if not power:
            del t["power"]
        out.append(t)
    return out


def _valid_name(n: str) -> bool:
    try:
        return expand_node_names(n) == [n]
    except NodeNameError:
        return False


# Original hook -> clues-py event (docs/hooks.md); None: no such event in clues-py.
HOOK_MAP = {
    "PRE_POWERON": "pre_power_on",
    "POST_POWERON": "post_power_on",
    "PRE_POWEROFF": "pre_power_off",
    "POST_POWEROFF": "post_power_off",
    "OFFERR": "on_error",
    "ONERR": "on_error",
    "IDLE": "on_idle",
    "USED": "on_used",
}


def hooks_section(
    given: list[Entry], folder: Entry | None, timeout: Entry | None, cfg_module: ModuleType
) -> tuple[dict[str, Any] | None, list[tuple[Entry | None, str, bool]]]:
    """The `hooks:` section for the original's hook commands, and what could not be kept."""
    events = getattr(cfg_module, "HOOK_EVENTS", ())
    if not events:
        why = "this clues-py has no hooks: section; run the script from an event subscriber"
        return None, [(e, why, True) for e in given]
    base = Path(folder.value) if folder and folder.value else None
    section: dict[str, Any] = {}
    problems: list[tuple[Entry | None, str, bool]] = []
    for e in given:
        event = HOOK_MAP.get(e.key)
        if event is None or event not in events:
            problems.append(
                (e, "no such event in clues-py (see docs/hooks.md for the events)", True)
            )
            continue
        if event in section:
            problems.append((e, f"{event} is already taken by another original hook", True))
            continue
        # The original ran relative commands from WORKING_FOLDER; keep them runnable.
        cmd = e.value if base is None or Path(e.value).is_absolute() else str(base / e.value)
        spec: dict[str, Any] = {"command": cmd}
        if timeout is not None and timeout.value:
            spec["timeout"] = max(0.01, float(timeout.value))
        if event.startswith("pre_"):
            spec["cancel_on_failure"] = False  # the original ignored pre-hook failures
        section[event] = spec
        problems.append((e, f"now hooks.{event}: it gets CLUES_NODE, CLUES_EVENT... in its "
                         "environment instead of positional arguments", False))  # fmt: skip
    return section, problems
