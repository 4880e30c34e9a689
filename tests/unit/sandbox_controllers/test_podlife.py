"""Duration/exit-code annotations and the pod status documents the kubelet writes."""

from __future__ import annotations

import pytest

from clues_py.sandbox.controllers.podlife import (
    AnnotationError,
    Script,
    parse_duration,
    pod_script,
    running_status,
    terminated_status,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("120s", 120),
        ("2m", 120),
        ("1.5", 1.5),
        ("1m30s", 90),
        ("500ms", 0.5),
        ("1h", 3600),
        (3, 3.0),
        ("0", 0),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "5x", "1m30", "-3s", "-1"])
def test_bad_durations_name_the_annotation(text):
    with pytest.raises(AnnotationError, match="sandbox.clues-py.io/duration"):
        parse_duration(text)


def _pod(**ann):
    return {
        "metadata": {"uid": "u-123456789012345", "annotations": ann},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def test_pod_script():
    assert pod_script(_pod()) == Script(None, 0, annotated=False)
    assert pod_script(_pod(), default_seconds=30) == Script(30.0, 0, annotated=False)
    assert pod_script(_pod(**{"sandbox.clues-py.io/duration": "2m"})) == Script(120.0, 0)
    assert pod_script(_pod(**{"sandbox.clues-py.io/exit-code": "3"})) == Script(0.0, 3)
    with pytest.raises(AnnotationError, match="exit-code"):
        pod_script(_pod(**{"sandbox.clues-py.io/exit-code": "boom"}))


def _cmd(command=None, args=None, default=None, *more):
    containers = [{"name": "c", "image": "busybox", "command": command, "args": args}]
    containers += [{"name": f"m{i}", "image": "x", "command": c} for i, c in enumerate(more)]
    pod = {"metadata": {"uid": "u"}, "spec": {"containers": containers}}
    s = pod_script(pod, default_seconds=default)
    return (s.duration, s.exit_code)


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        (["sleep", "2"], None, (2.0, 0)),
        (["sleep"], ["1m"], (60.0, 0)),
        (["/bin/sleep", "1", "0.5"], None, (1.5, 0)),
        (["sleep", "infinity"], None, (None, 0)),
        (["true"], None, (0.0, 0)),
        (["false"], None, (0.0, 1)),
        (["sh", "-c", "exit 3"], None, (0.0, 3)),
        (["/bin/sh", "-c", "echo x && sleep 5"], None, (5.0, 0)),
        (["sh", "-c", "echo start; sleep 10; echo done"], None, (10.0, 0)),
        (["bash", "-ec", "sleep 2\nsleep 3\nexit 4"], None, (5.0, 4)),
        (["sh", "-c", "false && sleep 100 || exit 7"], None, (0.0, 7)),
        (["sh", "-c", "sleep 1; python train.py"], None, (None, 0)),  # unknown: the default
        (None, ["sleep", "4"], (4.0, 0)),  # busybox has no entrypoint: args are the command
        (None, ["--port", "8080"], (None, 0)),
        (["sleep", "bogus"], None, (0.0, 1)),
    ],
)
def test_commands_decide_how_long_a_pod_runs(command, args, expected):
    assert _cmd(command, args) == expected


def test_default_duration_and_several_containers():
    assert _cmd(["fwatchdog"], None, 45.0) == (45.0, 0)
    assert _cmd(["sh", "-c", "sleep 1; python train.py"], None, 20.0) == (21.0, 0)
    # The pod ends with its last container; the first failing one gives the exit code.
    assert _cmd(["sleep", "3"], None, None, ["sh", "-c", "sleep 1; exit 2"]) == (3.0, 2)


def test_running_then_terminated_status():
    pod = _pod()
    running = running_status(pod, 100.0, "10.244.1.2", "10.0.0.2")
    assert running["phase"] == "Running"
    assert running["podIP"] == "10.244.1.2"
    conds = {c["type"]: c["status"] for c in running["conditions"]}
    assert conds == {
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
        "PodScheduled": "True",
    }
    assert running["containerStatuses"][0]["ready"] is True
    pod["status"] = running
    done = terminated_status(pod, 160.0, 0)
    assert done["phase"] == "Succeeded"
    term = done["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert term["startedAt"] == "1970-01-01T00:01:40Z"
    assert terminated_status(pod, 160.0, 2)["phase"] == "Failed"
