"""Controllers of the sandbox API server: scheduler, kubelets, workloads, GC and Kueue.

`runtime.Runtime` runs them against the object store; each controller module
says what it owns. Pure decision logic lives apart so that it can be tested without
a store: `scheduling.py`, `selection.py`, `interpod.py`, `preemption.py` (scheduler),
`podlife.py`, `commands.py`, `mounts.py` (kubelet), `joblogic.py`, `rollout.py`,
`replicalogic.py` (workloads).
"""

from clues_py.sandbox.controllers.cronjobs import CronJobController
from clues_py.sandbox.controllers.daemonsets import DaemonSetController
from clues_py.sandbox.controllers.deployments import DeploymentController
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.gc import GarbageCollector
from clues_py.sandbox.controllers.jobs import JobController
from clues_py.sandbox.controllers.kubelet import Kubelet
from clues_py.sandbox.controllers.kueue import KueueController
from clues_py.sandbox.controllers.kueue_jobs import KueueJobController
from clues_py.sandbox.controllers.kueue_provisioning import ProvisioningController
from clues_py.sandbox.controllers.leases import NodeLeases
from clues_py.sandbox.controllers.podgc import PodGC
from clues_py.sandbox.controllers.replicasets import ReplicaSetController
from clues_py.sandbox.controllers.runtime import Runtime
from clues_py.sandbox.controllers.scheduler import Scheduler
from clues_py.sandbox.controllers.statefulsets import StatefulSetController

__all__ = [
    "CronJobController",
    "DaemonSetController",
    "DeploymentController",
    "EventRecorder",
    "GarbageCollector",
    "JobController",
    "Kubelet",
    "NodeLeases",
    "PodGC",
    "ReplicaSetController",
    "KueueController",
    "KueueJobController",
    "ProvisioningController",
    "Runtime",
    "Scheduler",
    "StatefulSetController",
]
