"""A real Infrastructure Manager (IM) REST server on 127.0.0.1, and a "join agent".

Nothing of IM is faked: `im_launcher.py` runs the installed IM package (pip `IM`) in a
subprocess with its Dummy cloud connector, whose VMs are instantly "running" and do
nothing; contextualization is disabled by the infrastructure's RADL (`contextualize ()`),
as IM documents. The join agent stands in for what a real VM would do: when IM reports a
VM running or configured, its kubelet registers the Node in the sandbox; when IM no
longer has the VM, the machine is gone with its Node.

Without IM installed the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import sandbox  # noqa: F401  (fixture, shared not copied)
from tests.e2e.join_agent import PollingAgent
from tests.tools import stop_process, unavailable, wait_started

AUTH = "id = dummy; type = Dummy;\ntype = InfrastructureManager; username = clues; password = pw\n"
BASE_RADL = "contextualize ()\n"
RECIPE = """network public (outbound = 'yes')
system {node_name} (
    cpu.count >= 4 and
    memory.size >= 8g and
    net_interface.0.connection = 'public' and
    disk.0.image.url = 'mock0://linux.for.ev.er/image1' and
    disk.0.os.name = 'linux' and
    app.label = '{cluster}-{template}'
)
"""


def require_im() -> None:
    try:
        if importlib.util.find_spec("IM") is not None:
            return
    except ImportError:
        pass
    unavailable("the IM package is not installed (pip install 'clues-py[im]' or pip install IM)")


@dataclass
class IMServer:
    url: str
    workdir: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / "im.log"
        return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""


@pytest.fixture(scope="session")
def im_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IMServer]:
    require_im()
    workdir = tmp_path_factory.mktemp("im")
    launcher = Path(__file__).with_name("im_launcher.py")
    out = (workdir / "stdout").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(launcher), str(workdir)], stdout=out, stderr=subprocess.STDOUT
    )
    port_file = workdir / "port"
    try:
        wait_started(proc, port_file.exists, "IM server", workdir / "stdout")
        yield IMServer(f"http://127.0.0.1:{port_file.read_text()}", workdir, proc)
    finally:
        stop_process(proc)
        out.close()


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "im_auth.dat"
    path.write_text(AUTH)
    return path


class IMClient:
    """Direct REST calls for test assertions, independent of the plugin under test."""

    def __init__(self, url: str, auth: str = AUTH) -> None:
        self.url = url
        self.auth = "\\n".join(ln for ln in auth.splitlines() if ln.strip())

    def call(self, method: str, path: str, body: str | None = None) -> Any:
        req = urllib.request.Request(
            self.url + path,
            data=body.encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": self.auth,
                "Accept": "application/json",
                "Content-Type": "text/plain",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            exc.close()  # an unclosed error response leaks its socket
            if exc.code == 404:
                return None
            raise
        return json.loads(raw) if raw else {}

    def vms(self, infid: str) -> dict[str, tuple[str, str]]:
        """vm id -> (system name, state) of every VM in the infrastructure."""
        data = self.call("GET", f"/infrastructures/{infid}") or {}
        out = {}
        for item in data.get("uri-list", []):
            vmid = item["uri"].rsplit("/", 1)[-1]
            info = self.call("GET", f"/infrastructures/{infid}/vms/{vmid}")
            if info is None:
                continue
            system = next(r for r in info["radl"] if r["class"] == "system")
            out[vmid] = (system["id"], system.get("state", ""))
        return out


class JoinAgent(PollingAgent):
    name = "im-join-agent"

    """Plays the VMs' kubelets: IM VM up -> sandbox Node; IM VM gone -> machine off."""

    def __init__(
        self,
        client: IMClient,
        cluster: Sandbox,
        infid: Callable[[], str],
        cpu: str = "4",
        memory: str = "8Gi",
    ) -> None:
        self.client, self.sandbox, self.infid = client, cluster, infid
        self.cpu, self.memory = cpu, memory
        self.seen: set[str] = set()  # every VM id that ever joined
        super().__init__()

    def step(self) -> None:
        infid = self.infid()
        if not infid:
            return
        vms = self.client.vms(infid)
        running = {
            vmid: name for vmid, (name, st) in vms.items() if st in ("running", "configured")
        }
        self.seen |= set(running)
        up = set(running.values())
        machines = {m["name"]: m["state"] for m in self.sandbox.machines.list()}
        for name in sorted(up):
            if machines.get(name, "off") == "off":
                self.sandbox.machines.power_on(
                    name, cpu=self.cpu, memory=self.memory, boot_seconds=0.0
                )
        for name, state in machines.items():
            if state in ("on", "booting") and name not in up and name != "master":
                self.sandbox.machines.power_off(name, shutdown_seconds=0.0)
