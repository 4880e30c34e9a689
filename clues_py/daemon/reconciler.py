"""The I/O side of reconciliation: gather inputs, call `reconcile.decide`, execute, report.

Runs from the daemon loop (`Daemon.add_periodic`) at start-up and every
`reconcile_interval` once the backend has synced, only on the leader. It lists each
power manager's owned instances (outside the daemon lock: cloud calls are slow), reads
the managed nodes under the lock, and executes the decisions: adoptions become a
PROVIDER_ON fact through the daemon (the FSM and the store stay the daemon's), terminations
go through the actuator. Deciding is `clues_py.daemon.reconcile`'s job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from clues_py.contracts import NotImplementedByPlugin, OwnedInstance
from clues_py.daemon.host import DaemonHost
from clues_py.daemon.reconcile import Decisions, decide
from clues_py.lifecycle import Fact, FactKind, Timeouts

if TYPE_CHECKING:
    from clues_py.contracts import PowerManager

log = logging.getLogger("clues.reconcile")


class ReconcileHost(DaemonHost, Protocol):
    """What reconciliation needs of the daemon beyond `DaemonHost`."""

    @property
    def timeouts(self) -> Timeouts: ...
    @property
    def power(self) -> Mapping[str, PowerManager]: ...


class Reconciler:
    def __init__(self, daemon: ReconcileHost) -> None:
        self._d = daemon
        self._interval = float(getattr(daemon.cfg, "reconcile_interval", 120.0))
        self._next = float("-inf")
        self._first_seen: dict[str, float] = {}  # provider id -> first time listed
        self._lock = threading.Lock()
        self._report: dict[str, Any] = {"runs": 0, "at": None, "unmanaged_nodes": []}
        self._unmanaged: tuple[str, ...] = ()

    def maybe_run(self, now: float) -> None:
        """Periodic hook: run when due and the backend has synced (else try next tick)."""
        if self._interval <= 0 or now < self._next:
            return
        if not self._d.backend.synced() or not self._d.is_leader():
            return
        self._next = now + self._interval
        self.run(now)

    def run(self, now: float) -> Decisions:
        d = self._d
        instances: list[tuple[str, OwnedInstance]] = []
        listed: set[str] = set()
        errors: dict[str, str] = {}
        for name, pm in d.power.items():
            try:
                owned = pm.list_owned()
            except NotImplementedByPlugin:
                continue
            except Exception as exc:  # a provider outage must not stop the others
                errors[name] = str(exc)
                log.warning("reconcile: listing %s failed; its nodes are left alone: %s", name, exc)
                continue
            listed.add(name)
            instances.extend((name, i) for i in owned)
        seen = {i.provider_id for _, i in instances}
        for pid in seen:
            self._first_seen.setdefault(pid, now)
        for pid in set(self._first_seen) - seen:
            del self._first_seen[pid]
        later = d.clock.now()
        obs = d.backend.observe(later)
        with d.state_lock:  # node states must not move while we decide
            nodes = d.managed_nodes()
            result = decide(
                nodes=nodes,
                power_of={t.name: t.power for t in d.templates.values()},
                instances=instances,
                ages={pid: later - t for pid, t in self._first_seen.items()},
                cluster_nodes={n: o.ready for n, o in obs.nodes.items()},
                boot_timeout=d.timeouts.boot,
                listed=listed,
                busy={n for n in nodes if d.actuator.busy(n)},
                listed_at=now,
                max_retries=d.timeouts.max_retries,
                in_use={n for n, o in obs.nodes.items() if o.workload_pods},
            )
            for a in result.adopt:
                log.info("reconcile: adopt %s for %s: %s", a.provider_id, a.node, a.reason)
                d.store.add_decision(later, f"reconcile:{a.node}", f"adopt: {a.reason}")
                d.apply_fact(a.node, Fact(FactKind.PROVIDER_ON, detail=a.provider_id), later)
            for g in result.gone:
                log.info("reconcile: %s: %s", g.node, g.reason)
                d.store.add_decision(later, f"reconcile:{g.node}", f"off: {g.reason}")
                d.apply_fact(g.node, Fact(FactKind.PROVIDER_GONE, detail=g.reason), later)
        for t in result.terminate:
            log.warning("reconcile: terminate %s (node %s): %s", t.provider_id, t.node, t.reason)
            d.store.add_decision(later, f"reconcile:{t.node}", f"terminate: {t.reason}")
            d.actuator.terminate(t.power, t.node, t.provider_id, t.reason)
        if result.unmanaged != self._unmanaged:
            log.info("reconcile: Kubernetes nodes no template manages: %s", list(result.unmanaged))
            self._unmanaged = result.unmanaged
        with self._lock:
            self._report = {
                "runs": int(self._report["runs"]) + 1,
                "at": later,
                "instances": len(instances),
                "adopted": [f"{a.node}={a.provider_id}" for a in result.adopt],
                "terminated": [f"{t.node}={t.provider_id}" for t in result.terminate],
                "returned_off": [g.node for g in result.gone],
                "unmanaged_nodes": list(result.unmanaged),
                "errors": errors,
            }
        if result.adopt or result.terminate or result.gone:
            d.wake()
        return result

    def report(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._report)
