"""Daemon bookkeeping shared by the loop and its collaborators (control surface, reconciler).

`NodeSide` is per-node state that is not lifecycle state and is never persisted (the
action in flight, drain and clean-up progress); `LastPlan` is what the last planning pass
saw and decided, which status and explain report. `recover_nodes` rebuilds the managed
nodes from the store at start-up. Who updates these and when is `daemon.py`'s business,
how they are shown is `control.py`'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

from clues_py.config.load import Config
from clues_py.model import Demand, ManagedNode, NodeState, Plan
from clues_py.store import Store

log = logging.getLogger("clues.daemon")


@dataclass
class NodeSide:
    """Per-node bookkeeping that is not lifecycle state (not persisted)."""

    action_id: int | None = None
    drain_started: bool = False
    last_describe: float = float("-inf")
    cleaned_up: bool = False
    # Back in service while an operation on it still ran: uncordon once it is free.
    uncordon: bool = False
    # The pods a drain may evict: those the node had when it was decided (none after a
    # restart: an interrupted drain finds any pod new and puts the node back in service).
    may_evict: frozenset[str] = frozenset()

    def start_drain(self, node: ManagedNode) -> frozenset[str]:
        """A drain of `node` as the plan saw it starts; returns the pods it may evict."""
        self.drain_started = True
        self.may_evict = (
            frozenset(p.key for p in node.observed.pods) if node.observed else frozenset()
        )
        return self.may_evict


@dataclass
class LastPlan:
    """The last pass: when, the plan, and the demand it saw (summed when asked)."""

    at: float = 0.0
    plan: Plan = field(default_factory=Plan)
    demand: Demand = field(default_factory=Demand)

    @property
    def pending(self) -> int:
        return len(self.demand.pods)

    @cached_property
    def pending_cpu(self) -> int:
        return sum(p.requests.cpu_millis for p in self.demand.pods)

    @cached_property
    def pending_memory(self) -> int:
        return sum(p.requests.memory_bytes for p in self.demand.pods)

    @cached_property
    def hidden(self) -> int:
        # hidden work the admission rules counted as demand (decision 0015)
        return sum(self.plan.counted.values())


def recover_nodes(store: Store, cfg: Config, now: float) -> dict[str, ManagedNode]:
    """The managed nodes after a (re)start: the store's state for every node the config
    names (new ones OFF), and unfinished actions closed as interrupted."""
    stored = store.load_nodes()
    nodes: dict[str, ManagedNode] = {}
    with store.batch():
        _recover(store, cfg, now, stored, nodes)
    dropped = sorted(set(stored) - set(nodes))
    if dropped:
        log.warning("nodes in the store but no longer in the config (ignored): %s", dropped)
    return nodes


def _recover(
    store: Store,
    cfg: Config,
    now: float,
    stored: dict[str, ManagedNode],
    nodes: dict[str, ManagedNode],
) -> None:
    for t in cfg.templates:
        for name in t.node_names:
            node = stored.get(name)
            if node is None:
                node = ManagedNode(name=name, template=t.name, state=NodeState.OFF, since=now)
                store.save_node(node)
            elif node.template != t.name:
                node = node.with_(template=t.name)
                store.save_node(node)
            nodes[name] = node
    for action in store.unfinished_actions():
        # The previous run died mid-call; the FSM's timeouts and the provider's own
        # state decide what really happened, so just close the record.
        store.finish_action(action["id"], "interrupted", "daemon restarted", at=now)
