"""Kueue Workloads become demand (deduplicated with their suspended Job); PDBs reach the
snapshot; without the Kueue API the Workload informer disables itself instead of blocking."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from clues_py.contracts import PluginContext
from clues_py.sandbox import Sandbox
from plugins.backends.k8s_informer import Informer
from plugins.backends.kubernetes import KubernetesBackend
from tests.tools import wait_for


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(port=0, pod_start_seconds=0.05, events=False).start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def backend(sandbox: Sandbox, tmp_path: Path) -> Iterator[KubernetesBackend]:
    cfg = KubernetesBackend.Config(
        kubeconfig=sandbox.write_kubeconfig(str(tmp_path / "kubeconfig")), pending_grace=0
    )
    b = KubernetesBackend(cfg, PluginContext("e2e", "backend"))
    b.start(lambda: None)
    try:
        wait_for(b.synced)
        yield b
    finally:
        b.stop()


def pod_template(cpu: str, memory: str) -> dict[str, Any]:
    return {
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "resources": {"requests": {"cpu": cpu, "memory": memory}},
                }
            ],
        }
    }


def workload(name: str, count: int, owner_job: str = "", admitted: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "oscar"}
    if owner_job:
        meta["ownerReferences"] = [
            {"apiVersion": "batch/v1", "kind": "Job", "name": owner_job, "uid": "u-" + owner_job}
        ]
    body: dict[str, Any] = {
        "apiVersion": "kueue.x-k8s.io/v1beta1",
        "kind": "Workload",
        "metadata": meta,
        "spec": {
            "queueName": "default",
            "podSets": [{"name": "main", "count": count, "template": pod_template("2", "1Gi")}],
        },
    }
    if admitted:
        body["status"] = {"admission": {"clusterQueue": "cq"}}
    return body


def suspended_job(name: str, parallelism: int) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "oscar"},
        "spec": {
            "suspend": True,
            "parallelism": parallelism,
            "completions": parallelism,
            "template": pod_template("2", "1Gi"),
        },
    }


def hidden(b: KubernetesBackend) -> dict[str, int]:
    return {h.key: h.count for h in b.observe(time.time()).hidden}


def test_queued_workloads_are_demand_once(sandbox: Sandbox, backend: KubernetesBackend) -> None:
    sandbox.ensure_namespace("oscar")
    sandbox.store.create("jobs", suspended_job("job-a", 3), "oscar")
    sandbox.store.create("jobs", suspended_job("job-b", 2), "oscar")
    wait_for(lambda: hidden(backend) == {"job:oscar/job-a": 3, "job:oscar/job-b": 2})
    # Kueue creates a Workload for job-a: the demand is counted once, as the Workload.
    sandbox.store.create("workloads", workload("job-a-wl", 3, owner_job="job-a"), "oscar")
    sandbox.store.create("workloads", workload("admitted", 5, admitted=True), "oscar")
    sandbox.store.create("workloads", workload("solo", 4), "oscar")
    want = {"job:oscar/job-b": 2, "workload:oscar/job-a-wl": 3, "workload:oscar/solo": 4}
    wait_for(lambda: hidden(backend) == want)
    [solo] = [h for h in backend.observe(time.time()).hidden if h.name == "solo"]
    assert solo.per_pod.cpu_millis == 2000 and solo.per_pod.pods == 1
    # Admission: the Workload stops being hidden demand.
    sandbox.store.mutate(
        "workloads",
        "solo",
        "oscar",
        lambda o: o.setdefault("status", {}).update(admission={"clusterQueue": "cq"}),
    )
    wait_for(lambda: "workload:oscar/solo" not in hidden(backend))


def test_pdbs_reach_the_observation(sandbox: Sandbox, backend: KubernetesBackend) -> None:
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }
    sandbox.store.create("poddisruptionbudgets", pdb, "default")
    obs = wait_for(lambda: (o := backend.observe(time.time())).pdbs and o)
    [b] = obs.pdbs
    assert (b.key, b.match_labels) == ("default/web", (("app", "web"),))
    assert b.disruptions_allowed == 0  # no healthy pod matches yet


def test_absent_api_group_disables_the_informer_without_blocking_sync() -> None:
    replaced: list[list[Any]] = []

    def not_found(**kwargs: Any) -> Any:
        raise ApiException(status=404, reason="Not Found")

    waits: list[float] = []
    inf = Informer(
        "workloads",
        not_found,
        lambda items: replaced.append(list(items)) or False,
        lambda event, obj: False,
        lambda: None,
        optional=True,
        wait=lambda s: waits.append(s) or inf.stop(),  # stop after the first probe
    )
    inf.start()
    inf.join(5)
    assert inf.synced() and inf.absent
    assert replaced == [[]] and waits and waits[0] >= 30
