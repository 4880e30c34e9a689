"""Snapshot types: what the planner and the lifecycle FSM see.

Everything here is an immutable value with no I/O. Backends build these from
the outside world, the daemon assembles them into a `ClusterSnapshot`, and the
planner turns a snapshot into a `Plan`. Parsing and formatting Kubernetes
quantities (`500m`, `2Gi`, `1e3`) is quantity.py's, the `Resources` vector
resources.py's, taints, tolerations and node selectors placement.py's and the learned
demand history forecast.py's; their names are re-exported here so
`from clues_py.model import Taint` keeps working.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Re-exported (`X as X`): snapshot parts defined in their own pure modules.
from clues_py.forecast import DemandHistory as DemandHistory
from clues_py.forecast import Events as Events

# Re-exported: placement.py holds the scheduling constraints (taints, tolerations, affinity).
from clues_py.placement import Placement as Placement
from clues_py.placement import SelectorRequirement as SelectorRequirement
from clues_py.placement import Taint as Taint
from clues_py.placement import Toleration as Toleration
from clues_py.placement import untolerated as untolerated
from clues_py.quantity import GPU_RESOURCE_NAMES as GPU_RESOURCE_NAMES
from clues_py.quantity import QuantityError as QuantityError
from clues_py.quantity import cpu_millis as cpu_millis
from clues_py.quantity import format_bytes as format_bytes
from clues_py.quantity import format_cpu as format_cpu
from clues_py.quantity import parse_quantity as parse_quantity
from clues_py.quantity import to_int as to_int

# Re-exported (`X as X`): model.py was their home before quantity.py, and callers still import
# them from here.
from clues_py.resources import Resources as Resources
from clues_py.slots import slot_replacer

# --------------------------------------------------------------------------- pods and demand


@dataclass(frozen=True, slots=True)
class PodInfo:
    """A pod as the planner needs it. `requests` includes `pods=1`."""

    namespace: str
    name: str
    requests: Resources
    placement: Placement = Placement()
    node_name: str = ""
    phase: str = "Pending"
    owner_kind: str = ""
    owner_name: str = ""
    created: float = 0.0
    daemonset: bool = False
    mirror: bool = False
    # Annotation `clues-py.io/safe-to-evict: "false"` and similar protections.
    protected: bool = False
    # Pod labels (PodDisruptionBudget selectors match on them).
    labels: tuple[tuple[str, str], ...] = ()
    # Uses node-local storage (emptyDir, hostPath): lost when the node is drained.
    local_storage: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def owner_key(self) -> str:
        """The work the pod belongs to (its owner; the pod itself when it has none)."""
        if not self.owner_name:
            return self.key
        return f"{self.namespace}/{self.owner_kind}/{self.owner_name}"

    @property
    def counts_for_idleness(self) -> bool:
        """DaemonSet and mirror (static) pods run on every node; they don't make it used."""
        return not (self.daemonset or self.mirror) and self.phase in ("Pending", "Running")


@dataclass(frozen=True, slots=True)
class HiddenDemand:
    """Work the scheduler does not see yet: a suspended Job, a Kueue Workload or a
    ProvisioningRequest, with the admission facts its backend read (decision 0015).

    Whether it counts as demand is the planner's decision (`clues_py.planner.admission`):
    the backend reports facts, never verdicts.
    """

    kind: str  # "Job" | "Workload" | "ProvisioningRequest"
    namespace: str
    name: str
    per_pod: Resources
    count: int
    placement: Placement = Placement()
    created: float = 0.0
    pod_set: str = ""  # one of several pod sets of the object (part of the key)
    # Kueue: the LocalQueue it was submitted to (Job label kueue.x-k8s.io/queue-name,
    # Workload spec.queueName) and, once quota is reserved, the ClusterQueue holding it.
    queue: str = ""
    cluster_queue: str = ""
    reserved: bool = False  # Workload: QuotaReserved=True (not yet Admitted)
    since: float = 0.0  # when it entered its current state (quota reserved, created)
    message: str = ""  # Kueue's own words on why it waits (QuotaReserved=False message)
    owner: str = ""  # "ns/name" of its owner: a Workload's Job, a ProvisioningRequest's Workload
    # ProvisioningRequest (autoscaling.x-k8s.io): class, its conditions as
    # (type, status, reason), when Provisioned became True and how many pods consume it.
    request_class: str = ""
    conditions: tuple[tuple[str, str, str], ...] = ()
    provisioned_at: float = 0.0
    consumed: int = 0

    @property
    def key(self) -> str:
        base = f"{self.kind.lower()}:{self.namespace}/{self.name}"
        return f"{base}/{self.pod_set}" if self.pod_set else base

    @property
    def object_key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def condition(self, type_: str) -> tuple[str, str] | None:
        """(status, reason) of condition `type_`, or None when it is not set."""
        for t, status, reason in self.conditions:
            if t == type_:
                return status, reason
        return None

    def is_true(self, type_: str) -> bool:
        got = self.condition(type_)
        return got is not None and got[0] == "True"


@dataclass(frozen=True, slots=True)
class QueueQuota:
    """A Kueue ClusterQueue: nominal quota (summed over flavors) and what is reserved of it."""

    name: str
    nominal: Resources
    used: Resources
    pending: int = 0  # workloads waiting for quota


@dataclass(frozen=True, slots=True)
class Demand:
    pods: tuple[PodInfo, ...] = ()
    hidden: tuple[HiddenDemand, ...] = ()
    # Kueue context for the demand rules and `explain` (decision 0015).
    queues: tuple[QueueQuota, ...] = ()
    local_queues: tuple[tuple[str, str], ...] = ()  # ("ns/localqueue", clusterqueue)
    kueue: bool = False  # the Kueue Workload API is served
    # Optional hints for incremental planning (equality ignores them): this demand's
    # `version`, the `base` version it was derived from and the pods that entered or changed
    # (their PodInfo) or left (None) since then. None: unknown, the planner regroups all.
    version: int | None = field(default=None, compare=False, repr=False)
    base: int | None = field(default=None, compare=False, repr=False)
    delta: Mapping[str, PodInfo | None] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DisruptionBudget:
    """A PodDisruptionBudget: how many of the pods its selector matches may be evicted now."""

    namespace: str
    name: str
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[SelectorRequirement, ...] = ()
    disruptions_allowed: int = 0

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def selects(self, pod: PodInfo) -> bool:
        """True when the budget covers `pod` (same namespace, selector matches its labels)."""
        if pod.namespace != self.namespace:
            return False
        labels = dict(pod.labels)
        if any(labels.get(k) != v for k, v in self.match_labels):
            return False
        return all(r.matches(labels) for r in self.match_expressions)


# --------------------------------------------------------------------------- nodes


class NodeState(enum.StrEnum):
    OFF = "off"
    POWERING_ON = "powering_on"
    IDLE = "idle"
    USED = "used"
    DRAINING = "draining"
    POWERING_OFF = "powering_off"
    ON_ERROR = "on_error"
    OFF_ERROR = "off_error"
    UNKNOWN = "unknown"


ON_STATES = frozenset({NodeState.IDLE, NodeState.USED})


@dataclass(frozen=True, slots=True)
class NodeTemplate:
    """A kind of node a power manager can create or wake, and the names it may have."""

    name: str
    resources: Resources  # allocatable of one node
    power: str  # name of the power manager instance in the config
    node_names: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[Taint, ...] = ()
    cost_per_hour: float = 0.0
    watts_idle: float = 0.0
    watts_busy: float = 0.0
    boot_seconds: float = 60.0
    shutdown_seconds: float = 30.0
    boot_cost: float = 0.0  # price of one boot, in cost_per_hour's currency
    min_count: int = 0
    max_count: int | None = None
    priority: int = 0

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True, slots=True)
class NodeObservation:
    """What the backend sees of a node in the cluster right now."""

    name: str
    ready: bool
    unschedulable: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[Taint, ...] = ()
    allocatable: Resources = Resources()
    provider_id: str = ""
    pods: tuple[PodInfo, ...] = ()

    # Derived from `pods` on first use and kept: an observation is immutable, and the
    # daemon and the planner ask each unchanged one again on every full pass.
    _workload: tuple[PodInfo, ...] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _in_use: tuple[int, int, int, int] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def requested(self) -> Resources:
        total = Resources()
        for p in self.pods:
            if p.phase in ("Pending", "Running"):
                total = total + p.requests
        return total

    @property
    def in_use(self) -> tuple[int, int, int, int]:
        """CPU millis, memory bytes, GPUs and pod slots its Pending and Running pods take
        (a pod takes at least one slot)."""
        got = self._in_use
        if got is None:
            cpu = mem = gpus = pods = 0
            for p in self.pods:
                if p.phase == "Pending" or p.phase == "Running":
                    r = p.requests
                    cpu += r.cpu_millis
                    mem += r.memory_bytes
                    gpus += r.gpus
                    pods += max(r.pods, 1)
            got = (cpu, mem, gpus, pods)
            object.__setattr__(self, "_in_use", got)
        return got

    @property
    def workload_pods(self) -> tuple[PodInfo, ...]:
        got = self._workload
        if got is None:
            got = tuple(p for p in self.pods if p.counts_for_idleness)
            object.__setattr__(self, "_workload", got)
        return got


@dataclass(frozen=True, slots=True)
class ManagedNode:
    """A node the daemon may power, with its lifecycle state and what the cluster shows of it."""

    name: str
    template: str
    state: NodeState = NodeState.OFF
    since: float = 0.0
    enabled: bool = True
    attempts: int = 0  # consecutive failed power-ons/offs, reset on success
    retry_at: float = 0.0  # not before this time may a new power action start
    provider_id: str = ""
    last_used: float = 0.0  # last time a workload pod ran on it
    last_error: str = ""
    observed: NodeObservation | None = None  # None: not registered in the cluster
    # Last time the cluster showed it Ready (lifecycle: NotReady/missing longer than
    # `Timeouts.unknown_grace` after this makes an on node UNKNOWN).
    seen_ready_at: float = 0.0

    @property
    def ready(self) -> bool:
        return self.observed is not None and self.observed.ready

    @property
    def workload_pods(self) -> tuple[PodInfo, ...]:
        return self.observed.workload_pods if self.observed else ()

    def with_(self, **changes: Any) -> ManagedNode:
        """A copy with `changes` (what `dataclasses.replace` gives, three times as fast)."""
        new: ManagedNode = _replace_node(self, changes)
        return new


_replace_node = slot_replacer(ManagedNode)


# --------------------------------------------------------------------------- snapshot and plan


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Immutable view of the cluster at `now`. The planner sees only this."""

    now: float
    nodes: tuple[ManagedNode, ...]
    templates: Mapping[str, NodeTemplate]
    demand: Demand = Demand()
    # Ready nodes the daemon does not manage (the master, static workers): free room
    # on them absorbs demand before anything is powered on.
    unmanaged: tuple[NodeObservation, ...] = ()
    # Time of the last power-on action (for scale-down delay after scale-up).
    last_scale_up: float = float("-inf")
    # template -> time until which it is in back-off after provider errors (quota,
    # capacity, auth): the planner falls back to other templates meanwhile.
    template_backoff: Mapping[str, float] = field(default_factory=dict)
    # PodDisruptionBudgets (consolidation checks them before choosing a node to drain).
    pdbs: tuple[DisruptionBudget, ...] = ()
    # template -> when it needed more nodes (learned by the daemon; break-even power-off)
    demand_history: Mapping[str, DemandHistory] = field(default_factory=dict)
    # Optional hints for incremental planning (equality ignores them): this snapshot's
    # `version`, and the managed nodes that are other objects than in snapshot `base`.
    version: int | None = field(default=None, compare=False, repr=False)
    base: int | None = field(default=None, compare=False, repr=False)
    changed: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def node(self, name: str) -> ManagedNode | None:
        for n in self.nodes:
            if n.name == name:
                return n
        return None


def due_at(start: float, span: float) -> float:
    """The first time `t` at which `t - start >= span` (how elapsed times are compared): the
    moment a wait of `span` seconds from `start` is over."""
    t = start + span
    while t - start < span:
        t = math.nextafter(t, math.inf)
    return t


class ActionKind(enum.StrEnum):
    POWER_ON = "power_on"
    POWER_OFF = "power_off"


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    node: str
    template: str
    reason: str
    policy: str = ""
    pods: tuple[str, ...] = ()  # pod keys this action is for (scale-up)


@dataclass(frozen=True, slots=True)
class RequestUpdate:
    """A condition clues-py sets on a ProvisioningRequest, as Cluster Autoscaler would."""

    namespace: str
    name: str
    type: str  # Accepted | Provisioned | Failed | BookingExpired
    status: str  # "True" | "False"
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...] = ()
    # pod or hidden-demand key -> why nothing was (or could be) powered on for it
    unplaceable: Mapping[str, str] = field(default_factory=dict)
    # node name -> why it was kept on (idle but not yet powered off, protected, min_nodes...)
    kept: Mapping[str, str] = field(default_factory=dict)
    # demand key or node name -> policy that decided its `unplaceable`/`kept` reason
    decided_by: Mapping[str, str] = field(default_factory=dict)
    # hidden-demand key -> pods it counted as demand; key -> why it is not demand at all
    counted: Mapping[str, int] = field(default_factory=dict)
    held: Mapping[str, str] = field(default_factory=dict)
    # key -> warning worth an Event (hidden demand that stopped holding nodes, failed requests)
    warnings: Mapping[str, str] = field(default_factory=dict)
    # conditions to set on ProvisioningRequests
    requests: tuple[RequestUpdate, ...] = ()
    # The plan may differ from this time on with nothing else changing (an idle node's
    # hold ending, a back-off ending...): the daemon plans again then.
    revisit_at: float = float("inf")
    # node -> why new pods should avoid it (the daemon keeps the PreferNoSchedule
    # scale-down taint on exactly these nodes; see the pack_down policy)
    scale_down_candidates: Mapping[str, str] = field(default_factory=dict)
