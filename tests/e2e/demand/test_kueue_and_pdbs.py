"""Suspended Jobs and Kueue Workloads reach the snapshot as facts and the planner counts a
Workload holding quota once; PDBs reach the snapshot; without the Kueue API the Workload
informer disables itself instead of blocking."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from clues_py.daemon.pipeline import default_policies
from clues_py.model import ClusterSnapshot, Demand
from clues_py.planner import PlannerSettings, plan
from clues_py.sandbox import Sandbox
from plugins.backends.k8s_informer import Informer
from plugins.backends.kubernetes import KubernetesBackend
from tests.e2e.running_backend import running_backend
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
    with running_backend(sandbox.write_kubeconfig(str(tmp_path / "kubeconfig"))) as b:
        yield b


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


def workload(name: str, count: int, owner_job: str = "", reserved: bool = False) -> dict[str, Any]:
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
    if reserved:
        body["status"] = {
            "admission": {"clusterQueue": "cq"},
            "conditions": [{"type": "QuotaReserved", "status": "True", "reason": "QuotaReserved"}],
        }
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


def hidden(b: KubernetesBackend) -> dict[str, tuple[int, bool]]:
    return {h.key: (h.count, h.reserved) for h in b.observe(time.time()).hidden}


def test_jobs_and_workloads_arrive_as_facts_and_count_once(
    sandbox: Sandbox, backend: KubernetesBackend
) -> None:
    sandbox.ensure_namespace("oscar")
    sandbox.store.create("jobs", suspended_job("job-a", 3), "oscar")
    sandbox.store.create("jobs", suspended_job("job-b", 2), "oscar")
    wait_for(
        lambda: hidden(backend) == {"job:oscar/job-a": (3, False), "job:oscar/job-b": (2, False)}
    )
    # Kueue creates a Workload for job-a and reserves quota for it.
    sandbox.store.create("workloads", workload("job-a-wl", 3, "job-a", reserved=True), "oscar")
    sandbox.store.create("workloads", workload("solo", 4), "oscar")
    want = {
        "job:oscar/job-a": (3, False),
        "job:oscar/job-b": (2, False),
        "workload:oscar/job-a-wl": (3, True),
        "workload:oscar/solo": (4, False),
    }
    obs = wait_for(lambda: hidden(backend) == want and backend.observe(time.time()))
    assert obs.kueue  # the sandbox serves the Kueue API (v1beta2 preferred)
    # The planner's verdict: only the Workload holding quota is demand, and job-a with it.
    snap = ClusterSnapshot(
        now=time.time(),
        nodes=(),
        templates={},
        demand=Demand(obs.pending, obs.hidden, obs.queues, obs.local_queues, obs.kueue),
    )
    verdict = plan(snap, default_policies(PlannerSettings()))
    assert verdict.counted == {"workload:oscar/job-a-wl": 3}
    assert verdict.held["job:oscar/job-a"].startswith(
        "counted once, as its Workload oscar/job-a-wl"
    )
    assert verdict.held["job:oscar/job-b"].startswith("paused")
    assert verdict.held["workload:oscar/solo"].startswith("waits for Kueue")
    # Admission: the Workload stops being hidden work (its Job's pods take over).
    sandbox.store.mutate(
        "workloads",
        "job-a-wl",
        "oscar",
        lambda o: o["status"]["conditions"].append({"type": "Admitted", "status": "True"}),
    )
    wait_for(lambda: "workload:oscar/job-a-wl" not in hidden(backend))


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
