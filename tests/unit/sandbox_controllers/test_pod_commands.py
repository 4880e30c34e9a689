"""The kubelet runs pods for what their commands say, restarts them per restartPolicy,
and holds them in ContainerCreating while a ConfigMap or Secret they need is missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from clues_py.sandbox import Sandbox


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    s = Sandbox(virtual=True, serve_http=False, pod_start_seconds=1.0, default_pod_seconds=50.0)
    s.start()
    s.add_node("n1")
    yield s
    s.stop()


def pod(name: str, *command: str, restart: str = "Never", **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "busybox"}
    if command:
        container["command"] = list(command)
    container.update(spec.pop("container", {}))
    return {
        "metadata": {"name": name},
        "spec": {"restartPolicy": restart, "containers": [container], **spec},
    }


def status(sb: Sandbox, name: str) -> dict[str, Any]:
    return sb.store.get("pods", name, "default")["status"]


def test_commands_set_how_long_pods_run_and_how_they_end(sb: Sandbox) -> None:
    sb.store.create("pods", pod("nap", "sleep", "10"), "default")
    sb.store.create("pods", pod("bad", "sh", "-c", "echo working; sleep 3; exit 4"), "default")
    sb.store.create("pods", pod("watchdog", "/oscar/bin/fwatchdog"), "default")
    sb.advance(1 + 3)
    assert status(sb, "bad")["phase"] == "Failed"
    term = status(sb, "bad")["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (4, "Error")
    assert status(sb, "nap")["phase"] == "Running"
    sb.advance(10)
    assert status(sb, "nap")["phase"] == "Succeeded"
    assert status(sb, "watchdog")["phase"] == "Running"  # the default: 50 s
    sb.advance(40)
    assert status(sb, "watchdog")["phase"] == "Succeeded"


def test_always_restarts_in_place_with_crash_loop_back_off(sb: Sandbox) -> None:
    sb.store.create("pods", pod("loop", "sh", "-c", "sleep 5", restart="Always"), "default")
    sb.advance(1 + 5)  # first exit: restarted at once
    cs = status(sb, "loop")["containerStatuses"][0]
    assert status(sb, "loop")["phase"] == "Running"
    assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["exitCode"] == 0
    sb.advance(5)  # second exit: 10 s back-off
    cs = status(sb, "loop")["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["state"]["waiting"]["message"].startswith(
        "back-off 10s restarting failed container=c"
    )
    ready = {c["type"]: c["status"] for c in status(sb, "loop")["conditions"]}["Ready"]
    assert ready == "False"
    sb.advance(10)
    cs = status(sb, "loop")["containerStatuses"][0]
    assert "running" in cs["state"] and cs["restartCount"] == 2


def test_missing_config_map_keeps_the_pod_creating_until_it_appears(sb: Sandbox) -> None:
    spec = {"volumes": [{"name": "cfg", "configMap": {"name": "settings"}}]}
    sb.store.create("pods", pod("app", "sleep", "100", **spec), "default")
    env = {"env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "token", "key": "t"}}}]}
    sb.store.create("pods", pod("envy", "sleep", "100", container=env), "default")
    sb.advance(30)
    st = status(sb, "app")
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    waiting = status(sb, "envy")["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {
        "reason": "CreateContainerConfigError",
        "message": 'secret "token" not found',
    }
    events = {e["reason"]: e["message"] for e in sb.store.list("events", "default")[0]}
    assert events["FailedMount"] == (
        'MountVolume.SetUp failed for volume "cfg" : configmap "settings" not found'
    )
    assert events["Failed"] == 'Error: secret "token" not found'
    sb.store.create("configmaps", {"metadata": {"name": "settings"}}, "default")
    sb.store.create("secrets", {"metadata": {"name": "token"}}, "default")
    sb.advance(2)
    assert status(sb, "app")["phase"] == "Running" and status(sb, "envy")["phase"] == "Running"


def test_optional_sources_do_not_block(sb: Sandbox) -> None:
    spec = {"volumes": [{"name": "cfg", "configMap": {"name": "nope", "optional": True}}]}
    sb.store.create("pods", pod("fine", "sleep", "5", **spec), "default")
    sb.advance(2)
    assert status(sb, "fine")["phase"] == "Running"
