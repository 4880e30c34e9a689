"""Typed plugin contracts: the seams between the core and the built-in or third-party plugins.

Modelled on Cluster Autoscaler's `CloudProvider`: every method says whether it is
required. Plugins import only this module and `clues_py.model`. The actuator is
the sole caller of power managers; the daemon is the sole caller of backends.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from clues_py.model import (
    DisruptionBudget,
    HiddenDemand,
    ManagedNode,
    NodeObservation,
    NodeTemplate,
    PodInfo,
    QueueQuota,
    Taint,
)

# Bounds shared by the config schema and plugin options (seconds; a count of nodes far
# above any real cluster and far below an overflow).
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
WEEK = 7 * DAY
YEAR = 365 * DAY
MAX_NODES = 100_000
PORT = (1, 65535)


@dataclass(frozen=True)
class Range:
    """Bounds of a numeric plugin option, written in the plugin's `Config` dataclass:
    `timeout: Annotated[float, Range(0.1, 3600)] = 60.0`. The loader rejects values
    outside `[min, max]` (and non-finite numbers) with the option's file:line:col, at
    `clues config check`, `cluesd --check` and start-up alike. Every number has one: a
    test walks every installed plugin's options."""

    min: float
    max: float


@dataclass(frozen=True)
class Pattern:
    """Syntax of a string option: `namespace: Annotated[str, Pattern(DNS_LABEL, "...")]`.
    `regex` must match the whole value (an empty value is allowed only if it matches)."""

    regex: str
    hint: str = ""
    max_len: int = 253


# Kubernetes object names and label values (shared by the config schema and plugins).
DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"  # a label key's name part
LABEL_VALUE = f"({LABEL_NAME})?"  # may be empty

# The soft taint on scale-down candidates (pack_down policy): new pods avoid the node
# while others fit, as with Cluster Autoscaler's DeletionCandidateOfClusterAutoscaler.
SCALE_DOWN_TAINT = Taint("clues-py.io/scale-down-candidate", "true", "PreferNoSchedule")
# A node with this label set to "true" is never powered off, drained or steered empty.
PROTECT_LABEL = "clues-py.io/scale-down-disabled"


class PluginError(Exception):
    """A plugin failed; the message is shown to operators and stored with the action."""


class NotImplementedByPlugin(PluginError):
    """An optional contract method the plugin does not provide."""


@dataclass(frozen=True)
class PluginContext:
    """What the core hands to every plugin at construction."""

    cluster_name: str
    # Name of this plugin instance in the config (e.g. the key under `power:`).
    instance: str
    templates: Mapping[str, NodeTemplate] = field(default_factory=dict)
    # Extra collaborators a plugin may use (e.g. the sandbox for `sim`); keyed by name.
    extras: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- backends


@dataclass(frozen=True)
class Observation:
    """Everything a backend sees of the cluster at one moment."""

    nodes: Mapping[str, NodeObservation]
    pending: tuple[PodInfo, ...]  # unschedulable pods (after the grace period)
    # Work the scheduler does not see yet (suspended Jobs, Kueue Workloads,
    # ProvisioningRequests) as facts; the planner decides what is demand (decision 0015).
    hidden: tuple[HiddenDemand, ...] = ()
    pdbs: tuple[DisruptionBudget, ...] = ()  # PodDisruptionBudgets, when the backend knows them
    # Kueue context: ClusterQueue quotas, ("ns/localqueue", clusterqueue), Workload API served.
    queues: tuple[QueueQuota, ...] = ()
    local_queues: tuple[tuple[str, str], ...] = ()
    kueue: bool = False


@dataclass(frozen=True)
class Changes:
    """What differs between an observation and the one before it (`observe_changes`).

    `full` means anything may have changed (the first call, a relist): the daemon then
    re-examines everything. Otherwise `nodes` names every node whose `NodeObservation`
    changed, appeared or went away, `pending` every demand pod that appeared or changed
    (its `PodInfo`) or left (None), and `other` says whether hidden demand, PDBs or any
    other part of the observation changed.
    """

    full: bool = True
    nodes: frozenset[str] = frozenset()
    pending: Mapping[str, PodInfo | None] = field(default_factory=dict)
    other: bool = False
    # The observation may change at this time with no event (a pod's pending grace ends).
    revisit_at: float = float("inf")


@dataclass(frozen=True)
class DrainResult:
    done: bool
    # Pods still on the node and why they could not be evicted (PDB, protected, ...).
    blocked: Mapping[str, str] = field(default_factory=dict)
    # Pods on the node the drain was not told it may evict: work that arrived after the
    # decision to drain (bound before the cordon). When any is here, nothing was evicted.
    arrived: tuple[str, ...] = ()


@runtime_checkable
class Backend(Protocol):
    """Turns an external cluster into observations and change notifications."""

    Config: ClassVar[type]

    def start(self, on_change: Callable[[], None]) -> None:
        """Required. Begin watching; call `on_change` (cheap, thread-safe) on any relevant event."""

    def synced(self) -> bool:
        """Required. True while the view reflects the cluster: every watched resource
        listed and every watch up; False before the first list and while a watch is down."""

    # Optional, not declared here so that existing backends stay structurally valid:
    # `data_age() -> float`, seconds since the view was last known current (0 while
    # synced, inf before the first sync). Without it the daemon takes 0 when `synced()`
    # and inf otherwise (`clues_py.daemon.freshness`).

    def observe(self, now: float) -> Observation:
        """Required. Current view; must not block on I/O (served from the watch caches)."""

    # Optional: `observe_changes(now) -> tuple[Observation, Changes]`, the observation and
    # what changed since the previous call of it (not of `observe`). Unchanged node
    # observations must be the same objects as before. Without it every pass of the daemon
    # re-examines every node (see docs/plugins.md).

    def cordon(self, node: str, cordoned: bool = True) -> None:
        """Required. Mark the node (un)schedulable."""

    # Optional, not declared here so that existing backends stay structurally valid:
    # `set_scale_down_taint(node: str, present: bool) -> None` adds or removes
    # SCALE_DOWN_TAINT on the node, keeping its other taints; a backend without it
    # simply gets no packing-aware placement.

    def drain(self, node: str, may_evict: Collection[str] | None = None) -> DrainResult:
        """Required. Evict what can be evicted now (Eviction API, PDB-aware); idempotent.
        With `may_evict` (pod keys "ns/name"), a pod the drain would evict that is not
        in it evicts nothing and is reported in `arrived` (decision 0021)."""

    def delete_node(self, node: str) -> None:
        """Required. Remove the Node object after power-off; missing is not an error."""

    def stop(self) -> None:
        """Required. Stop watching; returns promptly."""

    # Optional, not declared here so that existing backends stay structurally valid:
    # `update_request(update: RequestUpdate) -> None` sets a condition on a
    # ProvisioningRequest (clues-py acting as its autoscaler, decision 0015); a backend
    # without it leaves ProvisioningRequests to another autoscaler.


def updates_requests(backend: Backend) -> bool:
    """True when `backend` can set conditions on ProvisioningRequests."""
    return callable(getattr(backend, "update_request", None))


# --------------------------------------------------------------------------- power managers


class PowerState(enum.StrEnum):
    ON = "on"
    OFF = "off"
    BOOTING = "booting"
    STOPPING = "stopping"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class OwnedInstance:
    provider_id: str
    node_name: str
    template: str
    state: PowerState


@runtime_checkable
class PowerManager(Protocol):
    """Powers nodes on and off. Calls may block (the actuator runs them on worker threads)."""

    Config: ClassVar[type]

    def power_on(self, node: ManagedNode, template: NodeTemplate) -> str:
        """Required. Start the node; return its provider id. Raise PluginError on failure."""

    def power_off(self, node: ManagedNode) -> None:
        """Required. Stop (or terminate) the node. Raise PluginError on failure."""

    def describe(self, node: ManagedNode) -> PowerState:
        """Required. What the provider says of this node now."""

    def list_owned(self) -> list[OwnedInstance]:
        """Optional (raise NotImplementedByPlugin). Everything this manager created, for reconciliation."""

    # Optional, not declared here so that existing managers stay structurally valid:
    # `terminate(provider_id: str) -> None` ends one owned instance by id (reconciliation
    # of duplicates and orphans); a manager without it only gets whole-node power_off.

    def close(self) -> None:
        """Required. Release connections."""
