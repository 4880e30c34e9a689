"""Emulated hardware behind the sandbox's nodes: power machines on and off, as power managers do.

A machine is separate from its Node object. `power_on` boots it for
`boot_seconds` of sandbox time, then its kubelet registers a Ready Node (unless
`fail=True`: the machine is on but its node never joins). `power_off` makes the
Node NotReady at once, fails its pods as a graceful node shutdown does, and after
`shutdown_seconds` deletes the Node and reports the machine "off". Timers run on
the controllers' runtime, so virtual time drives them too. The same verbs are
served over HTTP under `/sandbox/v1/` (`http_route`). Pod life is the kubelet's
business; the facade wires this together.
"""

from __future__ import annotations

import builtins
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from clues_py.sandbox.controllers.common import Obj, node_object, ready_condition
from clues_py.sandbox.controllers.kubelet import Kubelet
from clues_py.sandbox.controllers.runtime import Runtime, Timer

STATES = ("on", "booting", "stopping", "off", "unknown")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class MachineError(Exception):
    """A power request that cannot be honoured; `code` is the HTTP status to answer with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Machine:
    name: str
    state: str
    cpu: str = "4"
    memory: str = "8Gi"
    gpus: int = 0
    pods: int = 110
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, Any]] = field(default_factory=list)
    boot_seconds: float = 60.0
    fail: bool = False
    since: float = 0.0  # sandbox time of the last state change
    power_ons: int = 0
    power_offs: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Machines:
    """The machine table; thread-safe, callable from HTTP threads and the simulator alike."""

    def __init__(self, runtime: Runtime, kubelet: Kubelet) -> None:
        self.rt = runtime
        self.kubelet = kubelet
        self._lock = threading.RLock()
        self._machines: dict[str, Machine] = {}
        self._timers: dict[str, Timer] = {}

    # ----------------------------------------------------------------- queries
    def state(self, name: str) -> str:
        with self._lock:
            m = self._machines.get(name)
            return m.state if m else "unknown"

    def get(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            m = self._machines.get(name)
            return m.to_json() if m else None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._machines[n].to_json() for n in sorted(self._machines)]

    # ----------------------------------------------------------------- verbs
    def register(self, name: str, **spec: Any) -> dict[str, Any]:
        """Record a machine that is already on (a node added directly, e.g. the master)."""
        with self._lock:
            m = Machine(name=name, state="on", since=self.rt.clock.now(), **spec)
            self._machines[name] = m
            return m.to_json()

    def power_on(
        self,
        name: str,
        cpu: str | int | None = None,
        memory: str | None = None,
        gpus: int | None = None,
        pods: int | None = None,
        labels: Mapping[str, str] | None = None,
        taints: builtins.list[Mapping[str, Any]] | None = None,
        boot_seconds: float = 60.0,
        fail: bool = False,
    ) -> dict[str, Any]:
        """Start booting `name`; unset sizes keep what the machine had (or the defaults).

        A machine already on or booting is left alone (its state is returned); one
        still stopping cannot be powered on yet (409).
        """
        _check_name(name)
        if boot_seconds < 0:
            raise MachineError(
                400, f"machine {name}: boot_seconds must be >= 0, got {boot_seconds}"
            )
        with self._lock:
            old = self._machines.get(name)
            if old is not None and old.state in ("on", "booting"):
                return old.to_json()  # pressing the power button of a running machine: no-op
            if old is not None and old.state == "stopping":
                raise MachineError(
                    409, f"machine {name} is stopping; power it on again once it is 'off'"
                )
            base = old or Machine(name=name, state="off")
            m = Machine(
                name=name,
                state="booting",
                cpu=str(cpu if cpu is not None else base.cpu),
                memory=str(memory if memory is not None else base.memory),
                gpus=int(gpus if gpus is not None else base.gpus),
                pods=int(pods if pods is not None else base.pods),
                labels=dict(labels if labels is not None else base.labels),
                taints=[dict(t) for t in (taints if taints is not None else base.taints)],
                boot_seconds=float(boot_seconds),
                fail=bool(fail),
                since=self.rt.clock.now(),
                power_ons=base.power_ons + 1,
                power_offs=base.power_offs,
            )
            try:  # validate quantities and taints now, not when the boot timer fires
                self._node(m)
            except ValueError as exc:
                raise MachineError(400, str(exc)) from None
            self._machines[name] = m
            self._arm(name, m.boot_seconds, lambda: self._booted(name))
            return m.to_json()

    def power_off(self, name: str, shutdown_seconds: float = 30.0) -> dict[str, Any]:
        """Stop `name`: its node goes NotReady now and disappears after `shutdown_seconds`.

        Unknown machines are a 404; one already stopping or off is left alone.
        """
        if shutdown_seconds < 0:
            raise MachineError(400, f"machine {name}: shutdown_seconds must be >= 0")
        with self._lock:
            m = self._machines.get(name)
            if m is None:
                raise MachineError(404, f"machine {name} not found")
            if m.state in ("off", "stopping"):
                return m.to_json()  # already going or gone: power-off is idempotent
            m.state, m.since, m.power_offs = "stopping", self.rt.clock.now(), m.power_offs + 1
            out = m.to_json()
        with self.rt.processing():
            self._node_not_ready(name)
            self.kubelet.shutdown_node(name)
        self._arm(name, shutdown_seconds, lambda: self._stopped(name))
        return out

    # ----------------------------------------------------------------- timers
    def _arm(self, name: str, delay: float, fn: Callable[[], None]) -> None:
        old = self._timers.pop(name, None)
        if old:
            old.cancel()
        self._timers[name] = self.rt.call_later(delay, fn)

    def _booted(self, name: str) -> None:
        with self._lock:
            m = self._machines.get(name)
            if m is None or m.state != "booting":
                return
            m.state, m.since = "on", self.rt.clock.now()
            if m.fail:
                return
            node = self._node(m)
        if self.rt.create("nodes", node) is None:
            # A Node of that name exists (stale or made by hand): the kubelet takes it over.
            def adopt(n: Obj) -> None:
                n["metadata"].setdefault("labels", {}).update(node["metadata"]["labels"])
                n["spec"] = node["spec"]
                n["status"] = node["status"]

            self.rt.mutate("nodes", name, None, adopt)

    def _stopped(self, name: str) -> None:
        with self._lock:
            m = self._machines.get(name)
            if m is None or m.state != "stopping":
                return
            m.state, m.since = "off", self.rt.clock.now()
        self.rt.delete("nodes", name)

    def _node(self, m: Machine) -> Obj:
        return node_object(
            m.name,
            cpu=m.cpu,
            memory=m.memory,
            gpus=m.gpus,
            pods=m.pods,
            labels=m.labels,
            taints=m.taints,
            now=self.rt.clock.now(),
        )

    def _node_not_ready(self, name: str) -> None:
        now = self.rt.clock.now()

        def down(n: Obj) -> None:
            conds = [
                c
                for c in (n.get("status") or {}).get("conditions") or ()
                if c.get("type") != "Ready"
            ]
            conds.append(
                ready_condition(
                    False, now, "NodeStatusUnknown", "Kubelet stopped posting node status."
                )
            )
            n.setdefault("status", {})["conditions"] = conds

        self.rt.mutate("nodes", name, None, down)

    # ----------------------------------------------------------------- HTTP
    def http_route(
        self, method: str, path: str, query: Mapping[str, str], body: bytes | None
    ) -> tuple[int, dict[str, Any]]:
        """Serve `/sandbox/v1/machines[/NAME]`; errors are `{"error": ...}` with 400/404/409."""
        parts = [p for p in path.split("/") if p][2:]  # drop "sandbox", "v1"
        try:
            if parts == ["machines"] and method == "GET":
                return 200, {"items": self.list()}
            if parts == ["machines"] and method == "POST":
                doc = _json_body(body)
                if not isinstance(doc.get("name"), str):
                    raise MachineError(400, "POST /sandbox/v1/machines: body needs a 'name' string")
                allowed = {
                    "name",
                    "cpu",
                    "memory",
                    "gpus",
                    "pods",
                    "labels",
                    "taints",
                    "boot_seconds",
                    "fail",
                }
                unknown = sorted(set(doc) - allowed)
                if unknown:
                    raise MachineError(
                        400,
                        f"POST /sandbox/v1/machines: unknown field(s) {unknown}; allowed: {sorted(allowed)}",
                    )
                before = self.state(doc["name"])
                out = self.power_on(**doc)
                return (200 if before in ("on", "booting") else 202), out
            if len(parts) == 2 and parts[0] == "machines":
                if method == "GET":
                    m = self.get(parts[1])
                    if m is None:
                        raise MachineError(404, f"machine {parts[1]} not found")
                    return 200, m
                if method == "DELETE":
                    secs = _float(query.get("shutdown_seconds", "30"), "shutdown_seconds")
                    before = self.state(parts[1])
                    out = self.power_off(parts[1], secs)
                    return (200 if before in ("off", "stopping") else 202), out
            raise MachineError(404, f"no sandbox route {method} {path}")
        except MachineError as exc:
            return exc.code, {"error": exc.message}
        except (TypeError, ValueError) as exc:
            return 400, {"error": f"{method} {path}: {exc}"}


def _check_name(name: str) -> None:
    if not isinstance(name, str) or len(name) > 253 or not _NAME.match(name):
        raise MachineError(
            400, f"machine name {name!r} is not a valid node name (lowercase RFC 1123, e.g. 'wn-1')"
        )


def _json_body(body: bytes | None) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except ValueError as exc:
        raise MachineError(400, f"request body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise MachineError(400, "request body must be a JSON object")
    return doc


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise MachineError(400, f"{what}={text!r} is not a number of seconds") from None
