"""The operator's face of the daemon: status, node verbs, history and `explain`.

A mixin of `Daemon` so callers (HTTP API, CLI through it, simulator, metrics) keep one
object; it reads the daemon's state under its lock and changes it only through
lifecycle facts and the actuator, like the loop does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from clues_py import __version__
from clues_py.bus import PlanEvent
from clues_py.lifecycle import Fact, FactKind
from clues_py.model import ON_STATES, Action, ActionKind, ManagedNode, NodeState, Plan

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from clues_py.actuator import Actuator
    from clues_py.bus import Bus
    from clues_py.clock import Clock
    from clues_py.config import Config
    from clues_py.contracts import Backend
    from clues_py.daemon import LastPlan, _Side
    from clues_py.lifecycle import Transition
    from clues_py.model import NodeTemplate
    from clues_py.reconciler import Reconciler
    from clues_py.store import Store

log = logging.getLogger("clues.daemon")

# Decisions written to the store per pass at most (a burst of 10,000 pods spreads out).
MAX_DECISIONS_PER_PASS = 500
# Unplaceable reasons worth a warning: the work fits no template at all.
_NO_TEMPLATE_MARKERS = ("fits no template", "no template matches", "fits only GPU template")


def _never_fits(reason: str) -> bool:
    return any(m in reason for m in _NO_TEMPLATE_MARKERS)


class ControlMixin:
    # Provided by `Daemon`; declared so the type checker knows what the mixin relies on.
    if TYPE_CHECKING:
        cfg: Config
        clock: Clock
        templates: dict[str, NodeTemplate]
        store: Store
        bus: Bus
        backend: Backend
        actuator: Actuator
        reconciler: Reconciler
        is_leader: Callable[[], bool]
        _lock: threading.RLock
        _last: LastPlan
        _nodes: dict[str, ManagedNode]
        _side: dict[str, _Side]
        _decided: dict[str, str]
        _first_seen: dict[str, float]

        def _apply(self, name: str, fact: Fact, now: float | None = None) -> Transition | None: ...

        def wake(self) -> None: ...

        def start_action(self, action: Action, now: float) -> int | None: ...

    def node_dict(self, node: ManagedNode) -> dict[str, Any]:
        t = self.templates[node.template]
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
        with self._lock:
            last = self._last
            nodes = [self.node_dict(self._nodes[n]) for n in sorted(self._nodes)]
        return {
            "version": __version__,
            "cluster": self.cfg.cluster_name,
            "now": self.clock.now(),
            "leader": self.is_leader(),
            "synced": self.backend.synced(),
            "nodes": nodes,
            "pending": {
                "pods": last.pending,
                "cpu": last.pending_cpu,
                "memory": last.pending_memory,
                "hidden": last.hidden,
            },
            # Work no template can ever run is "unplaceable"; everything else the plan did
            # not power a node for (free room, booting nodes, limits, all nodes on) waits.
            "unplaceable": {k: v for k, v in last.plan.unplaceable.items() if _never_fits(v)},
            "waiting": {k: v for k, v in last.plan.unplaceable.items() if not _never_fits(v)},
            "unmanaged_nodes": self.reconciler.report()["unmanaged_nodes"],
            "reconcile": self.reconciler.report(),
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
        with self._lock:
            current = self._nodes.get(node)
            if current is None:
                raise KeyError(node)
            now = self.clock.now()
            if op == "enable":
                self._apply(node, Fact(FactKind.ENABLE, "operator"), now)
            elif op == "disable":
                self._apply(node, Fact(FactKind.DISABLE, "operator"), now)
            elif op == "resetstate":
                self._apply(node, Fact(FactKind.RESET, "operator"), now)
            elif op in ("poweron", "poweroff"):
                on = op == "poweron"
                allowed = {NodeState.OFF} if on else ON_STATES
                if current.state not in allowed:
                    what = "an off node" if on else "an idle or used node"
                    raise ValueError(
                        f"{node} is {current.state.value}; only {what} can be powered {op[5:]}"
                    )
                if self.actuator.busy(node):
                    raise ValueError(f"an operation on {node} is still running; try again")
                kind = ActionKind.POWER_ON if on else ActionKind.POWER_OFF
                action = Action(kind, node, current.template, "operator request", "operator")
                self.start_action(action, now)
            else:
                raise ValueError(f"unknown operation {op!r}")
            result = self.node_dict(self._nodes[node])
        self.wake()
        return result

    def actions(self, node: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return self.store.actions(node=node, limit=limit)

    def transitions(self, node: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return self.store.transitions(node=node, limit=limit)

    # ------------------------------------------------------------------ explain

    def _plan_decisions(self, result: Plan) -> dict[str, str]:
        """key -> "policy: reason" for every demand unit and node the plan says something of."""
        by = result.decided_by
        out = {k: f"{by.get(k, 'planner')}: {r}" for k, r in result.unplaceable.items()}
        out.update(
            {f"node:{n}": f"{by.get(n, 'planner')}: kept: {r}" for n, r in result.kept.items()}
        )
        for a in result.actions:
            out[f"node:{a.node}"] = f"{a.policy}: {a.kind.value}: {a.reason}"
            for k in a.pods:
                out[k] = f"{a.policy}: {a.kind.value} {a.node} ({a.template}) for it"
        return out

    def _record_decisions(self, event: object) -> None:
        """Store decisions that changed since the last pass (bounded per pass; the rest follow)."""
        if not isinstance(event, PlanEvent):
            return
        current = self._plan_decisions(event.plan)
        budget = MAX_DECISIONS_PER_PASS
        for key, reason in current.items():
            if self._decided.get(key) == reason:
                continue
            if budget <= 0:
                break
            budget -= 1
            self._decided[key] = reason
            self.store.add_decision(event.at, key, reason)
            if any(m in reason for m in _NO_TEMPLATE_MARKERS):
                log.warning("unplaceable %s: %s", key, reason)
        for key in set(self._decided) - set(current):
            del self._decided[key]

    def explain(self, kind: str, name: str) -> dict[str, Any]:
        """Why a pod ("ns/name", or a hidden-demand key) or a node was or was not acted upon.

        Raises KeyError for a node the daemon does not manage.
        """
        with self._lock:
            last = self._last
            pending = dict(self._first_seen)
        result = last.plan
        by = result.decided_by
        out: dict[str, Any] = {"kind": kind, "at": last.at}
        if kind == "node":
            with self._lock:
                node = self._nodes.get(name)
                if node is None:
                    raise KeyError(name)
                out["node"] = self.node_dict(node)
            out["key"] = f"node:{name}"
            action = next((a for a in result.actions if a.node == name), None)
            if name in result.kept:
                out["decision"] = {"policy": by.get(name, "planner"), "reason": result.kept[name]}
            out["history"] = self.store.decisions(key=f"node:{name}", limit=20)
            out["transitions"] = self.store.transitions(node=name, limit=10)
        else:
            keys = [name] if ":" in name else [name, f"job:{name}", f"workload:{name}"]
            key = next((k for k in keys if k in pending or k in result.unplaceable), keys[0])
            out["key"] = key
            out["pending"] = key in pending
            if key in pending:
                out["pending_since"] = pending[key]
            action = next((a for a in result.actions if key in a.pods), None)
            if key in result.unplaceable:
                out["decision"] = {
                    "policy": by.get(key, "planner"),
                    "reason": result.unplaceable[key],
                }
            out["history"] = self.store.decisions(key=key, limit=20)
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
