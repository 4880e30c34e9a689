"""Reconciliation: compare the store, the providers' owned instances and the cluster; decide.

`decide()` is pure: given the managed nodes (the store's view), every instance the power
managers say they own (`list_owned()`), how long each instance has been seen, and which
Kubernetes nodes exist, it returns what to do and why:

- `Adopt`: record an instance's provider id against its node. For a node the store has
  OFF this also tells the FSM it is running (PROVIDER_ON -> POWERING_ON, so the boot
  timeout applies); a node already Ready is adopted by the FSM itself via OBSERVED.
- `Terminate`: end one instance: its node name is not one of ours, it duplicates the
  instance kept for its node, it has run for longer than the boot timeout without
  joining while its node is off or failed, or its node is one the daemon has given up on
  (ON_ERROR or OFF_ERROR after max_retries) and nothing runs on it.
- `Gone`: a node given up on whose instance is gone returns to OFF (PROVIDER_GONE).
- `unmanaged`: Kubernetes nodes that no template owns (reported, never touched).

`resolve_intent` is the start-up twin (`clues_py.daemon.recovery`): for a node stored as
POWERING_ON/POWERING_OFF, was the provider call made before the crash, or must it be made?

Only instances a power manager lists are considered, and those are already filtered by
our cluster tag, so nothing untagged is ever touched. The daemon gathers the inputs and
executes the decisions through the actuator; this module does no I/O.
"""

from __future__ import annotations

import enum
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
class Gone:
    node: str
    reason: str


@dataclass(frozen=True)
class Decisions:
    adopt: tuple[Adopt, ...] = ()
    terminate: tuple[Terminate, ...] = ()
    unmanaged: tuple[str, ...] = ()
    gone: tuple[Gone, ...] = ()
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
    max_retries: int = 3,
    in_use: Collection[str] = (),
) -> Decisions:
    """What reconciliation should do now.

    nodes: managed nodes by name (the store's view). power_of: template -> power manager.
    instances: (power manager, instance) pairs from `list_owned()`. ages: provider id ->
    seconds since the instance was first seen. cluster_nodes: Kubernetes node name ->
    Ready. listed: power managers whose listing succeeded (nodes of the others are left
    alone: no decision on partial data). busy: nodes with an operation in flight.
    listed_at: when listing started; a node whose state changed after it is skipped.
    max_retries: attempts after which the daemon has given up on an *_ERROR node.
    in_use: Kubernetes nodes running workload pods (never terminated for giving up).
    """
    adopt: list[Adopt] = []
    terminate: list[Terminate] = []
    gone: list[Gone] = []
    skipped: list[str] = []
    by_node: dict[str, list[tuple[str, OwnedInstance]]] = {}
    present: set[str] = set()  # node names with an instance that is not off
    for power, inst in instances:
        if inst.state != PowerState.OFF:
            present.add(inst.node_name)
        if inst.state not in _LIVE:
            continue
        by_node.setdefault(inst.node_name, []).append((power, inst))

    def settled(n: ManagedNode) -> bool:
        ok = n.name not in busy and n.since < listed_at
        return ok and power_of.get(n.template, "") in listed

    for name, n in sorted(nodes.items()):
        if name not in present and _given_up(n, max_retries) and settled(n):
            gone.append(Gone(name, f"no instance of {name} is left after giving up"))

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
        if not settled(node):
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
        if _given_up(node, max_retries):
            if not (cluster_nodes.get(name, False) and name in in_use):
                terminate.append(_give_up(node, keep))
            continue
        _judge_kept(node, keep, ages, cluster_nodes, boot_timeout, adopt, terminate)

    managed = set(nodes)
    unmanaged = tuple(sorted(n for n in cluster_nodes if n not in managed))
    return Decisions(tuple(adopt), tuple(terminate), unmanaged, tuple(gone), tuple(skipped))


def _given_up(node: ManagedNode, max_retries: int) -> bool:
    return node.state in (NodeState.ON_ERROR, NodeState.OFF_ERROR) and (
        node.attempts >= max_retries
    )


def _give_up(node: ManagedNode, keep: tuple[str, OwnedInstance]) -> Terminate:
    power, inst = keep
    what = "power-ons" if node.state == NodeState.ON_ERROR else "power-offs"
    return Terminate(
        power,
        inst.provider_id,
        node.name,
        f"{node.name} is {node.state.value} after {node.attempts} failed {what} (given up "
        f"until RESET) but instance {inst.provider_id} is {inst.state.value}",
    )


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
    # POWERING_OFF / OFF_ERROR before giving up: a power-off is under way or will be
    # retried; the FSM's timeouts and the retry handle it.


class Resolution(enum.StrEnum):
    RESUME = "resume"  # the call was made before the crash: wait for it, with a fresh timeout
    REISSUE = "reissue"  # it was not: make it again
    ASK_AGAIN = "ask_again"  # the provider cannot tell yet


def resolve_intent(state: NodeState, power: PowerState | None) -> tuple[Resolution, str]:
    """A node stored as POWERING_ON/POWERING_OFF at start-up, and what its provider says
    now (None: the provider could not be asked): what to do, and why."""
    if power is None or power == PowerState.UNKNOWN:
        return Resolution.ASK_AGAIN, "the provider cannot say whether it is on"
    seen = f"the provider reports it {power.value}"
    if state == NodeState.POWERING_ON:
        if power in _LIVE:
            return Resolution.RESUME, f"{seen}: the power-on was made; waiting for it to join"
        if power == PowerState.STOPPING:
            return Resolution.ASK_AGAIN, f"{seen}: re-sending the power-on once it is off"
        return Resolution.REISSUE, f"{seen}: the power-on was never made; re-sending it"
    if power in (PowerState.OFF, PowerState.STOPPING):
        return Resolution.RESUME, f"{seen}: the power-off was made"
    return Resolution.REISSUE, f"{seen}: the power-off was never made; re-sending it"
