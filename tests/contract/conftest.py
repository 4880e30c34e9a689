"""Power-manager contract fixtures: one harness per power manager, behind one registry.

Faked here: nothing of clues-py. `sim` drives a real sandbox API server over HTTP;
`libcloud` drives a moto EC2 server over HTTP. Both on 127.0.0.1, started by the test.

To add a power manager (im, ipmi, wol, command...), write a context-manager factory
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

    def node(self, name: str, provider_id: str = "") -> ManagedNode:
        return ManagedNode(name=name, template=self.template.name, provider_id=provider_id)


HarnessFactory = Callable[[Path, Any], contextlib.AbstractContextManager[PowerHarness]]
POWER_HARNESSES: dict[str, HarnessFactory] = {}


def power_harness(name: str) -> Callable[[Callable[..., Iterator[PowerHarness]]], HarnessFactory]:
    def register(fn: Callable[..., Iterator[PowerHarness]]) -> HarnessFactory:
        factory = contextlib.contextmanager(fn)
        POWER_HARNESSES[name] = factory
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


@pytest.fixture(params=sorted(POWER_HARNESSES))
def harness(request: Any, tmp_path: Path) -> Iterator[PowerHarness]:
    with POWER_HARNESSES[request.param](tmp_path, request) as h:
        yield h
