"""`PlanBuilder`: the plan under construction that policies add to, veto and annotate.

A policy (see `Policy`) receives the snapshot and the builder. It may add actions,
veto actions an earlier policy added (with a reason), record why demand could not
be served (`unplaceable`) or why a node was left alone (`kept`), and *reserve* nodes
that later policies must not power off (a node the scale-up counted on, the nodes
that keep `min_nodes` on). The builder enforces two safety rules whatever the
policies do: disabled nodes are never acted on, and a node gets at most one action.
Policies say when their decision would change with time alone (`revisit`: an idle node's
idle_time running out...) so the daemon need not plan while nothing changes; the indexes
kept between passes are `memo`'s (`memo.py`). Packing lives in `packing.py`; the policies
themselves in `plugins/policies/`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from clues_py.model import Action, ActionKind, ClusterSnapshot, Plan, RequestUpdate
from clues_py.planner.memo import PlanMemo
from clues_py.planner.reasons import Reasons

__all__ = ["PlanBuilder", "Policy"]


@runtime_checkable
class Policy(Protocol):
    """One step of the planning pipeline. Policies run in the configured order."""

    name: str

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        """Required. Add, veto or annotate; must be pure (no I/O, no clock)."""

    # Optional: `declares_revisits = True` promises that the policy calls
    # `builder.revisit(t)` for every time `t` at which its decisions could change with
    # nothing else changing. Without it the daemon plans again on every tick.


class _Attributed(Reasons):
    """A reason map that records which policy wrote each entry (for `clues explain`).

    Shared chunks (a demand group's reasons, `Reasons.add_chunk`) are attributed by a chunk
    of their own, kept by the memo while the chunk lives: no per-key work for them."""

    __slots__ = ("_builder",)

    def __init__(self, builder: PlanBuilder) -> None:
        super().__init__()
        self._builder: PlanBuilder | None = builder  # None once built: read-only

    @property
    def _live(self) -> PlanBuilder:
        if self._builder is None:
            raise TypeError("the reasons of a built plan are read-only")
        return self._builder

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        b = self._live
        # A node kept for a reservation is the reserving policy's decision.
        b.decided_by[key] = (
            b.reserved_by.get(key, b.current) if b.reserved.get(key) == value else b.current
        )

    def update(self, items: Mapping[str, str]) -> None:
        if isinstance(items, Reasons):
            for layer, shared in items.layers():
                if shared:
                    self.add_chunk(layer)
                else:
                    self._copy(layer)
        else:
            self._copy(items)

    def _copy(self, items: Mapping[str, str]) -> None:
        b = self._live
        # Keys reserved with the same reason keep the reserving policy; the rest (all of
        # them, for demand keys) take the current one: dict-sized C-level updates.
        special = self._special(items)
        Reasons.update(self, items)
        b.decided_by.update(dict.fromkeys(items, b.current))
        for k in special:
            b.decided_by[k] = b.reserved_by.get(k, b.current)

    def add_chunk(self, chunk: Mapping[str, str]) -> None:
        if not chunk:
            return
        b = self._live
        special = self._special(chunk)
        super().add_chunk(chunk)
        b.decided_by.add_chunk(b.memo.attributed(chunk, b.current))
        for k in special:
            b.decided_by[k] = b.reserved_by.get(k, b.current)

    def _special(self, items: Mapping[str, str]) -> list[str]:
        reserved = self._live.reserved
        if not reserved:
            return []
        return [k for k in reserved.keys() & items.keys() if items[k] == reserved[k]]

    def fill(self, keys: Iterable[str], value: str) -> None:
        """`update(dict.fromkeys(keys, value))`: one reason for many keys."""
        self.update(dict.fromkeys(keys, value))


class PlanBuilder:
    """Mutable accumulator for one `plan()` call; `build()` freezes it into a `Plan`."""

    def __init__(self, snap: ClusterSnapshot, memo: PlanMemo | None = None) -> None:
        self.snapshot = snap
        # Indexes over this snapshot (kept from the previous plan when the caller has one).
        self.memo = memo if memo is not None else PlanMemo()
        self.revisit_at = float("inf")
        # demand key or node -> name of the policy that last wrote its reason (explain)
        self.decided_by = Reasons()
        self.current = "planner"  # policy being applied (set by `plan()`)
        # node -> why it must stay on during this plan (power-offs of it are refused)
        self.reserved: dict[str, str] = {}
        self.reserved_by: dict[str, str] = {}  # node -> policy that reserved it
        self.unplaceable = _Attributed(self)
        self.kept = _Attributed(self)
        # node -> demand counted on it (its free room or its boot): not spare capacity
        self.claimed: dict[str, str] = {}
        # hidden work: key -> pods counted as demand; key -> why it is not demand;
        # warnings worth an Event; conditions to set on ProvisioningRequests
        self.counted: dict[str, int] = {}
        self.held = _Attributed(self)
        self.warnings: dict[str, str] = {}
        self.requests: list[RequestUpdate] = []
        self._actions: dict[str, Action] = {}  # node -> action, in insertion order
        # node -> why new pods should avoid it (PreferNoSchedule scale-down taint)
        self.candidates: dict[str, str] = {}
        self._disabled = frozenset(self.memo.nodes(snap).disabled)
        for name in sorted(self._disabled):
            self.kept[name] = "disabled"

    # ------------------------------------------------------------------ queries

    @property
    def actions(self) -> list[Action]:
        return list(self._actions.values())

    def action_for(self, node: str) -> Action | None:
        return self._actions.get(node)

    def power_ons(self) -> list[Action]:
        return [a for a in self._actions.values() if a.kind is ActionKind.POWER_ON]

    def is_disabled(self, node: str) -> bool:
        return node in self._disabled

    # ------------------------------------------------------------------ changes

    def add(self, action: Action) -> bool:
        """Add an action; False (and nothing added) for a disabled, reserved or taken node."""
        if not action.reason:
            raise ValueError(f"action on {action.node} by {action.policy or '?'} has no reason")
        if action.node in self._disabled:
            self.kept[action.node] = "disabled"
            return False
        if action.node in self._actions:
            return False
        if action.kind is ActionKind.POWER_OFF and action.node in self.reserved:
            self.kept[action.node] = self.reserved[action.node]
            return False
        self._actions[action.node] = action
        return True

    def veto(self, action: Action, reason: str) -> None:
        """Remove an action; its pods (power-on) or its node (power-off) keep the reason."""
        if self._actions.get(action.node) != action:
            return
        del self._actions[action.node]
        if action.kind is ActionKind.POWER_ON:
            for key in action.pods:
                self.unplaceable[key] = reason
            self.kept[action.node] = f"left off: {reason}"
        else:
            self.kept[action.node] = reason

    def keep(self, node: str, reason: str) -> None:
        """Say why a node was left alone (never overrides "disabled")."""
        if node not in self._disabled:
            self.kept[node] = reason

    def reserve(self, node: str, reason: str) -> None:
        """Forbid powering `node` off in this plan; vetoes a power-off already added."""
        if node not in self.reserved:
            self.reserved[node] = reason
            self.reserved_by[node] = self.current
        existing = self._actions.get(node)
        if existing is not None and existing.kind is ActionKind.POWER_OFF:
            self.veto(existing, reason)

    def revisit(self, at: float) -> None:
        """The plan may change at `at` with nothing else changing: plan again then (times
        not after the snapshot's are ignored: this plan already covers them)."""
        if self.snapshot.now < at < self.revisit_at:
            self.revisit_at = at

    def build(self) -> Plan:
        """The plan; the builder hands its maps over (no copies) and must not be used after."""
        for handed in (self.unplaceable, self.kept, self.held):
            # No reference back: the builder, its snapshot and memo views are freed as soon
            # as the pass ends, not left as a cycle for the garbage collector every pass.
            handed._builder = None
        return Plan(
            tuple(self._actions.values()),
            self.unplaceable,
            self.kept,
            self.decided_by,
            self.counted,
            self.held,
            self.warnings,
            tuple(self.requests),
            self.revisit_at,
            {n: r for n, r in self.candidates.items() if n not in self._actions},
        )
