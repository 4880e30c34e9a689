"""Daemon bookkeeping shared by the loop and its collaborators (control surface, reconciler).

`NodeSide` is per-node state that is not lifecycle state and is never persisted (the
action in flight, drain and clean-up progress); `LastPlan` is what the last planning pass
saw and decided, which status and explain report. Plain data: who updates them and when
is `daemon.py`'s business, how they are shown is `control.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clues_py.model import Plan


@dataclass
class NodeSide:
    """Per-node bookkeeping that is not lifecycle state (not persisted)."""

    action_id: int | None = None
    drain_started: bool = False
    last_describe: float = float("-inf")
    cleaned_up: bool = False


@dataclass
class LastPlan:
    """The last pass: when, the plan, and the pending demand it saw."""

    at: float = 0.0
    plan: Plan = field(default_factory=Plan)
    pending: int = 0
    pending_cpu: int = 0
    pending_memory: int = 0
    hidden: int = 0
