"""Nodes, templates, power managers and hooks of a migrated original CLUES configuration.

Node names come from kubernetes_vnodes.info and from the power manager's host file
(IPMI/WoL/command line); nodes with identical resources and labels become one template
whose `nodes:` is compressed to range patterns (`wn-[1-8]`). Resources follow the original
Kubernetes plugin: `cpu` (older files: `cpus`) and `memory` (bytes unless suffixed), else
KUBERNETES_NODE_SLOTS / KUBERNETES_NODE_MEMORY / KUBERNETES_NODE_PODS. Power options are
named after the clues-py plugin's own `Config` fields when the plugin is installed. The
option tables and the YAML rendering are clues_py.migrate's job.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from clues_py.config import NodeNameError, expand_node_names
from clues_py.migrate_sources import Entry, SourceError, read_hosts, read_vnodes, resolve_beside

if TYPE_CHECKING:
    from clues_py.migrate import _Migration

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


def _config_fields(kind: str) -> set[str] | None:
    """Option names of the installed clues-py power plugin, or None if it is not there."""
    try:
        from clues_py.plugins import POWER, load_class

        return {f.name for f in dataclasses.fields(load_class(POWER, kind).Config)}
    except Exception:  # not installed yet, or broken: fall back to the documented names
        return None


class _PowerBuilder:
    def __init__(self, m: _Migration, kind: str, section: str, prefix: str) -> None:
        self.m, self.kind, self.section, self.prefix = m, kind, section, prefix
        self.fields = _config_fields(kind)
        self.options: dict[str, Any] = {"kind": kind}

    def entry(self, key: str) -> Entry | None:
        return self.m.entry(self.prefix + key, (self.section,))

    def put(self, candidates: Sequence[str], value: Any, e: Entry | None) -> bool:
        for name in candidates:
            if self.fields is None or name in self.fields:
                self.options[name] = value
                return True
        self.m.note(e, f"the clues-py {self.kind} power manager has no option for this "
                    f"(looked for {', '.join(candidates)})", True)  # fmt: skip
        return False


def _command(text: str) -> str:
    # Original placeholders (after ConfigParser's %% -> %): %a address, %h host name.
    return text.replace("%a", "{address}").replace("%h", "{node}")


def build_nodes(m: _Migration, main: Path, vnodes_path: Path | None) -> Nodes:
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
        pb = _PowerBuilder(m, kind, section, prefix)
        instance = kind
        if kind == "im":
            _im_options(pb)
        else:
            hosts = _hosts_options(pb, main, default_hosts, sources, m)
            for name in hosts:
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
        if names.pop(name, None) is not None:
            m.note(disabled, f"{name} left out of the templates (the original ignored it); "
                   "add it back and use `clues disable` if it should be known but untouched")  # fmt: skip
    templates = _templates(m, names, instance)
    return Nodes(backend, power, templates, sum(len(n) for n in _groups(names).values()), sources)


def _vnode_resources(m: _Migration, v: Any, file: str, d_cpu: int, d_mem: int, d_pods: int) -> dict[str, Any]:  # fmt: skip
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


def _templates(m: _Migration, names: dict[str, dict[str, Any]], power: str) -> list[dict[str, Any]]:  # fmt: skip
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


def _im_options(pb: _PowerBuilder) -> None:
    url = pb.entry("REST_API")
    if url is not None and url.value:
        pb.put(("url", "rest_api"), url.value, url)
    auth = pb.entry("AUTH_DATA_FILE")
    pb.put(("auth_file", "auth_data_file"), auth.value if auth else "/usr/local/ec3/auth.dat", auth)
    inf = pb.entry("INF_ID")
    if inf is not None and inf.value:
        pb.put(("infrastructure_id", "inf_id", "infrastructure"), inf.value, inf)
    ca = pb.entry("REST_SSL_CA_CERTS")
    if ca is not None and ca.value.strip("'\""):
        pb.put(("ca_certs", "ca_file", "verify"), ca.value.strip("'\""), ca)
    ssl = pb.entry("REST_SSL")
    if ssl is not None:
        pb.m.note(ssl, "TLS follows the scheme of the url (https://...)")
    for key, why in (
        ("TOSCA", "clues-py's im power manager takes its recipes from the infrastructure"),
        ("DROP_FAILING_VMS", "a VM that never becomes Ready fails after boot_timeout"),
        ("FORGET_MISSING_VMS", "VMs are reconciled with the infrastructure's list"),
        ("DB_CONNECTION_STRING", "the power manager keeps no database of its own"),
    ):
        e = pb.entry(key)
        if e is not None:
            pb.m.note(e, why, True)


def _hosts_options(pb: _PowerBuilder, main: Path, default: str, sources: list[str], m: _Migration) -> dict[str, str]:  # fmt: skip
    hosts_e = pb.entry("HOSTS_FILE")
    path = resolve_beside(main, hosts_e.value if hosts_e and hosts_e.value else default)
    hosts: dict[str, str] = {}
    if path.is_file() or pb.kind != "command":
        if not path.is_file():
            where = f" (set at {hosts_e.where})" if hosts_e else ""
            raise SourceError(str(path), 0, f"host file of the {pb.kind} power manager not "
                              f"found{where}; the original would exit too")  # fmt: skip
        sources.append(str(path))
        hosts = {h.name: h.address for h in read_hosts(path)}
    mapping = {"ipmi": ("hosts", "addresses", "bmc"), "wol": ("macs", "hosts", "addresses"),
               "command": ("addresses", "hosts")}[pb.kind]  # fmt: skip
    if hosts:
        pb.put(mapping, dict(sorted(hosts.items())), hosts_e)
    on, off = pb.entry("CMDLINE_POWON"), pb.entry("CMDLINE_POWOFF")
    for e, candidates in ((on, ("on_command", "power_on", "on")), (off, ("off_command", "power_off", "off"))):  # fmt: skip
        if e is None or not e.value:
            continue
        if pb.kind == "command":
            pb.put(candidates, _command(e.value), e)
        else:
            pb.m.note(e, f"the clues-py {pb.kind} power manager runs its own "
                      f"{'ipmitool' if pb.kind == 'ipmi' else 'magic packet / shutdown'}; "
                      "if this command did more, use kind: command instead", True)  # fmt: skip
    return hosts


def hooks_section(
    given: list[Entry], folder: Entry | None, timeout: Entry | None, cfg_module: ModuleType
) -> tuple[dict[str, Any] | None, list[tuple[Entry | None, str, bool]]]:
    """The `hooks:` section for the original's hook commands, if this clues-py has one."""
    if "hooks" not in getattr(cfg_module, "_SECTIONS", ()):
        why = "this clues-py has no hooks: section; run the script from an event subscriber"
        return None, [(e, why, True) for e in given]
    base = Path(folder.value) if folder and folder.value else None
    section: dict[str, Any] = {}
    problems: list[tuple[Entry | None, str, bool]] = []
    for e in given:
        cmd = e.value if base is None or Path(e.value).is_absolute() else str(base / e.value)
        section[e.key.lower()] = cmd
        problems.append((e, "arguments are now environment variables (see docs)", False))
    if timeout is not None and timeout.value:
        section["timeout"] = float(timeout.value)
    return section, problems
