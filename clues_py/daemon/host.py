"""What the daemon's collaborators may use of it: the `DaemonHost` protocol.

The control surface (`control.py`) and the reconciler (`reconciler.py`) are composed into
`Daemon` and see it only through this protocol (each extends it with the little more it
needs), never through the class: no import back into `daemon.py`, no private fields.
Everything here is public on `Daemon`; changing node state goes through `apply_fact`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from clues_py.lifecycle import Fact, Transition
from clues_py.model import ManagedNode, NodeTemplate

if TYPE_CHECKING:
    from clues_py.clock import Clock
    from clues_py.config.load import Config
    from clues_py.contracts import Backend
    from clues_py.daemon.actuator import Actuator
    from clues_py.store import Store


class DaemonHost(Protocol):
    @property
    def cfg(self) -> Config: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def templates(self) -> dict[str, NodeTemplate]: ...
    @property
    def store(self) -> Store: ...
    @property
    def backend(self) -> Backend: ...
    @property
    def actuator(self) -> Actuator: ...
    @property
    def is_leader(self) -> Callable[[], bool]: ...
    @property
    def state_lock(self) -> threading.RLock:
        """Hold it to decide and apply facts atomically against the node states."""
        ...

    def managed_nodes(self) -> dict[str, ManagedNode]: ...

    def apply_fact(self, name: str, fact: Fact, now: float | None = None) -> Transition | None:
        """Advance one node's lifecycle with `fact`, persist it and publish the transition."""
        ...

    def wake(self) -> None:
        """Run a pass soon (something changed)."""
        ...
