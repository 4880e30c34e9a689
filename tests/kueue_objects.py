"""Builders of Kueue, ProvisioningRequest and OSCAR-shaped Job objects for tests.

`oscar_job` is a Job exactly as OSCAR's `pkg/handlers/job.go` creates it: a UUID name
prefixed with the service, namespace `oscar-svc`, the `oscar_service` label on the Job
and its pods, cpu/memory as limits only, `suspend: true`, `backoffLimit: 0`, a TTL, and
the `kueue.x-k8s.io/queue-name` label naming the service's LocalQueue (`oscar-lq-<svc>`).
"""

from __future__ import annotations

import uuid
from typing import Any

API = "kueue.x-k8s.io/v1beta2"
CHECK_CAPACITY = "check-capacity.autoscaling.x-k8s.io"
BEST_EFFORT_ATOMIC = "best-effort-atomic-scale-up.autoscaling.x-k8s.io"
OSCAR_NS = "oscar-svc"


def flavor(
    name: str = "default-flavor", labels: dict[str, str] | None = None, api: str = API
) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": "ResourceFlavor",
        "metadata": {"name": name},
        "spec": {"nodeLabels": labels or {}},
    }


def cluster_queue(
    name: str = "oscar-cq",
    cpu: str = "8",
    memory: str = "16Gi",
    *,
    flavor_name: str = "default-flavor",
    checks: tuple[str, ...] = (),
    cohort: str = "",
    strict: bool = False,
    selector: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "namespaceSelector": selector if selector is not None else {},
        "queueingStrategy": "StrictFIFO" if strict else "BestEffortFIFO",
        "resourceGroups": [
            {
                "coveredResources": ["cpu", "memory"],
                "flavors": [
                    {
                        "name": flavor_name,
                        "resources": [
                            {"name": "cpu", "nominalQuota": cpu},
                            {"name": "memory", "nominalQuota": memory},
                        ],
                    }
                ],
            }
        ],
    }
    if checks:
        spec["admissionChecksStrategy"] = {"admissionChecks": [{"name": c} for c in checks]}
    if cohort:
        spec["cohortName"] = cohort
    return {"apiVersion": API, "kind": "ClusterQueue", "metadata": {"name": name}, "spec": spec}


def local_queue(
    service: str = "posenet", cq: str = "oscar-cq", ns: str = OSCAR_NS
) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "LocalQueue",
        "metadata": {"name": f"oscar-lq-{service}", "namespace": ns},
        "spec": {"clusterQueue": cq},
    }


def provisioning(
    name: str = "prov", cls: str = BEST_EFFORT_ATOMIC, retries: int = 0
) -> list[tuple[str, dict[str, Any]]]:
    """An AdmissionCheck with the provisioning controller and its ProvisioningRequestConfig."""
    config = {
        "apiVersion": API,
        "kind": "ProvisioningRequestConfig",
        "metadata": {"name": name},
        "spec": {
            "provisioningClassName": cls,
            "retryStrategy": {
                "backoffLimitCount": retries,
                "backoffBaseSeconds": 1,
                "backoffMaxSeconds": 5,
            },
        },
    }
    check = {
        "apiVersion": API,
        "kind": "AdmissionCheck",
        "metadata": {"name": name},
        "spec": {
            "controllerName": "kueue.x-k8s.io/provisioning-request",
            "parameters": {
                "apiGroup": "kueue.x-k8s.io",
                "kind": "ProvisioningRequestConfig",
                "name": name,
            },
        },
    }
    return [("provisioningrequestconfigs", config), ("admissionchecks", check)]


def oscar_job(
    service: str = "posenet",
    *,
    cpu: str = "1",
    memory: str = "2Gi",
    queue: bool = True,
    duration: str = "5s",
    name: str | None = None,
) -> dict[str, Any]:
    """A Job as OSCAR creates it (see the module docstring)."""
    labels = {"oscar_service": service}
    job_labels = dict(labels)
    if queue:
        job_labels["kueue.x-k8s.io/queue-name"] = f"oscar-lq-{service}"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name or f"{service}-{uuid.uuid4()}",
            "namespace": OSCAR_NS,
            "labels": job_labels,
            "annotations": {},
        },
        "spec": {
            "suspend": True,
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 60,
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"sandbox.clues-py.io/duration": duration},
                },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": service,
                            "image": f"ghcr.io/grycap/{service}",
                            "command": ["/bin/sh", "-c", "/oscar/bin/supervisor"],
                            "resources": {"limits": {"cpu": cpu, "memory": memory}},
                        }
                    ],
                },
            },
        },
    }


def conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """type -> (status, reason, message) of an object's status conditions."""
    return {
        c["type"]: (c.get("status", ""), c.get("reason", ""), c.get("message", ""))
        for c in (obj.get("status") or {}).get("conditions") or ()
    }
