"""A small Kubernetes API server in one process, with a scheduler, kubelets and controllers.

`Sandbox` wires the object store and HTTP server (`objects.py`, `server.py`) to
the controllers (`controllers/`) and the emulated hardware (`machines.py`). It is
what `clues demo`, `clues sim`, `clues sandbox` and the end-to-end tests run.

Real mode: a controller thread reacts to changes and fires timers on the given
clock (wall or scaled). Virtual mode: nothing moves by itself; `advance_to(t)`
fires every timer due up to `t`, in order, and runs every controller reaction in
the calling thread, so a simulation is deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from clues_py.clock import Clock, VirtualClock, WallClock
from clues_py.model import Taint
from clues_py.sandbox.controllers import (
    CronJobController,
    DaemonSetController,
    DeploymentController,
    EventRecorder,
    GarbageCollector,
    JobController,
    Kubelet,
    KueueController,
    KueueJobController,
    NodeLeases,
    PodGC,
    ProvisioningController,
    ReplicaSetController,
    Runtime,
    Scheduler,
    StatefulSetController,
)
from clues_py.sandbox.controllers.common import node_object
from clues_py.sandbox.kubeconfig import write_kubeconfig
from clues_py.sandbox.machines import MachineError, Machines
from clues_py.sandbox.objects import ApiError, ObjectStore
from clues_py.sandbox.server import ApiServer

# The API groups of Kueue and of Cluster Autoscaler's ProvisioningRequests (the mini-Kueue's).
KUEUE_GROUPS = ("kueue.x-k8s.io", "autoscaling.x-k8s.io")

# Virtual sandboxes start at 2026-01-01T00:00:00Z, so object timestamps are plausible and fixed.
VIRTUAL_EPOCH = 1_767_225_600.0

__all__ = ["ApiError", "MachineError", "Machines", "Sandbox", "VIRTUAL_EPOCH"]


class Sandbox:
    """The sandbox cluster: store, optional HTTP API, controllers and machines."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        virtual: bool = False,
        serve_http: bool = True,
        pod_start_seconds: float = 0.5,
        history: int = 20000,
        scheduler_strategy: str = "LeastAllocated",
        kill_seconds: float = 1.0,
        events: bool = True,
        lease_renew_seconds: float | None = None,
        default_pod_seconds: float | None = None,
        kueue: bool = True,
        share_strings: bool = True,
    ) -> None:
        if clock is None:
            clock = VirtualClock(VIRTUAL_EPOCH) if virtual else WallClock()
        if virtual and not hasattr(clock, "set"):
            raise TypeError("Sandbox(virtual=True) needs a clock with set(t), e.g. VirtualClock")
        self.clock = clock
        self.virtual = virtual
        self.store = ObjectStore(clock=clock.now, history=history, share_strings=share_strings)
        self.runtime = Runtime(self.store, clock, virtual=virtual)
        self.recorder = EventRecorder(self.store, clock.now, enabled=events)
        self.scheduler = Scheduler(self.runtime, self.recorder, scheduler_strategy)
        self.kubelet = Kubelet(
            self.runtime, pod_start_seconds, kill_seconds, default_pod_seconds, self.recorder
        )
        self.jobs = JobController(self.runtime, self.recorder)
        self.daemonsets = DaemonSetController(self.runtime, self.recorder)
        for c in (self.scheduler, self.kubelet, self.jobs, self.daemonsets):
            self.runtime.add(c)
        self.runtime.add(DeploymentController(self.runtime, self.recorder))
        for kind in ("replicasets", "replicationcontrollers"):
            self.runtime.add(ReplicaSetController(self.runtime, self.recorder, kind))
        self.runtime.add(StatefulSetController(self.runtime, self.recorder))
        self.runtime.add(CronJobController(self.runtime, self.recorder))
        self.runtime.add(GarbageCollector(self.runtime))
        self.runtime.add(PodGC(self.runtime))
        # Kubelets renew node Leases every 10 s of real time; virtual runs only when asked.
        renew = (
            lease_renew_seconds if lease_renew_seconds is not None else (None if virtual else 10.0)
        )
        self.runtime.add(NodeLeases(self.runtime, renew))
        # A small Kueue: idle until a ClusterQueue exists (controllers/kueue*.py). Without it
        # (kueue=False) its API groups answer 404, as in a cluster where it is not installed.
        self.kueue_jobs = KueueJobController(self.runtime, self.recorder)
        if kueue:
            self.runtime.add(self.kueue_jobs)
            self.runtime.add(KueueController(self.runtime, self.recorder))
            self.runtime.add(ProvisioningController(self.runtime))
            self.store.admission.append(self.kueue_jobs.webhook)
        absent = frozenset() if kueue else frozenset(KUEUE_GROUPS)
        self.machines = Machines(self.runtime, self.kubelet)
        self.server: ApiServer | None = None
        if serve_http:
            self.server = ApiServer(self.store, host=host, port=port, absent_groups=absent)
            self.server.add_route("/sandbox/v1/", self._route)
        self._started = False

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Sandbox:
        if not self._started:
            self.runtime.start()
            if self.server:
                self.server.start()
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            if self.server:
                self.server.stop()
            self.runtime.stop()
            self._started = False

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("this sandbox has no HTTP server (Sandbox(serve_http=True))")
        return self.server.url

    @property
    def port(self) -> int:
        if self.server is None:
            raise RuntimeError("this sandbox has no HTTP server (Sandbox(serve_http=True))")
        return self.server.port

    def now(self) -> float:
        return self.clock.now()

    # ----------------------------------------------------------------- cluster set-up
    def add_node(
        self,
        name: str,
        cpu: str = "4",
        memory: str = "8Gi",
        gpus: int = 0,
        pods: int = 110,
        labels: Mapping[str, str] | None = None,
        taints: Iterable[Taint | Mapping[str, Any]] | None = None,
        ready: bool = True,
    ) -> dict[str, Any]:
        """Create a Node at once (the master, static workers); its machine counts as on."""
        taint_list = list(taints or ())
        node = node_object(
            name,
            cpu=cpu,
            memory=memory,
            gpus=gpus,
            pods=pods,
            labels=labels,
            taints=taint_list,
            ready=ready,
            now=self.clock.now(),
        )
        out = self.store.create("nodes", node)
        self.machines.register(
            name,
            cpu=str(cpu),
            memory=str(memory),
            gpus=gpus,
            pods=pods,
            labels=dict(labels or {}),
            taints=node["spec"].get("taints", []),
            boot_seconds=0.0,
        )
        return out

    def ensure_namespace(self, name: str) -> dict[str, Any]:
        """Create namespace `name` unless it exists (the API itself answers 404 for missing ones)."""
        try:
            return self.store.get("namespaces", name)
        except ApiError as exc:
            if exc.code != 404:
                raise
        try:
            return self.store.create("namespaces", {"metadata": {"name": name}})
        except ApiError as exc:
            if exc.code != 409:
                raise
            return self.store.get("namespaces", name)

    def write_kubeconfig(self, path: str | Path) -> str:
        return str(write_kubeconfig(path, self.url))

    def save(self, path: str | Path) -> None:
        """Write every API object to a JSON snapshot (machines are not saved)."""
        Path(path).write_text(json.dumps(self.store.snapshot()), encoding="utf-8")

    def load(self, path: str | Path) -> None:
        """Replace the cluster with a snapshot from `save`; controllers resync from it."""
        self.store.restore(json.loads(Path(path).read_text(encoding="utf-8")))
        for node in self.store.list("nodes")[0]:
            # Loaded nodes count as powered-on machines, so power hooks can switch them off.
            cap = (node.get("status") or {}).get("capacity") or {}
            self.machines.register(
                node["metadata"]["name"],
                cpu=str(cap.get("cpu", "4")),
                memory=str(cap.get("memory", "8Gi")),
                gpus=int(cap.get("nvidia.com/gpu", 0)),
                pods=int(cap.get("pods", 110)),
                labels=dict(node["metadata"].get("labels") or {}),
                taints=list((node.get("spec") or {}).get("taints") or []),
                boot_seconds=0.0,
            )
        self.runtime.resync()

    # ----------------------------------------------------------------- time
    def settle(self, timeout: float = 10.0) -> None:
        """Run every reaction that is due now (virtual) or wait until the controllers idle (real)."""
        self.runtime.settle(timeout)

    def advance_to(self, t: float) -> None:
        """Virtual mode: move time to `t`, running timers and reactions in order."""
        self.runtime.advance_to(t)

    def advance(self, seconds: float) -> float:
        """Virtual mode: `advance_to(now + seconds)`; returns the new time."""
        t = self.clock.now() + max(seconds, 0.0)
        self.advance_to(t)
        return t

    def step(self) -> float | None:
        """Virtual mode: jump to the next timer (and run it); None when no timer is pending."""
        self.settle()
        due = self.runtime.next_timer()
        if due is None:
            return None
        self.advance_to(max(due, self.clock.now()))
        return due

    # ----------------------------------------------------------------- HTTP hooks
    def _route(
        self, method: str, path: str, query: Mapping[str, str], body: bytes | None
    ) -> tuple[int, dict[str, Any]]:
        if path.rstrip("/") == "/sandbox/v1/clock":
            if method != "GET":
                return 405, {"error": f"{method} {path}: use GET"}
            return 200, {"now": self.clock.now(), "virtual": self.virtual}
        if path.rstrip("/") == "/sandbox/v1/clock/advance":
            return self._advance_route(method, body)
        return self.machines.http_route(method, path, query, body)

    def _advance_route(self, method: str, body: bytes | None) -> tuple[int, dict[str, Any]]:
        if method != "POST":
            return 405, {"error": "POST /sandbox/v1/clock/advance with {seconds}"}
        if not self.virtual:
            return 409, {
                "error": "the sandbox clock is real; start it with virtual=True to advance time"
            }
        try:
            doc = json.loads(body or b"{}")
            seconds = float(doc["seconds"])
        except (ValueError, KeyError, TypeError):
            return 400, {"error": 'body must be JSON like {"seconds": 30}'}
        if seconds < 0:
            return 400, {"error": f"seconds must be >= 0, got {seconds}"}
        return 200, {"now": self.advance(seconds)}
