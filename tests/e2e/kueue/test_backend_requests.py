"""The Kubernetes backend over HTTP: Kueue and ProvisioningRequest facts from its informers,
and ProvisioningRequest conditions it writes back, which Kueue turns into admission."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clues_py.contracts import updates_requests
from clues_py.model import RequestUpdate, Resources
from clues_py.sandbox import Sandbox
from plugins.backends.kubernetes import KubernetesBackend
from tests.e2e.kueue.conftest import Kubectl, manifest
from tests.e2e.running_backend import running_backend
from tests.kueue_objects import CHECK_CAPACITY, OSCAR_NS, conditions
from tests.tools import wait_for

pytestmark = pytest.mark.e2e
JOB = "posenet-4b1f0d1e-8c0a-4d5e-9f3b-2a7c6e9d1b40"


@pytest.fixture
def backend(sandbox: Sandbox, tmp_path: Path) -> Iterator[KubernetesBackend]:
    with running_backend(sandbox.write_kubeconfig(tmp_path / "kc")) as b:
        yield b


def test_request_facts_and_conditions_round_trip(
    sandbox: Sandbox, kubectl: Kubectl, backend: KubernetesBackend
) -> None:
    sandbox.add_node("wn-1", cpu="4", memory="8Gi")
    kubectl("apply", "-f", "-", stdin=manifest("provisioning.yaml", CLASS=CHECK_CAPACITY))
    kubectl("apply", "-f", "-", stdin=manifest("oscar-job.yaml"))

    def request():  # type: ignore[no-untyped-def]
        return next(
            (h for h in backend.observe(time.time()).hidden if h.kind == "ProvisioningRequest"),
            None,
        )

    pr = wait_for(request)
    # The PodTemplate Kueue made has the limits as requests; the request is the Workload's.
    assert pr.per_pod == Resources(1000, 2 * 2**30, 0, 1)
    assert pr.request_class == CHECK_CAPACITY and pr.count == 1 and not pr.conditions
    assert pr.owner.startswith(f"{OSCAR_NS}/job-{JOB}-")
    obs = backend.observe(time.time())
    assert obs.kueue and [q.name for q in obs.queues] == ["oscar-cq"]
    assert dict(obs.local_queues) == {f"{OSCAR_NS}/oscar-lq-posenet": "oscar-cq"}
    [wl] = [h for h in obs.hidden if h.kind == "Workload"]
    assert wl.reserved and wl.cluster_queue == "oscar-cq"
    assert updates_requests(backend)
    for update in (
        RequestUpdate(OSCAR_NS, pr.name, "Accepted", "True", "Accepted", "accepted"),
        RequestUpdate(OSCAR_NS, pr.name, "Provisioned", "True", "CapacityIsFound", "found"),
    ):
        backend.update_request(update)
    got = sandbox.store.get("provisioningrequests", pr.name, OSCAR_NS)
    assert conditions(got)["Provisioned"] == ("True", "CapacityIsFound", "found")
    assert conditions(got)["Accepted"][0] == "True"
    # Kueue sees Provisioned, admits the Workload and unsuspends the Job, which runs.
    job = wait_for(
        lambda: (j := sandbox.store.get("jobs", JOB, OSCAR_NS)) and not j["spec"]["suspend"] and j
    )
    annotations = job["spec"]["template"]["metadata"]["annotations"]
    assert annotations["autoscaling.x-k8s.io/consume-provisioning-request"] == pr.name
    # Its pod consumes the request: the backend counts it.
    wait_for(lambda: (r := request()) is None or r.consumed == 1)
    # Writing a request that is gone is not an error (Kueue deletes them).
    backend.update_request(RequestUpdate(OSCAR_NS, "gone", "Accepted", "True", "Accepted", "x"))
