"""Reconciliation: compare the store, the providers' owned instances and the cluster; decide.

`decide()` is pure: given the managed nodes (the store's view), every instance the power
managers say they own (`list_owned()`), how long each instance has been seen, and which
Kubernetes nodes exist, it returns what to do and why:

- `Adopt`: record an instance's provider id against its node. For a node the store has
  OFF this also tells the FSM it is running (PROVIDER_ON -> POWERING_ON, so the boot
  timeout applies); a node already Ready is adopted by the FSM itself via OBSERVED.
- `Terminate`: end one instance: its node name is not one of ours, it duplicates the
  instance kept for its node, or it has run for longer than the boot timeout without
  joining while its node is off or failed.
- `unmanaged`: Kubernetes nodes that no template owns (reported, never touched).

Only instances a power manager lists are considered, and those are already filtered by
our cluster tag, so nothing untagged is ever touched. The daemon gathers the inputs and
executes the decisions through the actuator; this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from clues_py.contracts import OwnedInstance, PowerState
from clues_py.model import ManagedNode, NodeState

_LIVE = frozenset({PowerState.ON, PowerState.BOOTING})
# States in which the daemon believes an instance should be running.
_RUNNING_STATES = frozenset(
    {NodeState.POWERING_ON, NodeState.IDLE, NodeState.USED, NodeState.DRAINING, NodeState.UNKNOWN}
)


@dataclass(frozen=True)
class Adopt:
    node: str
    provider_id: str
    reason: str


@dataclass(frozen=True)
class Terminate:
    power: str  # power manager instance name
    provider_id: str
    node: str  # the node name the instance is tagged with (may be unknown to us)
    reason: str


@dataclass(frozen=True)
class Decisions:
    adopt: tuple[Adopt, ...] = ()
    terminate: tuple[Terminate, ...] = ()
    unmanaged: tuple[str, ...] = ()
    # Nodes skipped this round (busy, changed while listing, provider not listed).
    skipped: tuple[str, ...] = field(default=())


def decide(
    *,
    nodes: Mapping[str, ManagedNode],
    power_of: Mapping[str, str],
    instances: Sequence[tuple[str, OwnedInstance]],
    ages: Mapping[str, float],
    cluster_nodes: Mapping[str, bool],
    boot_timeout: float,
    listed: Collection[str],
    busy: Collection[str] = (),
    listed_at: float = float("inf"),
) -> Decisions:
    """What reconciliation should do now.

    nodes: managed nodes by name (the store's view). power_of: template -> power manager.
    instances: (power manager, instance) pairs from `list_owned()`. ages: provider id ->
    seconds since the instance was first seen. cluster_nodes: Kubernetes node name ->
    Ready. listed: power managers whose listing succeeded (nodes of the others are left
    alone: no decision on partial data). busy: nodes with an operation in flight.
    listed_at: when listing started; a node whose state changed after it is skipped.
    """
    adopt: list[Adopt] = []
    terminate: list[Terminate] = []
    skipped: list[str] = []
    by_node: dict[str, list[tuple[str, OwnedInstance]]] = {}
    for power, inst in instances:
        if inst.state not in _LIVE:
            continue
        by_node.setdefault(inst.node_name, []).append((power, inst))

    for name in sorted(by_node):
        group = sorted(by_node[name], key=lambda pi: pi[1].provider_id)
        node = nodes.get(name)
        if node is None:
            for power, inst in group:
                terminate.append(
                    Terminate(
                        power,
                        inst.provider_id,
                        name,
                        f"instance {inst.provider_id} is tagged for node {name!r}, which no "
                        "template has (config changed?)",
                    )
                )
            continue
        if name in busy or node.since >= listed_at or power_of.get(node.template, "") not in listed:
            skipped.append(name)
            continue
        keep = _keeper(node, group, ages)
        for power, inst in group:
            if inst.provider_id != keep[1].provider_id:
                terminate.append(
                    Terminate(
                        power,
                        inst.provider_id,
                        name,
                        f"duplicate instance {inst.provider_id} for node {name}; "
                        f"keeping {keep[1].provider_id}",
                    )
                )
        _judge_kept(node, keep, ages, cluster_nodes, boot_timeout, adopt, terminate)

    managed = set(nodes)
    unmanaged = tuple(sorted(n for n in cluster_nodes if n not in managed))
    return Decisions(tuple(adopt), tuple(terminate), unmanaged, tuple(skipped))


def _keeper(
    node: ManagedNode, group: Sequence[tuple[str, OwnedInstance]], ages: Mapping[str, float]
) -> tuple[str, OwnedInstance]:
    """The store's instance if listed; else a running one before a booting one, oldest first."""
    for pi in group:
        if node.provider_id and pi[1].provider_id == node.provider_id:
            return pi
    return min(
        group,
        key=lambda pi: (
            pi[1].state != PowerState.ON,
            -ages.get(pi[1].provider_id, 0.0),
            pi[1].provider_id,
        ),
    )


def _judge_kept(
    node: ManagedNode,
    keep: tuple[str, OwnedInstance],
    ages: Mapping[str, float],
    cluster_nodes: Mapping[str, bool],
    boot_timeout: float,
    adopt: list[Adopt],
    terminate: list[Terminate],
) -> None:
    power, inst = keep
    ready = cluster_nodes.get(node.name, False)
    age = ages.get(inst.provider_id, 0.0)
    if node.state in (NodeState.OFF, NodeState.ON_ERROR) and not ready:
        if age >= boot_timeout:
            terminate.append(
                Terminate(
                    power,
                    inst.provider_id,
                    node.name,
                    f"instance {inst.provider_id} has run {age:.0f} s (>= boot_timeout "
                    f"{boot_timeout:.0f} s) without joining while {node.name} is "
                    f"{node.state.value}",
                )
            )
        elif node.state == NodeState.OFF:
            adopt.append(
                Adopt(
                    node.name,
                    inst.provider_id,
                    f"instance {inst.provider_id} is {inst.state.value} though the store "
                    "says off; waiting for it to join",
                )
            )
        return
    serving = node.state in _RUNNING_STATES or (node.state == NodeState.OFF and ready)
    if serving and node.provider_id != inst.provider_id:
        adopt.append(
            Adopt(
                node.name,
                inst.provider_id,
                f"instance {inst.provider_id} found by its tags; recorded for {node.name}",
            )
        )
    # POWERING_OFF / OFF_ERROR: a power-off is under way; the FSM's timeouts handle it.
