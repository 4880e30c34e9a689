"""Operator hooks with real scripts: environment, timeouts, bus-driven asynchronous hooks,
failures recorded in the store, and the pre-power-off veto through the whole daemon
(sandbox API server + `sim` power manager, as in tests/e2e/daemon)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clues_py.config.load import HookConfig, config_from_dict
from clues_py.daemon.bus import ActionFinished, Bus, TransitionEvent
from clues_py.daemon.hooks import HookFailed, Hooks, run_hook
from clues_py.daemon.service import Service
from clues_py.model import ManagedNode, NodeState
from clues_py.sandbox import Sandbox
from clues_py.store import Store
from tests.e2e.daemon.conftest import base_config, pod_manifest, sandbox  # noqa: F401
from tests.tools import wait_for

pytestmark = pytest.mark.e2e

# Written to a temporary name and renamed: the shell creates the target before `sort` writes
# it, so a test that waits for the file to exist could read it empty while the hook runs.
ENV_DUMP = 'env | grep ^CLUES_ | sort > "$OUT/.$$.tmp" && mv "$OUT/.$$.tmp" "$OUT/$CLUES_EVENT-$CLUES_NODE"\n'


def _script(tmp: Path, name: str, body: str) -> str:
    p = tmp / name
    p.write_text(f"#!/bin/sh\nOUT={tmp}\n" + body)
    p.chmod(0o755)
    return str(p)


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def _node(state: NodeState = NodeState.IDLE) -> ManagedNode:
    return ManagedNode(name="wn-1", template="wn", state=state, since=0.0, provider_id="sim://wn-1")


def test_run_hook_failure_timeout_and_missing_program(tmp_path: Path) -> None:
    fail = _script(tmp_path, "fail.sh", 'echo "node still has users" >&2\nexit 4\n')
    with pytest.raises(HookFailed, match="exited with 4: node still has users"):
        run_hook("pre_power_off", HookConfig(fail), {})
    hang = _script(tmp_path, "hang.sh", "sleep 30\n")
    with pytest.raises(HookFailed, match="timed out after 0.2 s"):
        run_hook("on_idle", HookConfig(hang, timeout=0.2), {})
    with pytest.raises(HookFailed, match="cannot run '/nonexistent/hook'"):
        run_hook("on_idle", HookConfig("/nonexistent/hook --flag"), {})


HOOK_VARS = {
    "CLUES_CLUSTER",
    "CLUES_EVENT",
    "CLUES_NODE",
    "CLUES_PROVIDER_ID",
    "CLUES_REASON",
    "CLUES_STATE",
    "CLUES_TEMPLATE",
}


def test_pre_hook_veto_and_its_environment(tmp_path: Path) -> None:
    gate = tmp_path / "allow"
    script = _script(tmp_path, "pre.sh", ENV_DUMP + f'[ -e "{gate}" ]\n')
    hooks = Hooks(
        {
            "pre_power_off": HookConfig(script),
            "pre_power_on": HookConfig(script, cancel_on_failure=False),
        },
        cluster="lab",
    )
    try:
        veto = hooks.pre("pre_power_off", _node(NodeState.DRAINING), "idle for 300 s")
        assert veto is not None and "pre_power_off" in veto and "exited with 1" in veto
        env = _env_file(tmp_path / "pre_power_off-wn-1")
        # The hook's own variables; the daemon's CLUES_* environment may pass through too.
        assert {k: v for k, v in env.items() if k in HOOK_VARS} == {
            "CLUES_CLUSTER": "lab",
            "CLUES_EVENT": "pre_power_off",
            "CLUES_NODE": "wn-1",
            "CLUES_PROVIDER_ID": "sim://wn-1",
            "CLUES_REASON": "idle for 300 s",
            "CLUES_STATE": "draining",
            "CLUES_TEMPLATE": "wn",
        }
        # cancel_on_failure: false -> the failure is only logged.
        assert hooks.pre("pre_power_on", _node(NodeState.POWERING_ON)) is None
        gate.touch()
        assert hooks.pre("pre_power_off", _node(NodeState.DRAINING)) is None
        assert hooks.pre("post_power_off", _node()) is None  # not a configured pre hook
    finally:
        hooks.close()


def test_async_hooks_follow_the_bus_and_failures_are_recorded(tmp_path: Path) -> None:
    ok = _script(tmp_path, "ok.sh", ENV_DUMP)
    slow = _script(
        tmp_path, "slow.sh", f'while [ ! -e "{tmp_path}/go" ]; do sleep 0.05; done\n' + ENV_DUMP
    )
    bad = _script(tmp_path, "bad.sh", 'echo "pager down" >&2\nexit 2\n')
    store = Store(tmp_path / "clues.db")
    bus = Bus()
    hooks = Hooks(
        {
            "post_power_on": HookConfig(ok),
            "on_idle": HookConfig(slow),
            "on_error": HookConfig(bad),
        },
        cluster="lab",
        store=store,
        now=lambda: 42.0,
    )
    hooks.attach(bus)
    try:
        idle = _node(NodeState.IDLE)
        bus.publish(TransitionEvent(1.0, idle, NodeState.POWERING_ON, NodeState.IDLE, "Ready"))
        # The on_idle hook waits for a file created below: had publish() run it inline,
        # the test would hang here.
        bus.publish(ActionFinished(2.0, 7, "power_on", "wn-1", "wn", ok=True, seconds=0.5))
        err = _node(NodeState.ON_ERROR)
        bus.publish(
            TransitionEvent(3.0, err, NodeState.POWERING_ON, NodeState.ON_ERROR, "boot timeout")
        )
        # Not a change of state: no hook.
        bus.publish(TransitionEvent(4.0, idle, NodeState.IDLE, NodeState.IDLE, "observed"))
        env = _env_file(wait_for(lambda: (p := tmp_path / "post_power_on-wn-1").exists() and p))
        assert env["CLUES_ACTION"] == "power_on"
        assert env["CLUES_SECONDS"] == "0.500"
        decisions = wait_for(lambda: store.decisions(key="hook/on_error/wn-1"))
        assert "exited with 2: pager down" in decisions[0]["reason"]
        assert decisions[0]["at"] == 42.0
        assert not (tmp_path / "on_idle-wn-1").exists()
        (tmp_path / "go").touch()
        env = _env_file(wait_for(lambda: (p := tmp_path / "on_idle-wn-1").exists() and p))
        assert env["CLUES_OLD_STATE"] == "powering_on"
        assert env["CLUES_STATE"] == "idle"
        assert env["CLUES_REASON"] == "Ready"
    finally:
        hooks.close()
        store.close()


def test_failing_pre_power_off_hook_keeps_the_node_in_service(
    sandbox: Sandbox,  # noqa: F811
    tmp_path: Path,
) -> None:
    gate = tmp_path / "allow-power-off"
    pre = _script(
        tmp_path, "pre_off.sh", f'[ -e "{gate}" ] || {{ echo "users logged in" >&2; exit 1; }}\n'
    )
    post_on = _script(tmp_path, "post_on.sh", ENV_DUMP)
    raw = base_config(
        sandbox,
        tmp_path,
        idle_time=1.5,
        hooks={
            "pre_power_off": {"command": pre, "timeout": 5},
            "post_power_on": [post_on],
        },
    )
    service = Service(config_from_dict(raw, source="test")).start()
    daemon = service.daemon
    state = lambda: {n["name"]: n["state"] for n in daemon.control.status()["nodes"]}["wn-1"]  # noqa: E731
    node = lambda: sandbox.store.get("nodes", "wn-1")  # noqa: E731
    try:
        sandbox.store.create("pods", pod_manifest("p0", duration="0.5s"), "default")
        wait_for(lambda: (tmp_path / "post_power_on-wn-1").exists(), timeout=30)
        # Pod done -> idle -> drain -> the hook says no -> back in service, uncordoned.
        vetoed = lambda: [  # noqa: E731
            a
            for a in daemon.store.actions(node="wn-1")
            if a["kind"] == "power_off" and a["status"] == "failed"
        ]
        actions = wait_for(vetoed, timeout=30)
        assert "pre_power_off" in actions[0]["error"] and "users logged in" in actions[0]["error"]
        wait_for(lambda: state() == "idle" and not node()["spec"].get("unschedulable"), timeout=10)
        reasons = [t["reason"] for t in daemon.store.transitions(node="wn-1") if t["new"] == "idle"]
        assert any("users logged in" in r for r in reasons), reasons
        assert sandbox.machines.get("wn-1")["state"] == "on"
        # The operator allows it: the next idle power-off goes through.
        gate.touch()
        wait_for(lambda: state() == "off", timeout=30)
        assert sandbox.machines.get("wn-1")["state"] == "off"
    finally:
        service.stop()


def test_failing_pre_power_on_hook_cancels_the_power_on(
    sandbox: Sandbox,  # noqa: F811
    tmp_path: Path,
) -> None:
    pre = _script(tmp_path, "pre_on.sh", 'echo "maintenance window" >&2\nexit 1\n')
    raw = base_config(sandbox, tmp_path, hooks={"pre_power_on": {"command": pre}})
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        sandbox.store.create("pods", pod_manifest("p0"), "default")
        failed = lambda: [  # noqa: E731
            a
            for a in service.daemon.store.actions()
            if a["kind"] == "power_on" and a["status"] == "failed"
        ]
        actions = wait_for(failed, timeout=30)
        assert "pre_power_on" in actions[0]["error"] and "maintenance window" in actions[0]["error"]
        # The provider was never asked: no machine was created.
        assert sandbox.machines.get(actions[0]["node"]) is None
    finally:
        service.stop()
