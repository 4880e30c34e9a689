"""When the daemon's nodes need it without any event: lifecycle timeouts and in-progress steps.

`Deadlines` keeps, for every managed node, the time from which a TICK can change it
(`lifecycle.tick_due`; only finite ones are stored) and whether it is in a state whose
steps the loop drives (drains, power-off checks, clean-up of failed boots, power-off
retries), and the nodes to uncordon once the operation still running on them is done.
The daemon calls `track` whenever a node changes; `ticks_due` says which nodes
to tick in a pass, `drive` takes the next step of those in progress, `next_due` says when
the next such moment is. Facts are applied through the daemon's callback, operations run
on the actuator; what the planner will want again is the plan's `revisit_at`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from clues_py.daemon.actuator import Actuator
from clues_py.daemon.state import NodeSide
from clues_py.lifecycle import Fact, FactKind, Timeouts, Transition, retry_due, tick_due
from clues_py.model import ON_STATES, ManagedNode, NodeState

# (node, fact, now) -> the transition (the daemon's `_apply`)
ApplyFn = Callable[[str, Fact, float], Transition | None]

# Ask a provider whether a node is off at most this often per node.
DESCRIBE_INTERVAL = 2.0
# States with steps the daemon drives from the loop (drains, power-off checks, clean-up).
IN_PROGRESS = frozenset(
    {NodeState.DRAINING, NodeState.POWERING_OFF, NodeState.ON_ERROR, NodeState.OFF_ERROR}
)


class Deadlines:
    """Over the daemon's own `nodes` and `side` maps; `held` nodes wait for crash recovery."""

    def __init__(
        self,
        nodes: Mapping[str, ManagedNode],
        side: Mapping[str, NodeSide],
        held: Callable[[str], bool],
    ) -> None:
        self._nodes, self._side, self._held = nodes, side, held
        self._due: dict[str, float] = {}  # node -> when a TICK can change it
        self.in_progress: set[str] = set()  # nodes in IN_PROGRESS states
        # Nodes back in service while an operation on them still ran (NodeSide.uncordon).
        self.uncordon: set[str] = set()

    def uncordon_later(self, name: str) -> None:
        """Uncordon `name` in a pass once its operation is done (the daemon set its flag)."""
        self.uncordon.add(name)

    def track(self, name: str, node: ManagedNode, t: Timeouts) -> None:
        due = tick_due(node, t)
        if due < math.inf:
            self._due[name] = due
        else:
            self._due.pop(name, None)
        if node.state in IN_PROGRESS:
            self.in_progress.add(name)
        else:
            self.in_progress.discard(name)

    def ticks_due(self, now: float) -> list[str]:
        """Nodes a TICK at `now` can change, by name."""
        return sorted(n for n, due in self._due.items() if due <= now)

    def next_due(
        self, busy: Callable[[str], bool], t: Timeouts, last_pass: float, tick: float
    ) -> float:
        """The earliest time a pass has node work to do with no event (inf: none). The
        timeouts of held nodes wait for crash recovery, which asks every ASK_INTERVAL."""
        nodes, side, held = self._nodes, self._side, self._held
        due = min((d for n, d in self._due.items() if not held(n)), default=math.inf)
        for name in self.uncordon:
            if not busy(name) and side[name].uncordon and nodes[name].state in ON_STATES:
                due = min(due, last_pass)
        for name in self.in_progress:
            if busy(name):
                continue  # the end of its operation wakes the loop
            node, s = nodes[name], side[name]
            if node.state is NodeState.DRAINING:
                due = min(due, last_pass + tick)  # evict what can go, again, every tick
            elif node.state is NodeState.POWERING_OFF:
                due = min(due, s.last_describe + DESCRIBE_INTERVAL)
            elif node.state is NodeState.ON_ERROR and not s.cleaned_up:
                due = min(due, last_pass)
            elif node.state is NodeState.OFF_ERROR and node.attempts < t.max_retries:
                due = min(due, node.retry_at)
        return due

    def drive(self, now: float, actuator: Actuator, apply: ApplyFn, t: Timeouts) -> None:
        """Keep multi-step operations moving: drains, power-off checks, error clean-up,
        uncordons (not for held nodes: crash recovery resolves those first)."""
        nodes, side, held = self._nodes, self._side, self._held
        for name in sorted(self.in_progress | self.uncordon):
            node, s = nodes[name], side[name]
            if actuator.busy(name) or held(name):
                continue
            if s.uncordon and node.state in ON_STATES:
                s.uncordon = not actuator.uncordon(name)
            elif node.state == NodeState.DRAINING:
                actuator.drain_step(node, s.action_id, not s.drain_started, s.may_evict)
                s.drain_started = True
            elif node.state == NodeState.POWERING_OFF:
                if now - s.last_describe >= DESCRIBE_INTERVAL:
                    s.last_describe = now
                    actuator.check_off(node)
            elif node.state == NodeState.ON_ERROR and not s.cleaned_up:
                s.cleaned_up = True
                actuator.cleanup_failed_boot(node)
            elif node.state == NodeState.OFF_ERROR and retry_due(node, now, t):
                tr = apply(name, Fact(FactKind.POWER_OFF_SENT, "retrying power-off"), now)
                if tr is not None and tr.new == NodeState.POWERING_OFF:
                    actuator.power_off(nodes[name], None)
        self.uncordon = {n for n in self.uncordon if side[n].uncordon}
