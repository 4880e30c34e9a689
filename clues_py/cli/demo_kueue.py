"""OSCAR with Kueue in `clues demo --kueue`: the queues OSCAR makes and the Jobs it submits.

After OSCAR's `pkg/utils/kueue.go` and `pkg/handlers/job.go`: one ResourceFlavor, a
ClusterQueue `oscar-cq-<owner>` (here the managed nodes' total as quota), a LocalQueue
`oscar-lq-<service>` in the service namespace, and Jobs named `<service>-<UUID>`, created
suspended with the queue label, cpu/memory as limits only, no retries and OSCAR's TTL.
`--provisioning` gives the ClusterQueue Kueue's provisioning admission check. The demo
itself (sandbox, cluesd, the burst, the summary) is `demo.py`'s.
"""

from __future__ import annotations

import random
import sys
import uuid
from typing import Any

from clues_py.sim.queues import (
    BEST_EFFORT_ATOMIC,
    ClusterQueueSpec,
    KueueSpec,
    LocalQueueSpec,
    kueue_objects,
)

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
OWNER = "demo"
TTL_JOB = 2592000  # OSCAR's default TTL_JOB (30 days)


def cluster_queue() -> str:
    return f"oscar-cq-{OWNER}"


def local_queue(service: str) -> str:
    return f"oscar-lq-{service}"


def spec(namespace: str, service: str, nodes: int, provisioning: bool) -> KueueSpec:
    """OSCAR's queues for `nodes` managed nodes of 4 cpu / 8Gi (their total is the quota)."""
    quota = {"cpu": str(4 * nodes), "memory": f"{8 * nodes}Gi"}
    cls = BEST_EFFORT_ATOMIC if provisioning else ""
    return KueueSpec(
        (ClusterQueueSpec(cluster_queue(), quota, provisioning=cls),),
        (LocalQueueSpec(local_queue(service), namespace, cluster_queue()),),
    )


def create_queues(
    sandbox: Any, namespace: str, service: str, nodes: int, provisioning: bool
) -> None:
    for resource, obj in kueue_objects(spec(namespace, service, nodes, provisioning)):
        sandbox.store.create(resource, obj, obj["metadata"].get("namespace"))


def job_name(service: str, rng: random.Random) -> str:
    """`<service>-<UUID>` as OSCAR names Jobs (seeded, so a demo run repeats)."""
    return f"{service}-{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def queued(job: dict[str, Any], service: str) -> dict[str, Any]:
    """`job` as OSCAR submits it with Kueue enabled (changed in place and returned)."""
    job["metadata"]["labels"][QUEUE_LABEL] = local_queue(service)
    spec = job["spec"]
    spec.update(suspend=True, backoffLimit=0, ttlSecondsAfterFinished=TTL_JOB)
    for c in spec["template"]["spec"]["containers"]:
        c["resources"].pop("requests", None)  # OSCAR sets limits only
    return job


def announce(namespace: str, service: str, provisioning: bool, json_out: bool) -> None:
    mode = "Kueue and ProvisioningRequests" if provisioning else "Kueue"
    print(
        f"  OSCAR through {mode}: ClusterQueue {cluster_queue()}, LocalQueue "
        f"{namespace}/{local_queue(service)}; kubectl get workloads,provisioningrequests -A",
        file=sys.stderr if json_out else sys.stdout,
        flush=True,
    )
