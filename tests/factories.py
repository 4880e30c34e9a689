"""Snapshot factories for tests: small, explicit builders of `clues_py.model` values.

Quantities are Kubernetes strings (`"500m"`, `"2Gi"`), every argument but the
name has a default, and nothing here is random. Typical use:

    wn = make_template("wn", cpu="4", mem="8Gi", count=3)          # wn-1..wn-3
    snap = make_snapshot(
        nodes=[make_node("wn-1", "wn", NodeState.USED, pods=[make_pod("a", node="wn-1")]),
               make_node("wn-2"), make_node("wn-3")],
        templates=[wn],
        pending=[make_pod(f"job-{i}", cpu="1", mem="2Gi") for i in range(10)],
        now=1000.0,
    )

`make_node` gives an on node (IDLE, USED, DRAINING, UNKNOWN-but-ready...) a Ready
observation whose allocatable is `cpu`/`mem`; OFF and booting nodes get none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from clues_py.model import (
    ClusterSnapshot,
    Demand,
    HiddenDemand,
    ManagedNode,
    NodeObservation,
    NodeState,
    NodeTemplate,
    Placement,
    PodInfo,
    QueueQuota,
    Resources,
    Taint,
    Toleration,
    cpu_millis,
    to_int,
)

__all__ = [
    "make_hidden",
    "make_node",
    "make_observation",
    "make_placement",
    "make_pod",
    "make_resources",
    "make_snapshot",
    "make_template",
]

# States in which `make_node` attaches a Ready observation by default.
_READY_STATES = frozenset({NodeState.IDLE, NodeState.USED, NodeState.DRAINING})


def make_resources(cpu: str = "0", mem: str = "0", gpus: int = 0, pods: int = 0) -> Resources:
    return Resources(cpu_millis(cpu), to_int(mem), gpus, pods)


def make_placement(
    selector: Mapping[str, str] | None = None, tolerations: Iterable[Toleration] = ()
) -> Placement:
    return Placement(tuple(sorted((selector or {}).items())), tuple(tolerations))


def make_pod(
    name: str = "pod",
    cpu: str = "1",
    mem: str = "1Gi",
    *,
    namespace: str = "default",
    gpus: int = 0,
    node: str = "",
    phase: str | None = None,
    selector: Mapping[str, str] | None = None,
    tolerations: Iterable[Toleration] = (),
    daemonset: bool = False,
    mirror: bool = False,
    owner_kind: str = "Job",
    owner_name: str = "",
    created: float = 0.0,
    protected: bool = False,
) -> PodInfo:
    """A pod requesting `cpu`/`mem`/`gpus` and one pod slot; Running when `node` is set."""
    return PodInfo(
        namespace=namespace,
        name=name,
        requests=make_resources(cpu, mem, gpus, 1),
        placement=make_placement(selector, tolerations),
        node_name=node,
        phase=phase or ("Running" if node else "Pending"),
        owner_kind="DaemonSet" if daemonset else owner_kind,
        owner_name=owner_name or name,
        created=created,
        daemonset=daemonset,
        mirror=mirror,
        protected=protected,
    )


def make_observation(
    name: str,
    *,
    ready: bool = True,
    cpu: str = "4",
    mem: str = "8Gi",
    gpus: int = 0,
    max_pods: int = 110,
    pods: Iterable[PodInfo] = (),
    labels: Mapping[str, str] | None = None,
    taints: Iterable[Taint] = (),
    unschedulable: bool = False,
) -> NodeObservation:
    """A node as the cluster shows it; pods without a node name are bound to this one."""
    bound = tuple(p if p.node_name else replace(p, node_name=name, phase="Running") for p in pods)
    return NodeObservation(
        name=name,
        ready=ready,
        unschedulable=unschedulable,
        labels=tuple(sorted((labels or {}).items())),
        taints=tuple(taints),
        allocatable=make_resources(cpu, mem, gpus, max_pods),
        provider_id=f"sim://{name}",
        pods=bound,
    )


def make_template(
    name: str = "wn",
    cpu: str = "4",
    mem: str = "8Gi",
    *,
    gpus: int = 0,
    max_pods: int = 110,
    count: int = 0,
    labels: Mapping[str, str] | None = None,
    taints: Iterable[Taint] = (),
    cost: float = 0.0,
    priority: int = 0,
    max_count: int | None = None,
    min_count: int = 0,
    power: str = "sim",
) -> NodeTemplate:
    """A template; `count` names its nodes `<name>-1..<name>-<count>`."""
    return NodeTemplate(
        name=name,
        resources=make_resources(cpu, mem, gpus, max_pods),
        power=power,
        node_names=tuple(f"{name}-{i}" for i in range(1, count + 1)),
        labels=tuple(sorted((labels or {}).items())),
        taints=tuple(taints),
        cost_per_hour=cost,
        priority=priority,
        max_count=max_count,
        min_count=min_count,
    )


def make_node(
    name: str,
    template: str = "wn",
    state: NodeState = NodeState.OFF,
    *,
    pods: Iterable[PodInfo] = (),
    ready: bool | None = None,
    observed: bool | None = None,
    cpu: str = "4",
    mem: str = "8Gi",
    gpus: int = 0,
    labels: Mapping[str, str] | None = None,
    taints: Iterable[Taint] = (),
    unschedulable: bool | None = None,
    since: float = 0.0,
    last_used: float = 0.0,
    seen_ready_at: float = 0.0,
    enabled: bool = True,
    attempts: int = 0,
    retry_at: float = 0.0,
    last_error: str = "",
) -> ManagedNode:
    """A managed node. `observed` defaults to True for IDLE/USED/DRAINING (Ready unless
    `ready=False`); DRAINING nodes are cordoned unless `unschedulable` says otherwise."""
    if observed is None:
        observed = state in _READY_STATES or ready is not None
    obs = None
    if observed:
        obs = make_observation(
            name,
            ready=True if ready is None else ready,
            cpu=cpu,
            mem=mem,
            gpus=gpus,
            pods=pods,
            labels=labels,
            taints=taints,
            unschedulable=(state == NodeState.DRAINING) if unschedulable is None else unschedulable,
        )
    return ManagedNode(
        name=name,
        template=template,
        state=state,
        since=since,
        enabled=enabled,
        attempts=attempts,
        retry_at=retry_at,
        provider_id=f"sim://{name}" if obs else "",
        last_used=last_used,
        last_error=last_error,
        observed=obs,
        seen_ready_at=seen_ready_at,
    )


def make_hidden(
    name: str,
    count: int,
    cpu: str = "1",
    mem: str = "1Gi",
    *,
    namespace: str = "default",
    kind: str = "Workload",
    gpus: int = 0,
    selector: Mapping[str, str] | None = None,
    reserved: bool | None = None,
    **facts: Any,
) -> HiddenDemand:
    """Hidden work of `count` pods of `cpu`/`mem` each: by default a Kueue Workload holding
    quota (demand under the admission rules); `kind="Job"` a suspended Job; `facts` set the
    other admission facts (queue, since, conditions, ...). It is 10 s old at the default
    snapshot time (1000)."""
    facts.setdefault("created", 990.0)
    facts.setdefault("since", facts["created"])
    return HiddenDemand(
        kind=kind,
        namespace=namespace,
        name=name,
        per_pod=make_resources(cpu, mem, gpus, 1),
        count=count,
        placement=make_placement(selector),
        reserved=(kind == "Workload") if reserved is None else reserved,
        **facts,
    )


def make_snapshot(
    nodes: Iterable[ManagedNode] = (),
    templates: Iterable[NodeTemplate] = (),
    *,
    pending: Iterable[PodInfo] = (),
    hidden: Iterable[HiddenDemand] = (),
    unmanaged: Iterable[NodeObservation] = (),
    now: float = 1000.0,
    last_scale_up: float = float("-inf"),
    queues: Iterable[QueueQuota] = (),
    local_queues: Mapping[str, str] | None = None,
    kueue: bool = False,
) -> ClusterSnapshot:
    return ClusterSnapshot(
        now=now,
        nodes=tuple(nodes),
        templates={t.name: t for t in templates},
        demand=Demand(
            tuple(pending),
            tuple(hidden),
            tuple(queues),
            tuple(sorted((local_queues or {}).items())),
            kueue,
        ),
        unmanaged=tuple(unmanaged),
        last_scale_up=last_scale_up,
    )
