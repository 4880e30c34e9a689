"""`im` power managers for the shared contract suite (tests/contract), on the IM test server.

The manager under test and the "other cluster" one share one infrastructure, so the
cluster tags, not separate infrastructures, keep their VMs apart. The broken one points
at an infrastructure IM does not know: every power_on gets IM's 404 message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from clues_py.contracts import PluginContext
from clues_py.model import NodeTemplate, Resources
from plugins.power.im import IMPowerManager

from .conftest import AUTH, BASE_RADL, RECIPE, IMClient, IMServer


@contextlib.contextmanager
def im_managers(
    tmp_path: Path, server: IMServer
) -> Iterator[tuple[IMPowerManager, NodeTemplate, IMPowerManager, IMPowerManager]]:
    """(manager, template, other cluster's manager, broken manager)."""
    auth = tmp_path / "im_auth.dat"
    auth.write_text(AUTH)
    infid = IMClient(server.url).call("POST", "/infrastructures", BASE_RADL)["uri"]
    infid = infid.rsplit("/", 1)[-1]
    template = NodeTemplate(
        name="wn",
        resources=Resources(cpu_millis=2000, memory_bytes=4 << 30),
        power="im",
        boot_seconds=0.2,
    )

    def make(cluster: str, inf: str) -> IMPowerManager:
        cfg = IMPowerManager.Config(
            url=server.url,
            auth_file=str(auth),
            recipes={"wn": RECIPE},
            infrastructure_id=inf,
            poll_interval=0.05,
            timeout=10.0,
        )
        return IMPowerManager(cfg, PluginContext(cluster, "im", {"wn": template}))

    managers = [make("contract", infid), make("someone-else", infid), make("contract", "nope")]
    try:
        yield managers[0], template, managers[1], managers[2]
    finally:
        for pm in managers:
            pm.close()
        IMClient(server.url).call("DELETE", f"/infrastructures/{infid}")
