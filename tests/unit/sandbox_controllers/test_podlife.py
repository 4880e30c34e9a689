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
    assert pod_script(_pod()) == Script(None, 0)
    assert pod_script(_pod(**{"sandbox.clues-py.io/duration": "2m"})) == Script(120.0, 0)
    assert pod_script(_pod(**{"sandbox.clues-py.io/exit-code": "3"})) == Script(0.0, 3)
    with pytest.raises(AnnotationError, match="exit-code"):
        pod_script(_pod(**{"sandbox.clues-py.io/exit-code": "boom"}))


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
