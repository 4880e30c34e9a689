"""In-process seams between the daemon and a virtual sandbox: a Backend and a power manager.

`SandboxBackend` implements `clues_py.contracts.Backend` by reading the sandbox's
`ObjectStore` directly: every store event goes through the same `ClusterCache`
(and so the same `k8s_convert` code) the Kubernetes backend uses, so demand,
pending and idleness mean exactly what they mean against a real API server.
Writes (cordon, PDB-checked eviction, node deletion) are the store calls the
sandbox's own HTTP verbs make. `DirectSimPower` is the `sim` power manager
without HTTP: it calls `sandbox.machines` with the template's boot/shutdown times
and a seeded boot-failure draw. No threads, no sockets: the simulator drives time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from clues_py.contracts import (
    Changes,
    DrainResult,
    NotImplementedByPlugin,
    Observation,
    OwnedInstance,
    PluginError,
    PowerState,
)
from clues_py.model import ManagedNode, NodeTemplate, RequestUpdate, format_cpu
from clues_py.sandbox import ApiError, Sandbox, disruption
from clues_py.sandbox.objects import rfc3339
from plugins.backends.k8s_cache import ClusterCache
from plugins.backends.k8s_drain import drain_pods, ensure_cordoned
from plugins.backends.k8s_kueue import set_condition
from plugins.backends.k8s_pods import PodRecord, doc_of_json
from plugins.backends.k8s_taints import toggle_taint

_STATES = {
    "on": PowerState.ON,
    "booting": PowerState.BOOTING,
    "stopping": PowerState.STOPPING,
    "off": PowerState.OFF,
}
# The work the scheduler does not see yet goes to the cache's `hidden` tables.
_HIDDEN = (
    "jobs",
    "workloads",
    "clusterqueues",
    "localqueues",
    "resourceflavors",
    "provisioningrequests",
    "podtemplates",
)


class SandboxBackend:
    """`Backend` over a sandbox's object store; `dirty` says whether anything visible changed."""

    @dataclass(frozen=True)
    class _Config:
        pending_grace: float = 5.0

    # The contracts declare `Config: ClassVar[type]`, which a nested class (read-only to mypy)
    # does not satisfy; an assigned class attribute does, with the same runtime value.
    Config: ClassVar[type] = _Config

    def __init__(self, sandbox: Sandbox, pending_grace: float = 5.0) -> None:
        self.sandbox = sandbox
        self.store = sandbox.store
        self.cache = ClusterCache(pending_grace)
        self.dirty = False
        self._on_change: Callable[[], None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._synced = False
        # Extra observers of the same decoded store events (the simulator's job book-keeping):
        # one subscription decodes each event once instead of once per subscriber.
        self.listeners: list[Callable[[str, str, dict[str, Any]], None]] = []
        # resource -> the cache's handler for its events, looked up once (one per event adds up)
        self._apply: dict[str, Callable[[str, Any], bool]] = {
            "nodes": self.cache.apply_node,
            "pods": self.cache.apply_pod,
            **{name: self.cache.hidden_handlers(name)[1] for name in _HIDDEN},
        }

    # ------------------------------------------------------------------ watching

    def start(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self._unsubscribe = self.store.subscribe(self._on_event, raw=True)
        self.cache.replace_nodes(self.store.list("nodes")[0])
        self.cache.replace_pods(self.store.list("pods")[0])
        for name in _HIDDEN:
            replace, _ = self.cache.hidden_handlers(name)
            replace(self.store.list(name)[0])
        self.cache.kueue = True  # the sandbox serves the Kueue API (its controller may idle)
        self._synced = True
        self.dirty = True

    def _on_event(self, kind: str, resource: str, obj: dict[str, Any], raw: bytes) -> None:
        apply = self._apply.get(resource)
        if apply is None:
            return
        for fn in self.listeners:
            fn(kind, resource, obj)
        # A pod is decoded from the store's own text, as a watch event's would be (the cache
        # would otherwise encode the object again to get it); DELETED needs only the key.
        doc = doc_of_json(raw) if resource == "pods" and kind != "DELETED" else None
        if apply(kind, obj if doc is None else doc):
            self.dirty = True
            if self._on_change is not None:
                self._on_change()

    def synced(self) -> bool:
        return self._synced

    def observe(self, now: float) -> Observation:
        return self.cache.observe(now)

    def observe_changes(self, now: float) -> tuple[Observation, Changes]:
        return self.cache.observe_changes(now)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # ------------------------------------------------------------------ writes

    def update_request(self, update: RequestUpdate) -> None:
        """Set a condition on a ProvisioningRequest, as the HTTP backend does."""
        now = rfc3339(self.sandbox.clock.now())

        def put(obj: dict[str, Any]) -> None:
            status = obj.setdefault("status", {}) or {}
            obj["status"] = status
            set_condition(status, update.type, update.status, update.reason, update.message, now)

        try:
            self.store.mutate("provisioningrequests", update.name, update.namespace, put)
        except ApiError as exc:
            if exc.code != 404:
                where = f"provisioningrequest {update.namespace}/{update.name}"
                raise PluginError(f"{where}: {exc.message}") from exc

    def cordon(self, node: str, cordoned: bool = True) -> None:
        def put(n: dict[str, Any]) -> None:
            n.setdefault("spec", {})["unschedulable"] = cordoned

        try:
            self.store.mutate("nodes", node, None, put)
        except ApiError as exc:
            verb = "cordon" if cordoned else "uncordon"
            raise PluginError(f"{verb} {node}: {exc.message}") from exc

    def set_scale_down_taint(self, node: str, present: bool) -> None:
        def put(n: dict[str, Any]) -> None:
            spec = n.setdefault("spec", {})
            new = toggle_taint(spec.get("taints") or [], present)
            if new is not None:
                spec["taints"] = new

        try:
            self.store.mutate("nodes", node, None, put)
        except ApiError as exc:
            if exc.code != 404:
                raise PluginError(f"taint {node}: {exc.message}") from exc

    def delete_node(self, node: str) -> None:
        try:
            self.store.delete("nodes", node)
        except ApiError as exc:
            if exc.code != 404:
                raise PluginError(f"delete node {node}: {exc.message}") from exc

    def drain(self, node: str, may_evict: Collection[str] | None = None) -> DrainResult:
        """Same rules as the Kubernetes backend: skip DaemonSet/mirror/terminal pods, honour PDBs."""
        ensure_cordoned(self.cache, node, self.cordon)

        def evict(pod: PodRecord) -> tuple[int, str] | None:
            info = pod.info
            try:
                obj = self.store.get("pods", info.name, info.namespace)
                disruption.check_eviction(self.store, obj)
                self.store.delete("pods", info.name, info.namespace)
            except ApiError as exc:
                return exc.code, exc.message
            return None

        # The cache's index of non-terminal pods bound to the node: listing the store would
        # walk every finished pod of the run.
        return drain_pods(self.cache.pods_on(node), evict, may_evict)


class DirectSimPower:
    """The `sim` power manager calling `sandbox.machines` in-process (same semantics, no HTTP)."""

    @dataclass(frozen=True)
    class _Config:
        failure_rate: float = 0.0
        seed: int | None = None

    Config: ClassVar[type] = _Config  # see SandboxBackend.Config

    def __init__(
        self,
        sandbox: Sandbox,
        templates: Mapping[str, NodeTemplate],
        *,
        cluster_name: str = "sim",
        failure_rates: Mapping[str, float] | None = None,
        seed: int = 0,
    ) -> None:
        self.sandbox = sandbox
        self.templates = templates
        self.cluster_name = cluster_name
        self.failure_rates = dict(failure_rates or {})
        for name, rate in self.failure_rates.items():
            if not 0.0 <= rate <= 1.0:
                raise PluginError(f"template {name}: boot_failure_rate {rate} is not in [0, 1]")
        self._rng = random.Random(seed)

    def power_on(self, node: ManagedNode, template: NodeTemplate) -> str:
        r = template.resources
        rate = self.failure_rates.get(template.name, 0.0)
        # Draw for every boot, even at rate 0, so adding a failure rate to one group does not
        # shift the random sequence seen by the others.
        fail = self._rng.random() < rate
        try:
            self.sandbox.machines.power_on(
                node.name,
                cpu=format_cpu(r.cpu_millis),
                memory=str(r.memory_bytes),
                gpus=r.gpus,
                pods=r.pods or 110,
                labels={
                    **template.label_map,
                    "clues-py.io/template": template.name,
                    "clues-py.io/cluster": self.cluster_name,
                },
                taints=[
                    {"key": t.key, "value": t.value, "effect": t.effect} for t in template.taints
                ],
                boot_seconds=template.boot_seconds,
                fail=fail,
            )
        except Exception as exc:  # MachineError: a 409 while the machine is still stopping
            raise PluginError(f"sim power on {node.name}: {exc}") from exc
        return f"sim://{node.name}"

    def power_off(self, node: ManagedNode) -> None:
        t = self.templates.get(node.template)
        if self.sandbox.machines.state(node.name) in ("unknown", "off"):
            return
        self.sandbox.machines.power_off(node.name, t.shutdown_seconds if t else 0.0)

    def describe(self, node: ManagedNode) -> PowerState:
        return _STATES.get(self.sandbox.machines.state(node.name), PowerState.OFF)

    def list_owned(self) -> list[OwnedInstance]:
        raise NotImplementedByPlugin("DirectSimPower does not list instances")

    def close(self) -> None:
        pass
