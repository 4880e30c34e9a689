"""`FakeControl`: a small in-memory `DaemonControl` with four nodes, test data for the API layer.

It follows the daemon's rules for ops: poweron needs an off node, poweroff an idle/used one.
"""

from __future__ import annotations

import threading
from typing import Any

GI = 1 << 30
NOW = 1_700_000_000.0


class FakeControl:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = NOW
        self._nodes: dict[str, dict[str, Any]] = {}
        for name, state, cpu, pods in (
            ("wn-1", "used", 1000, 1),
            ("wn-2", "idle", 0, 0),
            ("wn-3", "off", 0, 0),
            ("wn odd name", "off", 0, 0),  # must survive URL quoting
        ):
            self._nodes[name] = {
                "name": name,
                "template": "wn",
                "state": state,
                "enabled": True,
                "since": NOW - 192,
                "cpu_used": cpu,
                "cpu_total": 4000,
                "mem_used": 2 * GI if pods else 0,
                "mem_total": 8 * GI,
                "pods": pods,
                "provider_id": f"sim://{name}",
                "attempts": 0,
                "last_error": "",
            }
        self._actions: list[dict[str, Any]] = []
        self._transitions: list[dict[str, Any]] = []
        self.fail_with: Exception | None = None

    def status(self) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            nodes = [dict(n) for n in self._nodes.values()]
        return {
            "version": "0.1.0",
            "cluster": "clues",
            "now": self.now,
            "leader": True,
            "synced": True,
            "nodes": nodes,
            "pending": {"pods": 3, "cpu": 3000, "memory": 6 * GI, "hidden": 0},
            "unplaceable": {"oscar-svc/big": "fits no template: needs 64 cpu"},
            "last_plan": {
                "at": self.now,
                "actions": [{"kind": "power_on", "node": "wn-3", "reason": "3 pods pending"}],
            },
        }

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.status()["nodes"])

    def _move(self, node: dict[str, Any], new: str, reason: str) -> None:
        self._transitions.append(
            {
                "at": self.now,
                "node": node["name"],
                "old": node["state"],
                "new": new,
                "reason": reason,
            }
        )
        node["state"] = new
        node["since"] = self.now

    def node_op(self, op: str, node: str) -> dict[str, Any]:
        with self._lock:
            n = self._nodes[node]  # KeyError -> 404
            if op == "poweron":
                if n["state"] != "off":
                    raise ValueError(f"{node} is {n['state']}; only an off node can be powered on")
                self._actions.append(
                    {
                        "at": self.now,
                        "kind": "power_on",
                        "node": node,
                        "reason": "operator request",
                        "status": "pending",
                        "error": "",
                    }
                )
                self._move(n, "powering_on", "operator request")
            elif op == "poweroff":
                if n["state"] not in ("idle", "used"):
                    raise ValueError(
                        f"{node} is {n['state']}; only an idle or used node can be powered off"
                    )
                self._move(n, "draining", "operator request")
            elif op in ("enable", "disable"):
                n["enabled"] = op == "enable"
            elif op == "resetstate":
                self._move(n, "unknown", "operator reset")
            else:
                raise ValueError(f"unknown operation {op!r}")
            self.now += 1
            return dict(n)

    def actions(self, node: str | None, limit: int) -> list[dict[str, Any]]:
        rows = [a for a in reversed(self._actions) if node in (None, a["node"])]
        return rows[:limit]

    def transitions(self, node: str | None, limit: int) -> list[dict[str, Any]]:
        rows = [t for t in reversed(self._transitions) if node in (None, t["node"])]
        return rows[:limit]

    def passes(self) -> dict[str, Any]:
        return {"started_at": 0.0, "first_pass_at": 1.5, "first_pass_seconds": 1.5,
                "counts": {"full": 1, "incremental": 0}, "full": None, "incremental": None,
                "recent": [{"at": 1.5, "seconds": 0.01, "kind": "full", "changed": 4,
                            "actions": 0}]}  # fmt: skip
