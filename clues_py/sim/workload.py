"""What a scenario becomes inside the simulator: the clues-py config and the batch/v1 Jobs.

Kept apart from `engine.py` (which runs them) so the mapping is easy to read and test:
one node group is one template (`NAME-1..NAME-COUNT`, `sim` power), one scenario job is
one Job of `pods` parallel pods with the sandbox's duration annotation.
"""

from __future__ import annotations

import re
from typing import Any

from clues_py.sim.scenario import JobSpec, Scenario

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"

_DNS = re.compile(r"[^a-z0-9-]+")


def job_name(job_id: str) -> str:
    """A valid Kubernetes Job name for a scenario job id (ids stay unique: validated upstream)."""
    name = _DNS.sub("-", job_id.lower()).strip("-") or "job"
    if not name[0].isalpha():
        name = "job-" + name
    return name[:52]


def job_manifest(job: JobSpec) -> dict[str, Any]:
    res: dict[str, str] = {"cpu": job.cpu, "memory": job.memory}
    if job.gpus:
        res["nvidia.com/gpu"] = str(job.gpus)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(job.id),
            "namespace": job.namespace,
            "labels": {**job.labels, **({QUEUE_LABEL: job.queue} if job.queue else {})},
        },
        "spec": {
            "parallelism": job.pods,
            "completions": job.pods,
            "suspend": job.suspended,
            # Pods killed by a node shutdown are replaced, not counted against the job.
            "backoffLimit": 1000,
            # Finished Jobs go away (their timings are recorded first), keeping the store small.
            "ttlSecondsAfterFinished": 0,
            "template": {
                "metadata": {
                    "labels": dict(job.labels),
                    "annotations": {"sandbox.clues-py.io/duration": f"{job.duration:.6f}s"},
                },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "main", "image": "sim", "resources": {"requests": res}}
                    ],
                },
            },
        },
    }


def base_config(scenario: Scenario) -> dict[str, Any]:
    """The clues-py config of a scenario before its `config` overrides."""
    templates = []
    for g in scenario.node_groups:
        templates.append(
            {
                "name": g.name,
                "power": "sim",
                "nodes": f"{g.name}-[1-{g.count}]",
                "cpu": g.cpu,
                "memory": g.memory,
                "gpus": g.gpus,
                "labels": dict(g.labels),
                "taints": [dict(t) for t in g.taints],
                "watts_idle": g.watts_idle,
                "watts_busy": g.watts_busy,
                "cost_per_hour": g.cost_per_hour,
                "boot_seconds": g.boot_seconds,
                "shutdown_seconds": g.shutdown_seconds,
            }
        )
    total = sum(g.count for g in scenario.node_groups)
    return {
        "cluster_name": "sim",
        "max_booting": max(10, total),
        "pending_grace": 0.0,
        "daemon": {"state_db": ":memory:", "log_level": "WARNING"},
        "power": {"sim": {"kind": "sim", "url": "http://sim.invalid"}},
        "templates": templates,
    }
