"""Power-manager contract fixtures: one harness per power manager, behind one registry.

Faked here: nothing of clues-py. `sim` drives a real sandbox API server over HTTP;
`libcloud` drives a moto EC2 server over HTTP; `im` a real IM server; `ipmi` one real
ipmi_sim BMC per node through ipmitool; `wol` sends magic packets to machines listening
on UDP; `command` runs shell scripts. All on 127.0.0.1, started by the test. The bare-metal
"machines" keep their power in state files (tests/e2e/command/hardware.py).

To add a power manager, write a context-manager factory
`(tmp_path) -> Iterator[PowerHarness]` and decorate it with `@power_harness("name")`
(in this file or in a module imported below); every contract test then runs for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clues_py.contracts import PluginContext, PowerManager
from clues_py.model import ManagedNode, NodeTemplate, Resources
from clues_py.sandbox import Sandbox
from plugins.power.sim import SimPowerManager
from tests.e2e.libcloud.cloud import MotoCloud, moto_cloud, unique_cluster  # noqa: F401


@dataclass
class PowerHarness:
    pm: PowerManager
    template: NodeTemplate
    # The same kind of manager for another cluster: its instances are not ours.
    other_cluster: PowerManager
    # Same provider, configured so that every power_on fails (bad image, unreachable API...).
    broken: PowerManager
    # False for managers of fixed machines (ipmi, wol, command): list_owned() raises
    # NotImplementedByPlugin and the contract checks that instead of the listing.
    lists_instances: bool = True

    def node(self, name: str, provider_id: str = "") -> ManagedNode:
        return ManagedNode(name=name, template=self.template.name, provider_id=provider_id)


HarnessFactory = Callable[[Path, Any], contextlib.AbstractContextManager[PowerHarness]]
POWER_HARNESSES: dict[str, HarnessFactory] = {}
# Managers of fixed machines (BMCs, MACs, scripts) own nothing they could list.
NON_LISTING: set[str] = set()


def power_harness(
    name: str, *, lists_instances: bool = True
) -> Callable[[Callable[..., Iterator[PowerHarness]]], HarnessFactory]:
    def register(fn: Callable[..., Iterator[PowerHarness]]) -> HarnessFactory:
        factory = contextlib.contextmanager(fn)
        POWER_HARNESSES[name] = factory
        if not lists_instances:
            NON_LISTING.add(name)
        return factory

    return register


def _template(power: str) -> NodeTemplate:
    return NodeTemplate(
        name="wn",
        resources=Resources(cpu_millis=2000, memory_bytes=4 << 30),
        power=power,
        boot_seconds=0.2,
        shutdown_seconds=0.0,
    )


@power_harness("sim")
def _sim(tmp_path: Path, request: Any) -> Iterator[PowerHarness]:
    sb = Sandbox(port=0, pod_start_seconds=0.05).start()
    try:
        t = _template("sim")
        ctx = PluginContext("contract", "sim", {"wn": t})
        # A port that was free a moment ago: nothing listens, every call fails.
        dead = Sandbox(port=0).start()
        dead_url = dead.url
        dead.stop()
        yield PowerHarness(
            pm=SimPowerManager(SimPowerManager.Config(url=sb.url), ctx),
            template=t,
            other_cluster=SimPowerManager(
                SimPowerManager.Config(url=sb.url), PluginContext("someone-else", "sim", {"wn": t})
            ),
            broken=SimPowerManager(SimPowerManager.Config(url=dead_url, timeout=2.0), ctx),
        )
    finally:
        sb.stop()


@power_harness("libcloud")
def _libcloud(tmp_path: Path, request: Any) -> Iterator[PowerHarness]:
    cloud: MotoCloud = request.getfixturevalue("moto_cloud")
    t = _template("cloud")
    cluster = unique_cluster("contract")
    pms = [
        cloud.power_manager(cluster, {"wn": t}),
        cloud.power_manager(unique_cluster("other"), {"wn": t}),
        # moto rejects an unknown subnet, as EC2 does.
        cloud.power_manager(cluster, {"wn": t}, subnet="subnet-doesnotexist"),
    ]
    try:
        yield PowerHarness(pm=pms[0], template=t, other_cluster=pms[1], broken=pms[2])
    finally:
        for pm in pms:
            pm.close()


from tests.e2e.im.conftest import im_server  # noqa: E402, F401  (session fixture)
from tests.e2e.im.harness import im_managers  # noqa: E402


@power_harness("im")
def _im(tmp_path: Path, request: Any) -> Iterator[PowerHarness]:
    # A real IM server (Dummy cloud); skips without the IM package, fails under CI=true.
    with im_managers(tmp_path, request.getfixturevalue("im_server")) as (pm, t, other, broken):
        yield PowerHarness(pm=pm, template=t, other_cluster=other, broken=broken)


from plugins.power.command import CommandPowerManager  # noqa: E402
from plugins.power.ipmi import BMC, IPMIPowerManager  # noqa: E402
from plugins.power.wol import WakeOnLanPowerManager  # noqa: E402
from tests.e2e.command.hardware import CommandMachines, WolMachines  # noqa: E402
from tests.e2e.ipmi.conftest import USER, Bmc, start_bmc, stop_bmc  # noqa: E402

# The node names the contract tests use; fixed machines must be known in advance.
_METAL = [f"wn-{i}" for i in range(1, 7)] + ["wn-never-on"]


@power_harness("ipmi", lists_instances=False)
def _ipmi(tmp_path: Path, request: Any) -> Iterator[PowerHarness]:
    t = _template("ipmi")
    bmcs: dict[str, Bmc] = {}
    try:
        for name in _METAL:
            bmcs[name] = start_bmc(tmp_path, f"bmc-{name}")  # skips/fails without ipmi_sim
        wrong = tmp_path / "wrong-password"
        wrong.write_text("not-the-password\n")
        wrong.chmod(0o600)

        def manager(cluster: str, password_file: Path | None = None) -> IPMIPowerManager:
            nodes = {
                n: BMC("127.0.0.1", b.port, USER, str(password_file or b.password_file))
                for n, b in bmcs.items()
            }
            cfg = IPMIPowerManager.Config(
                nodes=nodes, soft_timeout=5, poll_interval=0.05, retries=0, retry_timeout=1
            )
            return IPMIPowerManager(cfg, PluginContext(cluster, "ipmi", {"wn": t}))

        yield PowerHarness(
            pm=manager("contract"),
            template=t,
            other_cluster=manager("someone-else"),
            # The BMC refuses the session: wrong password.
            broken=manager("contract", wrong),
            lists_instances=False,
        )
    finally:
        for b in bmcs.values():
            stop_bmc(b)


@power_harness("wol", lists_instances=False)
def _wol(tmp_path: Path, request: Any) -> Iterator[PowerHarness]:
    t = _template("wol")
    macs = {n: f"52:54:00:00:01:{i:02x}" for i, n in enumerate(_METAL)}
    machines = WolMachines(tmp_path, macs).start()

    def manager(cluster: str, known: dict[str, str]) -> WakeOnLanPowerManager:
        cfg = WakeOnLanPowerManager.Config(
            macs=known,
            broadcast="127.0.0.1",
            port=machines.port,
            off_command=machines.off,
            status_command=machines.status,
            timeout=10,
            status_timeout=10,
        )
        return WakeOnLanPowerManager(cfg, PluginContext(cluster, "wol", {"wn": t}))

    try:
        yield PowerHarness(
            pm=manager("contract", macs),
            template=t,
            other_cluster=manager("someone-else", macs),
            broken=manager("contract", {}),  # no node has a MAC address
            lists_instances=False,
        )
        assert machines.junk == []  # every datagram was a well-formed magic packet
    finally:
        machines.stop()


@power_harness("command", lists_instances=False)
def _command(tmp_path: Path, request: Any) -> Iterator[PowerHarness]:
    t = _template("command")
    m = CommandMachines(tmp_path)

    def manager(cluster: str, on: list[str]) -> CommandPowerManager:
        cfg = CommandPowerManager.Config(
            on_command=on, off_command=m.off, status_command=m.status, timeout=10
        )
        return CommandPowerManager(cfg, PluginContext(cluster, "command", {"wn": t}))

    yield PowerHarness(
        pm=manager("contract", m.on),
        template=t,
        other_cluster=manager("someone-else", m.on),
        broken=manager("contract", m.broken_on),  # the PDU does not answer
        lists_instances=False,
    )


@pytest.fixture(params=sorted(POWER_HARNESSES))
def harness(request: Any, tmp_path: Path) -> Iterator[PowerHarness]:
    with POWER_HARNESSES[request.param](tmp_path, request) as h:
        assert h.lists_instances == (request.param not in NON_LISTING)
        yield h


@pytest.fixture(params=sorted(set(POWER_HARNESSES) - NON_LISTING))
def listing_harness(request: Any, tmp_path: Path) -> Iterator[PowerHarness]:
    """Only the managers that can list what they own (clouds, IM, the sandbox)."""
    with POWER_HARNESSES[request.param](tmp_path, request) as h:
        yield h
