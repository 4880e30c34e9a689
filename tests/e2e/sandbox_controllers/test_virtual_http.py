"""A virtual sandbox over HTTP: time moves only through /sandbox/v1/clock/advance."""

from __future__ import annotations

import pytest

from .conftest import Cluster, http

pytestmark = pytest.mark.e2e


def test_job_completes_only_when_the_clock_is_advanced(virtual_cluster: Cluster) -> None:
    c = virtual_cluster
    c.sb.add_node("n1", cpu="2")
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "v"},
        "spec": {
            "completions": 3,
            "parallelism": 1,
            "template": {
                "metadata": {"annotations": {"sandbox.clues-py.io/duration": "1h"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]},
            },
        },
    }
    c.batch.create_namespaced_job("default", body)
    t0 = http(c.sb, "GET", "/sandbox/v1/clock")[1]["now"]
    code, out = http(c.sb, "POST", "/sandbox/v1/clock/advance", {"seconds": 1800})
    assert code == 200 and out["now"] == t0 + 1800
    j = c.batch.read_namespaced_job("v", "default")
    assert (j.status.active, j.status.succeeded) == (1, None)
    assert http(c.sb, "POST", "/sandbox/v1/clock/advance", {"seconds": 3 * 3600})[0] == 200
    j = c.batch.read_namespaced_job("v", "default")
    assert j.status.succeeded == 3
    assert [x.type for x in j.status.conditions if x.status == "True"] == [
        "SuccessCriteriaMet",
        "Complete",
    ]
    assert http(c.sb, "POST", "/sandbox/v1/clock/advance", {"seconds": -1})[0] == 400
