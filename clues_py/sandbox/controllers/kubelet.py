"""Emulated kubelets for every sandbox node: node status, pod start/finish, deletion, node loss.

One controller plays all kubelets. A pod bound to a Ready node starts after
`start_seconds` (or stays ContainerCreating while a ConfigMap or Secret it mounts is
missing, with FailedMount events); it then runs for its
`sandbox.clues-py.io/duration` and ends with its `sandbox.clues-py.io/exit-code`
whatever its restartPolicy, or for what its command says (`sleep 30`, `sh -c
"...; exit 2"`, see `podlife.py`), else for `default_seconds` (None: until
deleted). Commands restart in place per restartPolicy (`Always`, or `OnFailure`
after a failure) with the kubelet's CrashLoopBackOff delays.
Pods being deleted are finalized quickly (the sandbox kills containers at once).
Pods of a deleted node are removed by `podgc.py`; Node Leases are `leases.py`'s, so
node objects get no periodic heartbeat writes. Scheduling is `scheduler.py`'s job;
powering machines is `machines.py`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from clues_py.sandbox.controllers import mounts, podlife
from clues_py.sandbox.controllers.common import (
    Obj,
    condition,
    default_capacity,
    is_node_ready,
    key_of,
    node_status,
    parse_rfc3339,
)
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.runtime import Runtime, Timer

log = logging.getLogger(__name__)

SHUTDOWN_MESSAGE = "Pod was terminated in response to imminent node shutdown."


class Kubelet:
    resources = frozenset({"nodes", "pods", "configmaps", "secrets"})

    def __init__(
        self,
        runtime: Runtime,
        start_seconds: float = 0.5,
        kill_seconds: float = 1.0,
        default_seconds: float | None = None,
        events: EventRecorder | None = None,
    ):
        self.rt = runtime
        self.events = events
        # (resource, namespace, name) a pod waits for -> pod keys; and pod key -> that need
        self._waiting: dict[tuple[str, str, str], set[str]] = {}
        self._blocked: dict[str, tuple[str, str, str]] = {}
        self.start_seconds = max(start_seconds, 0.0)
        self.kill_seconds = max(kill_seconds, 0.0)
        self.default_seconds = default_seconds
        self._timers: dict[str, Timer] = {}  # pod key -> its one pending timer
        self._new_nodes: set[str] = set()  # nodes without a Ready condition: fill in status
        self._ready_nodes: set[str] = set()
        self._to_start: set[str] = set()
        self._killing: set[str] = set()
        self._ips: dict[str, int] = {}
        self._node_index: dict[str, int] = {}

    # ----------------------------------------------------------------- events
    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        if resource in ("configmaps", "secrets"):
            if new is None or old is not None:
                return False
            md = new["metadata"]
            woken = self._waiting.pop((resource, md.get("namespace", ""), md["name"]), set())
            for key in woken:
                self._blocked.pop(key, None)
            self._to_start.update(woken)
            return bool(woken)
        if resource == "nodes":
            name = key_of(new or old or {})
            if new is None:
                self._ready_nodes.discard(name)
                return False
            if condition(new, "Ready") is None:
                self._new_nodes.add(name)
                return True
            if is_node_ready(new) and name not in self._ready_nodes:
                self._ready_nodes.add(name)
                self._to_start.update(key_of(p) for p in self.rt.cache.pods_on(name))
                return True
            if not is_node_ready(new):
                self._ready_nodes.discard(name)
            return False
        key = key_of(new or old or {})
        if new is None:
            self._cancel(key)
            need = self._blocked.pop(key, None)
            if need is not None:
                self._waiting.get(need, set()).discard(key)
            return False
        if (new.get("spec") or {}).get("nodeName") and not podlife.is_terminal(new):
            self._to_start.add(key)
            return True
        return False

    def _cancel(self, key: str) -> None:
        self._killing.discard(key)
        t = self._timers.pop(key, None)
        if t:
            t.cancel()

    def _arm(self, key: str, delay: float, fn: Callable[[], None]) -> None:
        self._cancel(key)

        def fire() -> None:
            self._timers.pop(key, None)
            fn()

        self._timers[key] = self.rt.call_later(delay, fire)

    # ----------------------------------------------------------------- work
    def sync(self) -> None:
        for name in sorted(self._new_nodes):
            self._register_node(name)
        self._new_nodes.clear()
        todo, self._to_start = sorted(self._to_start), set()
        for key in todo:
            pod = self.rt.cache.get("pods", key)
            if pod is not None:
                self._consider(key, pod)

    def _consider(self, key: str, pod: Obj) -> None:
        """Arm the right timer for a bound, non-terminal pod."""
        md = pod.get("metadata") or {}
        if md.get("deletionTimestamp"):
            grace = float(md.get("deletionGracePeriodSeconds") or 0)
            if key not in self._killing:
                self._arm_kill(key, min(grace, self.kill_seconds))
            return
        phase = (pod.get("status") or {}).get("phase")
        if key in self._timers or key in self._blocked:
            return
        if phase == "Running":
            self._resume(key, pod)
            return
        node = (pod.get("spec") or {}).get("nodeName", "")
        if phase == "Pending" and node in self._ready_nodes:
            self._arm(key, self.start_seconds, lambda: self._start(key))

    def _resume(self, key: str, pod: Obj) -> None:
        """A Running pod without a timer (the sandbox was loaded from a snapshot): re-arm its end."""
        try:
            script = podlife.pod_script(pod, self.default_seconds)
        except podlife.AnnotationError:
            return
        if script.duration is None:
            return
        started = parse_rfc3339((pod.get("status") or {}).get("startTime")) or self.rt.clock.now()
        remaining = started + script.duration - self.rt.clock.now()
        self._arm(key, max(remaining, 0.0), lambda: self._finish(key, script))

    def _arm_kill(self, key: str, delay: float) -> None:
        self._cancel(key)
        self._killing.add(key)

        def fire_kill() -> None:
            self._timers.pop(key, None)
            self._killing.discard(key)
            pod = self.rt.cache.get("pods", key)
            if pod is not None:
                self.rt.delete(
                    "pods", pod["metadata"]["name"], pod["metadata"].get("namespace"), grace=0
                )

        self._timers[key] = self.rt.call_later(delay, fire_kill)

    def _start(self, key: str) -> None:
        pod = self.rt.cache.get("pods", key)
        if pod is None or (pod.get("status") or {}).get("phase") != "Pending":
            return
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            return
        node = (pod.get("spec") or {}).get("nodeName", "")
        if node not in self._ready_nodes:
            return  # started when the node becomes Ready
        now = self.rt.clock.now()
        try:
            script = podlife.pod_script(pod, self.default_seconds)
        except podlife.AnnotationError as exc:
            self._set_status(pod, podlife.failed_status(pod, now, "InvalidAnnotation", str(exc)))
            return
        if self._wait_for_config(key, pod, node, now):
            return
        status = podlife.running_status(pod, now, self._pod_ip(node), self._host_ip(node))
        if self._set_status(pod, status) and script.duration is not None:
            self._arm(key, script.duration, lambda: self._finish(key, script))

    def _wait_for_config(self, key: str, pod: Obj, node: str, now: float) -> bool:
        """A ConfigMap or Secret the pod needs is missing: stay Pending until it appears."""
        ns = pod["metadata"].get("namespace", "")
        cache = self.rt.cache.objects

        def exists(resource: str, name: str) -> bool:
            return f"{ns}/{name}" in cache[resource]

        missing = mounts.first_missing(pod, exists)
        if missing is None:
            return False
        need = (missing.resource, ns, missing.name)
        self._blocked[key] = need
        self._waiting.setdefault(need, set()).add(key)
        status = podlife.waiting_status(
            pod, now, missing.waiting_reason, missing.message, self._host_ip(node)
        )
        self._set_status(pod, status)
        if self.events is not None:
            self.events.record(
                pod, "Warning", missing.event_reason, missing.event_message, source="kubelet"
            )
        return True

    def _finish(self, key: str, script: podlife.Script) -> None:
        pod = self.rt.cache.get("pods", key)
        if pod is None or (pod.get("status") or {}).get("phase") != "Running":
            return
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        now = self.rt.clock.now()
        # The duration annotation ends a pod whatever its restartPolicy (that is what it is
        # for), except OnFailure with a failure; commands restart as real containers do.
        if (policy == "OnFailure" and script.exit_code != 0) or (
            policy == "Always" and not script.annotated
        ):
            restarts = 1 + max(
                (int(cs.get("restartCount") or 0) for cs in _statuses(pod)), default=0
            )
            delay = podlife.backoff_seconds(restarts)
            self._set_status(pod, podlife.crashed_status(pod, now, script.exit_code, delay))
            self._arm(key, delay, lambda: self._rerun(key, script))
            return
        self._set_status(pod, podlife.terminated_status(pod, now, script.exit_code))

    def _rerun(self, key: str, script: podlife.Script) -> None:
        """The back-off is over: the containers run again for the script's duration."""
        pod = self.rt.cache.get("pods", key)
        if pod is None or (pod.get("status") or {}).get("phase") != "Running":
            return
        if not all("running" in (cs.get("state") or {}) for cs in _statuses(pod)):
            self._set_status(pod, podlife.restarted_status(pod, self.rt.clock.now()))
        if script.duration is not None:
            self._arm(key, script.duration, lambda: self._finish(key, script))

    def _set_status(self, pod: Obj, status: Obj) -> bool:
        md = pod["metadata"]
        uid = md.get("uid")

        def put(p: Obj) -> None:
            if p["metadata"].get("uid") == uid and not podlife.is_terminal(p):
                p["status"] = status

        out = self.rt.mutate("pods", md["name"], md.get("namespace"), put, shallow=True)
        return out is not None and (out.get("status") or {}).get("phase") == status.get("phase")

    def _fail_pods(self, node: str, reason: str, template: str) -> int:
        now = self.rt.clock.now()
        n = 0
        for pod in self.rt.cache.pods_on(node):
            key = key_of(pod)
            self._cancel(key)
            md = pod["metadata"]
            if md.get("deletionTimestamp"):
                self.rt.delete("pods", md["name"], md.get("namespace"), grace=0)
            elif not podlife.is_terminal(pod):
                msg = template.format(node=node, pod=md["name"])
                n += self._set_status(pod, podlife.failed_status(pod, now, reason, msg))
        return n

    def shutdown_node(self, node: str) -> None:
        """The machine is going down: its pods fail at once (graceful node shutdown)."""
        self._ready_nodes.discard(node)
        self._fail_pods(node, "Terminated", SHUTDOWN_MESSAGE)

    def _register_node(self, name: str) -> None:
        now = self.rt.clock.now()
        address = self._host_ip(name)

        def fill(n: Obj) -> None:
            if condition(n, "Ready") is not None:
                return
            status = n.setdefault("status", {})
            cap = status.get("capacity") or default_capacity()
            base = node_status(cap, ready=True, now=now, address=address)
            base["allocatable"] = status.get("allocatable") or base["allocatable"]
            base.update({k: v for k, v in status.items() if k not in ("conditions",)})
            base["conditions"] = base.get("conditions") or []
            n["status"] = base

        self.rt.mutate("nodes", name, None, fill)

    def _host_ip(self, node: str) -> str:
        obj = self.rt.cache.get("nodes", node) or {}
        for a in (obj.get("status") or {}).get("addresses") or ():
            if a.get("type") == "InternalIP":
                return str(a.get("address"))
        idx = self._node_index.setdefault(node, len(self._node_index) + 1)
        return f"10.0.{idx // 250}.{idx % 250 + 2}"

    def _pod_ip(self, node: str) -> str:
        idx = self._node_index.setdefault(node, len(self._node_index) + 1)
        n = self._ips[node] = self._ips.get(node, 0) + 1
        return f"10.{244 + (idx >> 8) % 12}.{idx % 256}.{n % 253 + 1}"


def _statuses(pod: Obj) -> list[Obj]:
    return list((pod.get("status") or {}).get("containerStatuses") or ())


__all__ = ["Kubelet", "SHUTDOWN_MESSAGE"]
