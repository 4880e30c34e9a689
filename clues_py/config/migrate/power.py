"""Power manager options of a migrated original CLUES configuration.

The original's IPMI, WoL and command-line power managers are all "run this command line
with %a (address from a host file) and %h (node name)"; clues-py has a real `ipmi`
plugin (per-node BMC settings), a `wol` plugin (magic packets, optional off command) and a
`command` plugin (`{node}` in arguments). This module turns the original's options into
those plugins' options, by the names of each plugin's `Config` fields when it is installed,
and reports what cannot be carried over. Node names and templates are nodes.py's.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clues_py.config.migrate.sources import Entry, SourceError, read_hosts, resolve_beside

if TYPE_CHECKING:
    from clues_py.config.migrate.state import Migration


def _config_fields(kind: str) -> set[str] | None:
    """Option names of the installed clues-py power plugin, or None if it is not there."""
    try:
        from clues_py.plugins import POWER, load_class

        cfg_cls = getattr(load_class(POWER, kind), "Config", None)
        if not dataclasses.is_dataclass(cfg_cls):
            return None  # a plugin without a Config dataclass cannot be checked
        return {f.name for f in dataclasses.fields(cfg_cls)}
    except Exception:  # not installed, or broken: fall back to the documented names
        return None


class PowerBuilder:
    """Collects one power instance's options; reports options the plugin lacks."""

    def __init__(self, m: Migration, kind: str, section: str, prefix: str) -> None:
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


def im_options(pb: PowerBuilder) -> None:
    url = pb.entry("REST_API")
    pb.put(("url",), url.value if url and url.value else "http://localhost:8800", url)
    auth = pb.entry("AUTH_DATA_FILE")
    pb.put(("auth_file",), auth.value if auth else "/usr/local/ec3/auth.dat", auth)
    inf = pb.entry("INF_ID")
    if inf is not None and inf.value:
        pb.put(("infrastructure_id",), inf.value, inf)
    else:
        pb.m.note(inf, "the original used the first infrastructure IM lists for these "
                  "credentials; set infrastructure_id (or state_file and base_radl) before "
                  "starting", True, key="IM_VIRTUAL_CLUSTER_INF_ID")  # fmt: skip
    pb.m.note(None, "the original cloned the infrastructure's `wn` RADL system; give each "
              "template a RADL recipe under recipes: (template name -> file)", True,
              key="recipes")  # fmt: skip
    ca = pb.entry("REST_SSL_CA_CERTS")
    if ca is not None:
        pb.m.note(ca, "no CA bundle option: install the CA system-wide" if ca.value.strip("'\"")
                  else "empty: nothing to carry over", bool(ca.value.strip("'\"")))  # fmt: skip
    ssl = pb.entry("REST_SSL")
    if ssl is not None:
        pb.m.note(ssl, "TLS follows the url scheme; the original never verified certificates, "
                  "clues-py does (verify_tls: false only for a self-signed IM)")  # fmt: skip
    for key, why in (
        ("TOSCA", "recipes are RADL; TOSCA templates are not supported"),
        ("DROP_FAILING_VMS", "a VM that never becomes Ready fails after boot_timeout"),
        ("FORGET_MISSING_VMS", "VMs are reconciled with the infrastructure's VM list"),
        ("DB_CONNECTION_STRING", "the infrastructure id is kept in state_file"),
    ):
        e = pb.entry(key)
        if e is not None:
            pb.m.note(e, why, True)


def hosts_options(pb: PowerBuilder, main: Path, default: str, sources: list[str]) -> list[str]:
    """Read the host file and set the plugin's options; returns the node names in it."""
    hosts_e = pb.entry("HOSTS_FILE")
    path = resolve_beside(main, hosts_e.value if hosts_e and hosts_e.value else default)
    hosts: dict[str, str] = {}
    if path.is_file():
        sources.append(str(path))
        hosts = {h.name: h.address for h in read_hosts(path)}
    elif pb.kind != "command":  # the command-line manager works without one
        where = f" (set at {hosts_e.where})" if hosts_e else ""
        raise SourceError(str(path), 0, f"host file of the {pb.kind} power manager not "
                          f"found{where}; the original would exit too")  # fmt: skip
    on, off = pb.entry("CMDLINE_POWON"), pb.entry("CMDLINE_POWOFF")
    if pb.kind == "ipmi":
        _ipmi(pb, hosts, hosts_e, on, off)
    elif pb.kind == "wol":
        pb.put(("macs",), dict(sorted(hosts.items())), hosts_e)
        if on is not None:
            pb.m.note(on, "clues-py sends the magic packet itself (broadcast "
                      "255.255.255.255:9; set broadcast: for another subnet)", True)  # fmt: skip
        if off is not None and off.value:
            _set_command(pb, "off_command", off, path)
    else:
        for e, key in ((on, "on_command"), (off, "off_command")):
            if e is not None and e.value:
                _set_command(pb, key, e, path)
    return list(hosts)


def _set_command(pb: PowerBuilder, key: str, e: Entry, hosts_file: Path) -> None:
    cmd = _command(e.value)
    if "{address}" in cmd:
        # clues-py substitutes only {node}: look the address up in the same host file.
        lookup = f"awk -v n={{node}} '$1 !~ /^#/ && $2 == n {{print $1}}' {hosts_file.resolve()}"
        cmd = f'address="$({lookup})"; ' + cmd.replace("{address}", '"$address"')
        pb.options["shell"] = True
        pb.m.note(e, "%a (address from the host file) is looked up with awk in a shell")
    pb.put((key,), cmd, e)


def _ipmi(pb: PowerBuilder, hosts: dict[str, str], hosts_e: Entry | None,
          on: Entry | None, off: Entry | None) -> None:  # fmt: skip
    pb.put(("nodes",), {n: {"host": a} for n, a in sorted(hosts.items())}, hosts_e)
    defaults: dict[str, Any] = {}
    for e in (on, off):
        if e is None or not e.value:
            continue
        try:
            argv = shlex.split(e.value)
        except ValueError:
            argv = []
        if not argv or not argv[0].endswith("ipmitool"):
            pb.m.note(e, "not a plain ipmitool command (wrapped in ssh?); the ipmi plugin runs "
                      "ipmitool itself: use kind: command to keep this command", True)  # fmt: skip
            continue
        pb.options["ipmitool"] = argv[0]
        opts, rest = _ipmitool_flags(argv[1:])
        if "-I" in opts:
            pb.options["interface"] = opts["-I"]
        if "-C" in opts and opts["-C"].isdigit():
            pb.options["cipher_suite"] = int(opts["-C"])
        if "-p" in opts and opts["-p"].isdigit():
            defaults["port"] = int(opts["-p"])
        if "-U" in opts:
            defaults["user"] = opts["-U"]
        if "-f" in opts:
            defaults["password_file"] = opts["-f"]
        if "-P" in opts:
            pb.m.note(e, "password on the command line is not copied: put it in a 0600 file "
                      "and set defaults.password_file (or password_env)", True)  # fmt: skip
        if "-E" in opts:
            defaults["password_env"] = "IPMI_PASSWORD"
        if e is off and rest[-2:] == ["power", "off"]:
            pb.options["soft_off"] = False  # the original forced the power off
    if defaults:
        pb.options["defaults"] = defaults
    for e in (on, off):
        if e is not None:
            pb.m.note(e, "read into ipmitool options (-I, -C, -p, -U, -f); clues-py builds "
                      "the ipmitool command itself")  # fmt: skip


def _ipmitool_flags(args: list[str]) -> tuple[dict[str, str], list[str]]:
    opts: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-E",):
            opts[a] = ""
        elif a.startswith("-") and len(a) == 2 and i + 1 < len(args):
            opts[a] = args[i + 1]
            i += 1
        else:
            rest.append(a)
        i += 1
    return opts, rest
