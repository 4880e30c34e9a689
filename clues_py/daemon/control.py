"""The operator's face of the daemon: status, node verbs, history and `explain`.

Composed into `Daemon` (`daemon.control`) and handed to the HTTP API and the metrics
exporter. It sees the daemon only through `ControlHost` (host.py), reads state under the daemon's
lock, and changes it only through lifecycle facts and `start_action`, like the loop does.
The planner's decisions for `explain` are recorded by `record.py`'s recorder, owned here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from clues_py import __version__
from clues_py.daemon.bus import Bus
from clues_py.daemon.host import DaemonHost
from clues_py.daemon.record import DecisionRecorder
from clues_py.lifecycle import Fact, FactKind
from clues_py.model import ON_STATES, Action, ActionKind, ManagedNode, NodeState
from clues_py.planner.packing import never_fits

if TYPE_CHECKING:
    from clues_py.daemon.freshness import Freshness
    from clues_py.daemon.passes import PassLog
    from clues_py.daemon.reconciler import Reconciler
    from clues_py.daemon.recovery import IntentRecovery
    from clues_py.daemon.state import LastPlan

log = logging.getLogger("clues.daemon")

# Keys `explain pod NS/NAME` tries, in order: a pod, then hidden work of that name.
_HIDDEN_PREFIXES = ("job:", "workload:", "provisioningrequest:")


class ControlHost(DaemonHost, Protocol):
    """What the control surface needs of the daemon beyond `DaemonHost`."""

    @property
    def bus(self) -> Bus: ...
    @property
    def reconciler(self) -> Reconciler: ...
    @property
    def freshness(self) -> Freshness: ...
    @property
    def recovery(self) -> IntentRecovery: ...
    @property
    def last_plan(self) -> LastPlan: ...
    @property
    def pass_log(self) -> PassLog: ...

    def pending_since(self) -> dict[str, float]: ...

    def start_action(self, action: Action, now: float) -> int | None: ...


class Control:
    """Status, verbs, history and explain over one daemon (thread-safe: the API calls it
    from one thread per request)."""

    def __init__(self, host: ControlHost, *, inline: bool = False) -> None:
        self._d = host
        # Writes the planner's decisions for explain's history, off the loop (or, inline,
        # in the publishing thread: the simulator's daemon).
        self.recorder = DecisionRecorder(host.bus, host.store, inline=inline)

    def node_dict(self, node: ManagedNode) -> dict[str, Any]:
        t = self._d.templates[node.template]
        obs = node.observed
        used = obs.requested if obs else None
        alloc = obs.allocatable if obs and obs.ready else t.resources
        return {
            "name": node.name,
            "template": node.template,
            "state": node.state.value,
            "enabled": node.enabled,
            "since": node.since,
            "cpu_used": used.cpu_millis if used else 0,
            "cpu_total": alloc.cpu_millis,
            "mem_used": used.memory_bytes if used else 0,
            "mem_total": alloc.memory_bytes,
            "pods": len(node.workload_pods),
            "provider_id": node.provider_id,
            "attempts": node.attempts,
            "last_error": node.last_error,
            "ready": node.ready,
        }

    def status(self) -> dict[str, Any]:
        with self._d.state_lock:
            last = self._d.last_plan
            managed = self._d.managed_nodes()
            nodes = [self.node_dict(managed[n]) for n in sorted(managed)]
        age = self._d.freshness.age()
        return {
            "version": __version__,
            "cluster": self._d.cfg.cluster_name,
            "now": self._d.clock.now(),
            "leader": self._d.is_leader(),
            "synced": self._d.backend.synced(),
            "data_age": None if age == float("inf") else round(age, 1),
            "recovering": self._d.recovery.held(),
            "nodes": nodes,
            "pending": {
                "pods": last.pending,
                "cpu": last.pending_cpu,
                "memory": last.pending_memory,
                "hidden": last.hidden,
            },
            # Work no template can ever run is "unplaceable"; everything else the plan did
            # not power a node for (free room, booting nodes, limits, all nodes on) waits.
            "unplaceable": {k: v for k, v in last.plan.unplaceable.items() if never_fits(v)},
            "waiting": {k: v for k, v in last.plan.unplaceable.items() if not never_fits(v)},
            # Hidden work that is not demand (paused Jobs, Workloads waiting for Kueue quota...)
            "held": dict(last.plan.held),
            "unmanaged_nodes": self._d.reconciler.report()["unmanaged_nodes"],
            "reconcile": self._d.reconciler.report(),
            "last_plan": {
                "at": last.at,
                "actions": [
                    {"kind": a.kind.value, "node": a.node, "reason": a.reason}
                    for a in last.plan.actions
                ],
            },
        }

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.status()["nodes"])

    def node_op(self, op: str, node: str) -> dict[str, Any]:
        with self._d.state_lock:
            current = self._d.managed_nodes().get(node)
            if current is None:
                raise KeyError(node)
            now = self._d.clock.now()
            if op == "enable":
                self._d.apply_fact(node, Fact(FactKind.ENABLE, "operator"), now)
            elif op == "disable":
                self._d.apply_fact(node, Fact(FactKind.DISABLE, "operator"), now)
            elif op == "resetstate":
                self._d.apply_fact(node, Fact(FactKind.RESET, "operator"), now)
            elif op in ("poweron", "poweroff"):
                on = op == "poweron"
                allowed = {NodeState.OFF} if on else ON_STATES
                if current.state not in allowed:
                    what = "an off node" if on else "an idle or used node"
                    raise ValueError(
                        f"{node} is {current.state.value}; only {what} can be powered {op[5:]}"
                    )
                if self._d.actuator.busy(node):
                    raise ValueError(f"an operation on {node} is still running; try again")
                kind = ActionKind.POWER_ON if on else ActionKind.POWER_OFF
                action = Action(kind, node, current.template, "operator request", "operator")
                self._d.start_action(action, now)
            else:
                raise ValueError(f"unknown operation {op!r}")
            result = self.node_dict(self._d.managed_nodes()[node])
        self._d.wake()
        return result

    def passes(self) -> dict[str, Any]:
        return self._d.pass_log.report()

    def actions(self, node: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return self._d.store.actions(node=node, limit=limit)

    def transitions(self, node: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return self._d.store.transitions(node=node, limit=limit)

    # ------------------------------------------------------------------ explain

    def explain(self, kind: str, name: str) -> dict[str, Any]:
        """Why a pod ("ns/name", or a hidden-demand key) or a node was or was not acted upon.

        Raises KeyError for a node the daemon does not manage.
        """
        self.recorder.flush(2.0)  # the history includes what the last pass decided
        with self._d.state_lock:
            last = self._d.last_plan
            pending = self._d.pending_since()
        result = last.plan
        by = result.decided_by
        out: dict[str, Any] = {"kind": kind, "at": last.at}
        if kind == "node":
            with self._d.state_lock:
                node = self._d.managed_nodes().get(name)
                if node is None:
                    raise KeyError(name)
                out["node"] = self.node_dict(node)
            out["key"] = f"node:{name}"
            action = next((a for a in result.actions if a.node == name), None)
            if name in result.kept:
                out["decision"] = {"policy": by.get(name, "planner"), "reason": result.kept[name]}
            out["history"] = self._d.store.decisions(key=f"node:{name}", limit=20)
            out["transitions"] = self._d.store.transitions(node=name, limit=10)
        else:
            keys = [name] if ":" in name else [name, *(p + name for p in _HIDDEN_PREFIXES)]
            said = {**result.held, **result.unplaceable}
            key = next((k for k in keys if k in pending or k in said), keys[0])
            out["key"] = key
            out["pending"] = key in pending
            if key in pending:
                out["pending_since"] = pending[key]
            # Hidden work the admission rules hold back is not demand (decision 0015).
            out["demand"] = key not in result.held
            action = next((a for a in result.actions if key in a.pods), None)
            if key in said:
                out["decision"] = {"policy": by.get(key, "planner"), "reason": said[key]}
            out["history"] = self._d.store.decisions(key=key, limit=20)
        out.setdefault("decision", None)
        out["action"] = (
            {
                "kind": action.kind.value,
                "node": action.node,
                "template": action.template,
                "policy": action.policy,
                "reason": action.reason,
            }
            if action is not None
            else None
        )
        return out
