"""Leader election on a coordination.k8s.io/v1 Lease, with client-go `leaderelection` semantics.

One `LeaseElector` per cluesd. Every `retry_period` it reads the Lease and, if it is free,
expired or already ours, writes it back with `holderIdentity` = us and a fresh `renewTime`,
using the `resourceVersion` it read: a 409 Conflict means another instance wrote first and
won. Expiry is judged by *our* monotonic clock from the moment we last saw the record change
(like client-go's observedTime), so clock skew between hosts does not matter. The leader stops
acting when it could not renew for `renew_deadline`; on a clean stop it releases the Lease
(empty holder) so a standby takes over at once. What "acting" means is the daemon's business:
it only reads `is_leader()`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

log = logging.getLogger(__name__)

_TIMEOUT = (5.0, 10.0)


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def micro_time(at: float) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaseSettings:
    lease_name: str = "clues-py"
    namespace: str = "kube-system"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = ""


class LeaseElector:
    """Keeps trying to hold one Lease; `is_leader()` is cheap and thread-safe."""

    def __init__(
        self,
        api_client: k8s.ApiClient,
        settings: LeaseSettings,
        *,
        on_change: Callable[[bool], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.api = k8s.CoordinationV1Api(api_client)
        self.s = settings
        self.identity = settings.identity or default_identity()
        self._on_change = on_change
        self._mono = monotonic
        self._wall = wall
        self._lock = threading.Lock()
        self._leader = False
        self._renewed_at = float("-inf")  # monotonic time of our last successful write
        self._observed: tuple[str, str] = ("", "")  # (holder, renewTime) last seen
        self._observed_at = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.transitions_seen = 0

    # ------------------------------------------------------------------ public

    def is_leader(self) -> bool:
        with self._lock:
            return self._leader and self._mono() - self._renewed_at < self.s.renew_deadline

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="clues-lease", daemon=True)
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop trying; give the Lease up (empty holder) if we hold it, so a standby takes over."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.s.retry_period + 12)
        if release and self.is_leader():
            self._release()
        self._set_leader(False)

    # ------------------------------------------------------------------ loop

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.try_acquire_or_renew()
            except Exception:
                log.exception("leader election: unexpected error; retrying")
            self._set_leader(self.is_leader())  # drops leadership after renew_deadline
            self._stop.wait(self.s.retry_period)

    def try_acquire_or_renew(self) -> bool:
        """One attempt (client-go tryAcquireOrRenew); True if we hold the Lease afterwards."""
        now_mono, now_wall = self._mono(), self._wall()
        try:
            lease = self._read()
        except (ApiException, HTTPError) as exc:
            log.warning("leader election: cannot read lease %s: %s", self._where(), _why(exc))
            return False
        if lease is None:
            return self._write(None, self._spec(now_wall, now_wall, 0), now_mono)
        spec = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        record = (holder, str(spec.get("renewTime") or ""))
        if record != self._observed:
            self._observed, self._observed_at = record, now_mono
        duration = float(spec.get("leaseDurationSeconds") or self.s.lease_duration)
        if holder and holder != self.identity and now_mono < self._observed_at + duration:
            self._set_leader(False)
            return False  # someone else holds a valid lease
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == self.identity:
            acquire = _parse_time(spec.get("acquireTime")) or now_wall
        else:
            acquire = now_wall
            if holder:
                transitions += 1
        rv = str((lease.get("metadata") or {}).get("resourceVersion") or "")
        return self._write(rv, self._spec(acquire, now_wall, transitions), now_mono)

    # ------------------------------------------------------------------ I/O

    def _where(self) -> str:
        return f"{self.s.namespace}/{self.s.lease_name}"

    def _spec(self, acquire: float, renew: float, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.s.lease_duration)),
            "acquireTime": micro_time(acquire),
            "renewTime": micro_time(renew),
            "leaseTransitions": transitions,
        }

    def _read(self) -> dict[str, Any] | None:
        try:
            resp = self.api.read_namespaced_lease(
                self.s.lease_name,
                self.s.namespace,
                _preload_content=False,
                _request_timeout=_TIMEOUT,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return json.loads(resp.data)  # type: ignore[no-any-return]
        finally:
            resp.release_conn()

    def _write(self, rv: str | None, spec: dict[str, Any], now_mono: float) -> bool:
        meta: dict[str, Any] = {"name": self.s.lease_name, "namespace": self.s.namespace}
        if rv:
            meta["resourceVersion"] = rv
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta}
        body["spec"] = spec
        try:
            if rv is None:
                call = self.api.create_namespaced_lease(
                    self.s.namespace, body, _preload_content=False, _request_timeout=_TIMEOUT
                )
            else:
                call = self.api.replace_namespaced_lease(
                    self.s.lease_name,
                    self.s.namespace,
                    body,
                    _preload_content=False,
                    _request_timeout=_TIMEOUT,
                )
            _done(call)
        except ApiException as exc:
            if exc.status == 409:
                log.debug("leader election: lost the race for %s (%s)", self._where(), exc.status)
                self._set_leader(False)
                return False
            log.warning("leader election: cannot write lease %s: %s", self._where(), _why(exc))
            return False
        except HTTPError as exc:
            log.warning("leader election: cannot write lease %s: %s", self._where(), exc)
            return False
        with self._lock:
            self._renewed_at = now_mono
        self._observed, self._observed_at = (self.identity, spec["renewTime"]), now_mono
        self._set_leader(True)
        return True

    def _release(self) -> None:
        try:
            lease = self._read()
            spec = (lease or {}).get("spec") or {}
            if lease is None or spec.get("holderIdentity") != self.identity:
                return
            now = self._wall()
            lease["spec"] = {
                **spec,
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "renewTime": micro_time(now),
            }
            _done(
                self.api.replace_namespaced_lease(
                    self.s.lease_name,
                    self.s.namespace,
                    lease,
                    _preload_content=False,
                    _request_timeout=_TIMEOUT,
                )
            )
            log.info("leader election: released lease %s", self._where())
        except (ApiException, HTTPError) as exc:
            log.warning("leader election: cannot release lease %s: %s", self._where(), exc)

    def _set_leader(self, leader: bool) -> None:
        with self._lock:
            changed, self._leader = self._leader != leader, leader
        if changed:
            self.transitions_seen += 1
            log.info(
                "leader election: %s %s lease %s",
                self.identity,
                "acquired" if leader else "lost",
                self._where(),
            )
            if self._on_change is not None:
                self._on_change(leader)


def _parse_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _done(resp: Any) -> None:
    """Read the rest of a raw response so its connection can be reused, then return it."""
    resp.drain_conn()
    resp.release_conn()


def _why(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    return str(exc)


def api_client_for(backend: Any) -> k8s.ApiClient:
    """A separate client (own connection pool) with the credentials of a KubernetesBackend, so
    lease renewals and event writes never queue behind its long watches."""
    from .kubernetes import KubernetesBackend, load_configuration

    if not isinstance(backend, KubernetesBackend):
        raise ValueError(
            f"needs the kubernetes backend, not {type(backend).__name__}; "
            "set `backend: {kind: kubernetes}` or disable leader_election"
        )
    c = backend.config
    return k8s.ApiClient(load_configuration(c.kubeconfig, c.context, c.in_cluster))
