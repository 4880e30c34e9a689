"""Kubernetes Events and the `clues-status` ConfigMap, from the daemon's event bus.

Like Cluster Autoscaler: pods get `TriggeredScaleUp` / `NotTriggerScaleUp`, nodes get
`PoweringOn`, `PoweringOff`, `PowerOnFailed`, `NodeError`...; repeats of the same
(object, reason, message) are aggregated into one core/v1 Event whose `count` and
`lastTimestamp` grow. `NotTriggerScaleUp` is written once per pod and message while the pod
waits, and for at most `per_reason` pods with the same message every
`not_triggered_interval` seconds (daemon clock): ten thousand pods waiting for the same
reason are a handful of Events, not ten thousand writes (`clues explain` has every pod). It
is never written for a pod that triggered a scale-up or merely waits for free room or a
booting node (a pod gets one of the two, never both). Hidden work the planner warns about
(a Workload that held nodes too long without pods) gets a Warning on its own object.

Bus listeners run in the daemon's loop, so `on_event` only builds small records and puts them
on a bounded queue, and keeps a reference to the latest plan; one writer thread talks to
the API server (a full queue drops, never blocks) and compares each plan it picks up with
the one before, with dict-sized set operations. Only the leader writes. What the daemon
decides is the daemon's business; this module only reports it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from clues_py.model import ActionKind, NodeState
from clues_py.planner.reasons import changed, gone

log = logging.getLogger(__name__)

COMPONENT = "clues-py"
STATUS_CONFIGMAP = "clues-status"
NODE_EVENT_NAMESPACE = "default"  # Nodes are cluster-scoped; their events live in default
_PLAN = object()  # queue marker: a plan is waiting in EventRecorder._plan
_TIMEOUT = (5.0, 10.0)
# (old, new) or new -> (reason, type); the transition's own reason becomes the message.
_NODE_REASONS: dict[NodeState, tuple[str, str]] = {
    NodeState.POWERING_ON: ("PoweringOn", "Normal"),
    NodeState.DRAINING: ("ScaleDown", "Normal"),
    NodeState.POWERING_OFF: ("PoweringOff", "Normal"),
    NodeState.ON_ERROR: ("NodeError", "Warning"),
    NodeState.OFF_ERROR: ("PowerOffFailed", "Warning"),
}


# What a scale-up reason means when it is not a failure: the pod will run without a new node.
_WAITING = ("fits on existing node", "waits for booting node")
# Hidden-demand key prefix -> (kind, apiVersion) of the object the key names.
_HIDDEN_KINDS = {
    "workload": ("Workload", "kueue.x-k8s.io/v1beta2"),
    "job": ("Job", "batch/v1"),
    "provisioningrequest": ("ProvisioningRequest", "autoscaling.x-k8s.io/v1"),
}


@dataclass(frozen=True)
class EventRecord:
    kind: str  # Pod | Node | Workload | Job | ProvisioningRequest
    namespace: str  # of the involved object ("" for a Node)
    name: str
    reason: str
    message: str
    type: str = "Normal"
    api_version: str = "v1"


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(key: str) -> tuple[str, str] | None:
    ns, sep, name = key.partition("/")
    if not sep or not ns or not name or "/" in name or ":" in key:
        return None  # hidden demand (Jobs, workloads) has its own key shape
    return ns, name


class EventRecorder:
    """Subscribe `on_event` to `daemon.bus`; `start()` the writer, `stop()` flushes."""

    def __init__(
        self,
        api_client: k8s.ApiClient,
        *,
        namespace: str = "kube-system",
        is_leader: Callable[[], bool] = lambda: True,
        status_interval: float = 5.0,
        not_triggered_interval: float = 300.0,
        per_reason: int = 5,
        wall: Callable[[], float] = time.time,
        max_queue: int = 1000,
    ) -> None:
        self.core = k8s.CoreV1Api(api_client)
        self.namespace = namespace
        self.is_leader = is_leader
        self.status_interval = status_interval
        self.not_triggered_interval = not_triggered_interval
        self._wall = wall
        self.per_reason = per_reason
        self._queue: queue.Queue[EventRecord | dict[str, str] | object | None] = queue.Queue(
            max_queue
        )
        self._last_status = float("-inf")
        # The latest plan not handled yet (the writer picks it up), and the last handled one.
        self._plan_lock = threading.Lock()
        self._plan: Any = None
        self._unplaceable: Mapping[str, str] = {}
        self._not_triggered: dict[str, str] = {}  # pod key -> message written for it
        self._per_reason: dict[str, tuple[float, int]] = {}  # message -> (window start, count)
        self._triggered: set[str] = set()  # waiting pods that got TriggeredScaleUp
        self._warned: set[tuple[str, str]] = set()
        self.sampled_out = 0  # NotTriggerScaleUp not written: enough pods had that message
        # (kind, ns, name, reason, message) -> (event name, namespace, count)
        self._seen: dict[tuple[str, str, str, str, str], tuple[str, str, int]] = {}
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0
        self.failed = 0

    # ------------------------------------------------------------------ bus side (fast)

    def on_event(self, event: Any) -> None:
        if not self.is_leader():
            return
        name = type(event).__name__
        if name == "PlanEvent":
            with self._plan_lock:
                waiting = self._plan is not None
                self._plan = event
            if not waiting:
                self._put(_PLAN)  # the writer takes the latest plan when it gets there
        elif name == "ActionStarted" and event.action.kind == ActionKind.POWER_ON:
            a = event.action
            for key in a.pods:
                if pod := _pod(key):
                    self._triggered.add(key)
                    msg = f"pod triggered scale-up: {a.node} (template {a.template})"
                    self._put(EventRecord("Pod", pod[0], pod[1], "TriggeredScaleUp", msg))
        elif name == "ActionFinished" and event.kind == "power_on" and not event.ok:
            msg = f"power-on failed: {event.error}" if event.error else "power-on failed"
            self._put(EventRecord("Node", "", event.node, "PowerOnFailed", msg, "Warning"))
        elif name == "InstanceTerminated":
            msg = f"instance {event.provider_id} terminated: {event.reason}"
            self._put(EventRecord("Node", "", event.node, "InstanceTerminated", msg, "Warning"))
        elif name == "TransitionEvent" and event.old != event.new:
            if event.new in _NODE_REASONS:
                reason, etype = _NODE_REASONS[event.new]
            elif event.old == NodeState.POWERING_OFF and event.new == NodeState.OFF:
                reason, etype = "PoweredOff", "Normal"
            else:
                return
            msg = event.reason or f"{event.old.value} -> {event.new.value}"
            self._put(EventRecord("Node", "", event.node.name, reason, msg, etype))

    def _on_plan(self, event: Any) -> None:
        """Writer thread: NotTriggerScaleUp for pods whose reason is new, and the status."""
        now, unplaceable = event.at, event.plan.unplaceable
        acted = {k for a in event.plan.actions for k in a.pods}
        for key in gone(unplaceable, self._unplaceable):
            self._not_triggered.pop(key, None)  # no longer waiting: forget it
            if key not in acted:
                self._triggered.discard(key)
        for key in changed(unplaceable, self._unplaceable):
            why = unplaceable[key]
            pod = _pod(key)
            if pod is None or self._not_triggered.get(key) == why or key in self._triggered:
                continue
            if why.startswith(_WAITING):
                continue
            start, count = self._per_reason.get(why, (float("-inf"), 0))
            if now - start >= self.not_triggered_interval:
                start, count = now, 0
            if count >= self.per_reason:
                self.sampled_out += 1
                continue
            self._per_reason[why] = (start, count + 1)
            self._not_triggered[key] = why
            msg = f"pod didn't trigger scale-up: {why}"
            self._write(EventRecord("Pod", pod[0], pod[1], "NotTriggerScaleUp", msg))
        self._unplaceable = unplaceable
        self._warn_hidden(event.plan.warnings)
        if len(self._per_reason) > 10_000:
            self._per_reason.clear()
        if now - self._last_status >= self.status_interval:
            self._last_status = now
            self._write(status_data(event))

    def _warn_hidden(self, warnings: Mapping[str, str]) -> None:
        """One Warning per (object, message) on the object a hidden-demand key names."""
        for key, message in warnings.items():
            prefix, _, rest = key.partition(":")
            ns, _, name = rest.partition("/")
            if prefix not in _HIDDEN_KINDS or not name or (key, message) in self._warned:
                continue
            self._warned.add((key, message))
            kind, api = _HIDDEN_KINDS[prefix]
            name = name.split("/")[0]  # a pod set suffix is not part of the object name
            self._write(
                EventRecord(kind, ns, name, "HiddenDemandReleased", message, "Warning", api)
            )
        self._warned &= set(warnings.items())

    def _put(self, item: EventRecord | dict[str, str] | object) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    # ------------------------------------------------------------------ writer thread

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="clues-k8s-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Write what is queued (for up to `timeout` seconds), then stop."""
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if item is _PLAN:
                with self._plan_lock:
                    event, self._plan = self._plan, None
                if event is not None:
                    try:
                        self._on_plan(event)
                    except Exception:
                        log.exception("kubernetes events: reporting a plan failed")
            elif isinstance(item, EventRecord | dict):
                self._write(item)

    def _write(self, item: EventRecord | dict[str, str]) -> None:
        try:
            if isinstance(item, EventRecord):
                self.write_event(item)
            else:
                self.write_status(item)
            self.written += 1
        except (ApiException, HTTPError) as exc:
            self.failed += 1
            log.warning("kubernetes events: write failed: %s", _why(exc))
        except Exception:
            self.failed += 1
            log.exception("kubernetes events: write failed")

    def write_event(self, rec: EventRecord) -> None:
        """Create the Event, or bump count/lastTimestamp of the one already written for it."""
        now = rfc3339(self._wall())
        key = (rec.kind, rec.namespace, rec.name, rec.reason, rec.message)
        ns = rec.namespace or NODE_EVENT_NAMESPACE
        if key in self._seen:
            name, ns, count = self._seen[key]
            patch = {"count": count + 1, "lastTimestamp": now}
            try:
                _done(
                    self.core.patch_namespaced_event(
                        name, ns, patch, _preload_content=False, _request_timeout=_TIMEOUT
                    )
                )
                self._seen[key] = (name, ns, count + 1)
                return
            except ApiException as exc:
                if exc.status != 404:
                    raise
                del self._seen[key]  # expired (events have a TTL): start a new one
        name = f"{rec.name}.{time.time_ns():x}"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {
                "apiVersion": rec.api_version,
                "kind": rec.kind,
                "name": rec.name,
                **({"namespace": rec.namespace} if rec.namespace else {}),
            },
            "reason": rec.reason,
            "message": rec.message[:1024],
            "type": rec.type,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        _done(
            self.core.create_namespaced_event(
                ns, body, _preload_content=False, _request_timeout=_TIMEOUT
            )
        )
        if len(self._seen) > 4096:  # bounded: forget the oldest half
            for k in list(self._seen)[:2048]:
                del self._seen[k]
        self._seen[key] = (name, ns, 1)

    def write_status(self, data: dict[str, str]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": STATUS_CONFIGMAP,
                "namespace": self.namespace,
                "annotations": {"clues-py.io/last-updated": rfc3339(self._wall())},
            },
            "data": data,
        }
        kw: dict[str, Any] = {"_preload_content": False, "_request_timeout": _TIMEOUT}
        try:
            _done(
                self.core.replace_namespaced_config_map(
                    STATUS_CONFIGMAP, self.namespace, body, **kw
                )
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            _done(self.core.create_namespaced_config_map(self.namespace, body, **kw))


def status_data(event: Any) -> dict[str, str]:
    """The `clues-status` ConfigMap data: a readable summary and the same as JSON."""
    snap, plan = event.snapshot, event.plan
    states = Counter(n.state.value for n in snap.nodes)
    summary = {
        "time": rfc3339(time.time()),
        "nodes": {"managed": len(snap.nodes), **dict(sorted(states.items()))},
        "pending_pods": len(snap.demand.pods),
        "hidden_demand": sum(plan.counted.values()),
        "unplaceable": len(plan.unplaceable),
        "last_plan_actions": [f"{a.kind.value} {a.node}: {a.reason}" for a in plan.actions],
    }
    lines = [
        f"Cluster-wide: {summary['nodes']['managed']} managed nodes ("
        + ", ".join(f"{k}={v}" for k, v in sorted(states.items()))
        + ")",
        f"Pending pods: {summary['pending_pods']}, hidden demand: {summary['hidden_demand']}, "
        f"unplaceable: {summary['unplaceable']}",
        *(f"Action: {a}" for a in summary["last_plan_actions"]),
    ]
    return {"status": "\n".join(lines) + "\n", "summary.json": json.dumps(summary)}


def _done(resp: Any) -> None:
    """Read the rest of a raw response so its connection can be reused, then return it."""
    resp.drain_conn()
    resp.release_conn()


def _why(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    return str(exc)
