"""`im` power manager: adds and removes VMs of an Infrastructure Manager (IM) infrastructure.

IM (grycap/im) is the server; this plugin is a small client of its REST API over
stdlib HTTP. Powering a node on posts the template's RADL recipe, rendered with the
node's name as the RADL system name, to `POST /infrastructures/<id>`; powering off is
`DELETE /infrastructures/<id>/vms/<vmid>`. Because the system name *is* the node
name, the node <-> VM mapping can always be recovered from IM itself (`list_owned`),
and the daemon also persists the `im://<infid>/<vmid>` provider id it gets back.

The infrastructure is either given (`infrastructure_id`) or created on first use
from `base_radl` and remembered in `state_file`. When a node joins the cluster
(contextualization, kubelet) is IM's and the backend's business, not this module's.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from clues_py.contracts import (
    DAY,
    HOUR,
    OwnedInstance,
    PluginContext,
    PluginError,
    PowerState,
    Range,
)
from clues_py.model import ManagedNode, NodeTemplate

log = logging.getLogger("clues.power.im")

# IM VM states (IM/VirtualMachine.py) -> what the daemon needs to know.
STATES: dict[str, PowerState] = {
    "pending": PowerState.BOOTING,
    "running": PowerState.ON,
    "configured": PowerState.ON,
    # Contextualization failed but the VM is up (and costs): on; the boot timeout judges it.
    "unconfigured": PowerState.ON,
    "stopped": PowerState.OFF,
    "off": PowerState.OFF,
    "failed": PowerState.OFF,
    "deleting": PowerState.STOPPING,
    "unknown": PowerState.UNKNOWN,
}
# States after which waiting for "running" is pointless.
_UP = {"running", "configured", "unconfigured"}
_DEAD = {"failed", "off", "stopped"}

# `{node_name}` but not Jinja's `{{ node_name }}` inside Ansible recipes.
_PLACEHOLDER = re.compile(r"(?<!\{)\{(node_name|template|cluster)\}(?!\})")
# Prefix of the RADL features that mark a VM as ours.
TAG = "clues"
_DEPLOY = re.compile(r"^\s*deploy\s+(\S+)\s+(\S+)", re.MULTILINE)


def state_of(im_state: str) -> PowerState:
    """The PowerState for an IM VM state string (unrecognised ones are UNKNOWN)."""
    return STATES.get(im_state.strip().lower(), PowerState.UNKNOWN)


def render_recipe(
    recipe: str, node_name: str, template: str, cluster: str, instance: str = ""
) -> str:
    """The RADL to add one VM for `node_name`: placeholders substituted, the system tagged
    with `clues.cluster`/`clues.template`/`clues.power` (ownership, see `list_owned`) and
    a deploy line ensured.

    Raises ValueError when the recipe does not define `system {node_name}` or deploys
    anything but exactly one VM of that system.
    """
    values = {"node_name": node_name, "template": template, "cluster": cluster}
    radl = _PLACEHOLDER.sub(lambda m: values[m.group(1)], recipe)
    head = re.search(rf"^\s*system\s+{re.escape(node_name)}\s*\(", radl, re.MULTILINE)
    if head is None:
        raise ValueError(
            "the recipe must define the VM as `system {node_name} ( ... )` so that IM's VM "
            "can be mapped back to its node"
        )
    tags = " and ".join(
        f"{TAG}.{key} = '{value}'"
        for key, value in (("cluster", cluster), ("template", template), ("power", instance))
    )
    empty_body = radl[head.end() :].lstrip().startswith(")")
    radl = f"{radl[: head.end()]}\n    {tags}{'' if empty_body else ' and'}{radl[head.end() :]}"
    deploys = _DEPLOY.findall(radl)
    if not deploys:
        return radl.rstrip() + f"\ndeploy {node_name} 1\n"
    if deploys != [(node_name, "1")]:
        found = ", ".join(f"deploy {s} {n}" for s, n in deploys)
        raise ValueError(f"the recipe may only `deploy {{node_name}} 1`, found: {found}")
    return radl


def auth_header(text: str) -> str:
    """IM's AUTHORIZATION header: the auth file's lines joined by a literal backslash-n."""
    lines = [ln.strip() for ln in text.splitlines()]
    return "\\n".join(ln for ln in lines if ln and not ln.startswith("#"))


def parse_provider_id(provider_id: str) -> tuple[str, str] | None:
    """`im://<infid>/<vmid>` -> (infid, vmid); None for anything else."""
    if not provider_id.startswith("im://"):
        return None
    infid, _, vmid = provider_id[len("im://") :].partition("/")
    return (infid, vmid) if infid and vmid else None


class IMHTTPError(PluginError):
    """IM answered with an HTTP error; `code` is its status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _text_or_file(value: str) -> str:
    """A recipe is inline RADL when it has a newline or parenthesis, else a file path."""
    if "\n" in value or "(" in value:
        return value
    return Path(value).expanduser().read_text()


class IMPowerManager:
    @dataclass(frozen=True)
    class Config:
        url: str  # IM REST endpoint, e.g. https://im.example.org:8800
        auth_file: str  # IM auth file (one credential per line); never logged
        recipes: dict[str, str] = field(default_factory=dict)  # template -> RADL file or text
        infrastructure_id: str = ""  # existing infrastructure; else created from base_radl
        base_radl: str = ""  # file or text to create the infrastructure with
        state_file: str = ""  # where a created infrastructure's id is kept across restarts
        context: bool = True  # let IM (re)contextualize after adding/removing a VM
        # power_on polls this long for running/configured
        wait_running: Annotated[float, Range(1, DAY)] = 300.0
        poll_interval: Annotated[float, Range(0.1, HOUR)] = 5.0
        timeout: Annotated[float, Range(0.1, HOUR)] = 60.0  # per HTTP request
        verify_tls: bool = True

    def __init__(self, config: Config, context: PluginContext) -> None:
        where = f"power.{context.instance}"
        self._cfg = config
        self._ctx = context
        self._url = config.url.rstrip("/")
        if not self._url.startswith(("http://", "https://")):
            raise PluginError(f"{where}.url: {config.url!r} is not an http(s) URL of the IM API")
        try:
            self._auth = auth_header(Path(config.auth_file).expanduser().read_text())
        except OSError as exc:
            raise PluginError(f"{where}.auth_file: cannot read {config.auth_file}: {exc}") from exc
        if not self._auth:
            raise PluginError(f"{where}.auth_file: {config.auth_file} has no credentials")
        if not config.infrastructure_id and not config.state_file:
            raise PluginError(
                f"{where}: set `infrastructure_id` (an existing IM infrastructure) or "
                "`state_file` (where the id of the one created from `base_radl` is kept)"
            )
        try:
            self._base_radl = _text_or_file(config.base_radl) if config.base_radl else ""
        except OSError as exc:
            raise PluginError(f"{where}.base_radl: cannot read {config.base_radl}: {exc}") from exc
        self._recipes: dict[str, str] = {}
        for name, tpl in context.templates.items():
            if tpl.power != context.instance:
                continue
            if name not in config.recipes:
                raise PluginError(f"{where}.recipes: no RADL recipe for template {name!r}")
            try:
                recipe = _text_or_file(config.recipes[name])
                render_recipe(recipe, "probe-node", name, context.cluster_name, context.instance)
            except (OSError, ValueError) as exc:
                raise PluginError(f"{where}.recipes.{name}: {exc}") from exc
            self._recipes[name] = recipe
        self._ssl = None
        if self._url.startswith("https://") and not config.verify_tls:
            self._ssl = ssl.create_default_context()
            self._ssl.check_hostname = False
            self._ssl.verify_mode = ssl.CERT_NONE
        self._lock = threading.Lock()
        self._infid = config.infrastructure_id
        if not self._infid:
            path = Path(config.state_file).expanduser()
            if path.exists():
                self._infid = path.read_text().strip()
        # node name -> vm id, learnt from power_on and list_owned (the daemon persists it too)
        self._vms: dict[str, str] = {}
        self._listed = False

    # ------------------------------------------------------------------ HTTP

    def _call(
        self, method: str, path: str, body: str | None = None, *, missing_ok: bool = False
    ) -> Any:
        headers = {"AUTHORIZATION": self._auth, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "text/plain"
        req = urllib.request.Request(
            self._url + path,
            data=body.encode() if body is not None else None,
            method=method,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(req, timeout=self._cfg.timeout, context=self._ssl) as r:
                raw = r.read()
        except urllib.error.HTTPError as exc:
            with exc:  # an unclosed error response leaks its socket
                if exc.code == 404 and missing_ok:
                    return None
                msg = f"IM {method} {path}: HTTP {exc.code}: {_im_message(exc)}"
            raise IMHTTPError(msg, exc.code) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise PluginError(f"IM at {self._url} unreachable: {exc}") from exc
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def infrastructure(self, create: bool = True) -> str:
        """The infrastructure id, creating it from `base_radl` on first use if allowed."""
        with self._lock:
            if self._infid or not create:
                return self._infid
            data = self._call("POST", "/infrastructures", self._base_radl)
            infid = str(data.get("uri", "") if isinstance(data, dict) else data).rstrip("/")
            infid = infid.rsplit("/", 1)[-1]
            if not infid:
                raise PluginError(f"IM POST /infrastructures: no infrastructure URI in {data!r}")
            path = Path(self._cfg.state_file).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(infid + "\n")
            log.info("created IM infrastructure %s (id kept in %s)", infid, path)
            self._infid = infid
            return infid

    def _vm_ids(self, infid: str) -> list[str]:
        data = self._call("GET", f"/infrastructures/{infid}", missing_ok=True) or {}
        return [str(u["uri"]).rstrip("/").rsplit("/", 1)[-1] for u in data.get("uri-list", [])]

    def _vm_state(self, infid: str, vmid: str) -> str | None:
        data = self._call("GET", f"/infrastructures/{infid}/vms/{vmid}/state", missing_ok=True)
        return None if data is None else str(data.get("state", "unknown"))

    def _vm_system(self, infid: str, vmid: str) -> dict[str, Any] | None:
        """The `system` of a VM's RADL (id = node name, state, tags); None if it is gone."""
        data = self._call("GET", f"/infrastructures/{infid}/vms/{vmid}", missing_ok=True)
        if data is None:
            return None
        for item in data.get("radl", []):
            if item.get("class") == "system":
                return dict(item)
        return {}

    def _locate(self, node: ManagedNode) -> tuple[str, str] | None:
        """(infid, vmid) of the node's VM: provider id, then memory, then a search by name."""
        infid = self.infrastructure(create=False)
        parsed = parse_provider_id(node.provider_id or "")
        if parsed and (not infid or parsed[0] == infid):
            return parsed
        if not infid:
            return None
        if not self._listed:
            self.list_owned()
        vmid = self._vms.get(node.name)
        return (infid, vmid) if vmid else None

    # ------------------------------------------------------------------ contract

    def power_on(self, node: ManagedNode, template: NodeTemplate) -> str:
        recipe = self._recipes.get(template.name)
        if recipe is None:
            raise PluginError(f"power.{self._ctx.instance}: no recipe for template {template.name}")
        radl = render_recipe(
            recipe, node.name, template.name, self._ctx.cluster_name, self._ctx.instance
        )
        infid = self.infrastructure()
        existing = self._live_vm(infid, node.name)
        if existing:
            # A retry (or a restart mid-boot): pressing the button twice makes one VM.
            self._wait_running(node.name, infid, existing)
            return f"im://{infid}/{existing}"
        ctx = "1" if self._cfg.context else "0"
        try:
            data = self._call("POST", f"/infrastructures/{infid}?context={ctx}", radl) or {}
        except IMHTTPError as exc:
            if exc.code != 404 or self._cfg.infrastructure_id:
                raise
            # The infrastructure we created was destroyed behind our back: start a new one.
            log.warning("IM infrastructure %s is gone; creating a new one", infid)
            with self._lock:
                self._infid = ""
            infid = self.infrastructure()
            data = self._call("POST", f"/infrastructures/{infid}?context={ctx}", radl) or {}
        vmids = [str(u["uri"]).rstrip("/").rsplit("/", 1)[-1] for u in data.get("uri-list", [])]
        if len(vmids) != 1:
            raise PluginError(f"IM added {len(vmids)} VMs for {node.name}, expected 1: {data!r}")
        vmid = vmids[0]
        self._vms[node.name] = vmid
        provider_id = f"im://{infid}/{vmid}"
        self._wait_running(node.name, infid, vmid)
        return provider_id

    def _live_vm(self, infid: str, name: str) -> str:
        """The id of a VM of ours for node `name` that is not off, or ""."""
        if not self._listed:
            self.list_owned()  # once per process: learn what an earlier run created
        vmid = self._vms.get(name, "")
        if vmid:
            state = self._vm_state(infid, vmid)
            if state is None or state_of(state) == PowerState.OFF:
                # A stopped or failed VM still exists in IM: replace it, don't leak it.
                if state is not None:
                    self._remove(infid, vmid)
                self._vms.pop(name, None)
                return ""
        return vmid

    def _wait_running(self, name: str, infid: str, vmid: str) -> None:
        deadline = time.monotonic() + self._cfg.wait_running
        state = ""
        while True:
            state = self._vm_state(infid, vmid) or "deleted"
            if state in _UP:
                return
            if state in _DEAD or state == "deleted":
                msg = self._contmsg(infid, vmid)
                self._remove(infid, vmid)
                raise PluginError(f"IM VM {vmid} for {name} is {state}{': ' + msg if msg else ''}")
            if time.monotonic() >= deadline:
                # Still pending: the daemon's boot timeout decides from here.
                log.info("IM VM %s for %s still %s; not waiting any longer", vmid, name, state)
                return
            time.sleep(self._cfg.poll_interval)

    def _contmsg(self, infid: str, vmid: str) -> str:
        try:
            data = self._call(
                "GET", f"/infrastructures/{infid}/vms/{vmid}/contmsg", missing_ok=True
            )
        except PluginError:
            return ""
        text = data.get("contmsg", "") if isinstance(data, dict) else str(data or "")
        return " ".join(str(text).split())[-300:]

    def _remove(self, infid: str, vmid: str) -> None:
        ctx = "1" if self._cfg.context else "0"
        self._call("DELETE", f"/infrastructures/{infid}/vms/{vmid}?context={ctx}", missing_ok=True)

    def power_off(self, node: ManagedNode) -> None:
        """Remove the node's VM and any other VM of ours with its name (duplicates)."""
        targets = set()
        parsed = parse_provider_id(node.provider_id or "")
        if parsed:
            targets.add(parsed)
        for inst in self.list_owned():
            if inst.node_name == node.name:
                targets.add(parse_provider_id(inst.provider_id) or ("", ""))
        for infid, vmid in sorted(targets):
            if infid:
                self._remove(infid, vmid)  # 404: already gone, which is what we want
        self._vms.pop(node.name, None)

    def terminate(self, provider_id: str) -> None:
        """Remove one VM by provider id (reconciliation of duplicates and orphans)."""
        parsed = parse_provider_id(provider_id)
        if parsed is None:
            raise PluginError(f"not an IM provider id: {provider_id!r} (expected im://INF/VM)")
        self._remove(*parsed)
        for name, vmid in list(self._vms.items()):
            if vmid == parsed[1]:
                del self._vms[name]

    def describe(self, node: ManagedNode) -> PowerState:
        where = self._locate(node)
        if where is None:
            return PowerState.OFF
        state = self._vm_state(*where)
        return PowerState.OFF if state is None else state_of(state)

    def list_owned(self) -> list[OwnedInstance]:
        """VMs of the infrastructure tagged with our cluster and power manager instance.

        Untagged VMs (the cluster's front-end, anything made by hand) are never listed,
        so reconciliation never touches them.
        """
        infid = self.infrastructure(create=False)
        if not infid:
            return []
        out = []
        by_name: dict[str, str] = {}  # a live VM wins over a stopped one
        for vmid in self._vm_ids(infid):
            system = self._vm_system(infid, vmid)
            if (
                not system
                or system.get(f"{TAG}.cluster") != self._ctx.cluster_name
                or system.get(f"{TAG}.power", self._ctx.instance) != self._ctx.instance
            ):
                continue
            name = str(system.get("id", ""))
            power = state_of(str(system.get("state", "unknown")))
            if power != PowerState.OFF or name not in by_name:
                by_name[name] = vmid
            template = str(system.get(f"{TAG}.template", ""))
            out.append(OwnedInstance(f"im://{infid}/{vmid}", name, template, power))
        with self._lock:
            self._vms = by_name
            self._listed = True
        return out

    def close(self) -> None:
        pass


def _im_message(exc: urllib.error.HTTPError) -> str:
    raw = exc.read().decode(errors="replace")
    try:
        return str(json.loads(raw).get("message", raw))[:500]
    except (ValueError, AttributeError):
        return raw.strip()[:500]
