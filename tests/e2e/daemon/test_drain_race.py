"""A drain that is over must not power the node off: the race between a drain step still
running on a worker and the drain timeout that puts the node back in service.

Real sandbox, `sim` power manager and cluesd in-process; the race is made deterministic with
a `pre_power_off` hook (it runs inside the drain step, right before the power-off) that
waits for a file the test creates only once the FSM has given up on the drain.
"""

from __future__ import annotations

from pathlib import Path

from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.tools import wait_for

from .conftest import base_config, pod_manifest


def test_a_drain_step_that_returns_after_the_drain_timeout_does_not_power_off(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    raw = base_config(
        sandbox,
        tmp_path,
        idle_time=0.5,
        drain_timeout=1,
        hooks={
            "pre_power_off": {
                "command": f'while [ ! -e "{release}" ]; do sleep 0.05; done',
                "shell": True,
                "timeout": 120,
            }
        },
    )
    raw["templates"][0]["nodes"] = "wn-1"
    service = Service(config_from_dict(raw, source="test")).start()
    daemon = service.daemon
    state = lambda: daemon.control.nodes()[0]["state"]  # noqa: E731
    try:
        sandbox.store.create("pods", pod_manifest("p0", duration="0.5s"), "default")
        wait_for(lambda: state() == "draining", timeout=60, what="wn-1 draining")
        # The drain step is blocked in the hook; the drain timeout puts wn-1 back.
        wait_for(lambda: state() == "idle", timeout=60, what="drain timeout: back in service")
        # Disabled, so the planner starts no new drain of the idle node once the step is
        # over: the only way to a power-off left is the old step's.
        daemon.control.node_op("disable", "wn-1")
        release.touch()
        # The step returns and reports "power-off sent": refused, no provider call, and the
        # node is uncordoned once the step is done.
        uncordoned = lambda: not sandbox.store.get("nodes", "wn-1")["spec"].get("unschedulable")  # noqa: E731
        wait_for(lambda: not daemon.actuator.busy("wn-1") and uncordoned(), timeout=60,
                 what="the step over and wn-1 uncordoned")  # fmt: skip
        assert sandbox.machines.get("wn-1")["state"] == "on"
        offs = [a for a in daemon.store.actions(node="wn-1") if a["kind"] == "power_off"]
        assert [(a["status"], a["error"].split(":")[0]) for a in offs][-1] == (
            "failed", "drain stopped",
        )  # fmt: skip
        states = [t["new"] for t in daemon.store.transitions(node="wn-1")]
        assert "powering_off" not in states, states
    finally:
        release.touch()
        service.stop()
