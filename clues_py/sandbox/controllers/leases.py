"""Node heartbeats: one coordination.k8s.io Lease per node in `kube-node-lease`.

Each sandbox kubelet holds a Lease named after its node (holder = the node, 40 s
duration, owned by the Node) from the moment the node is Ready, so `kubectl
describe node` shows it. Each Lease is renewed every `renew_seconds` (the kubelet's
10 s by default in real time), spread over the period as independent kubelets' are:
each node has a fixed phase (a hash of its name picks one of `SLICES` slots) and one
slot is renewed at a time. Renewing all of them at once held the controllers' thread
for a third of a second at 5,000 nodes every 10 s, and whatever came meanwhile (a new
pod waiting for the scheduler's verdict) waited for it. A node that is not Ready stops
renewing, and a deleted node's Lease is deleted with it. Virtual sandboxes renew only
when asked to, so a simulated week does not cost a million writes.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

from clues_py.sandbox.controllers.common import Obj, is_node_ready, key_of
from clues_py.sandbox.controllers.runtime import Runtime

NAMESPACE = "kube-node-lease"
DURATION_SECONDS = 40
# Renewals are spread over this many slots of the period (one slot renewed at a time).
SLICES = 20


def _slot(name: str) -> int:
    return zlib.crc32(name.encode()) % SLICES


def micro_time(t: float) -> str:
    """metav1.MicroTime as the API serializes it."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeLeases:
    resources = frozenset({"nodes"})

    def __init__(self, runtime: Runtime, renew_seconds: float | None = 10.0) -> None:
        self.rt = runtime
        self.renew_seconds = renew_seconds if renew_seconds and renew_seconds > 0 else None
        self._ready: dict[str, str] = {}  # node name -> uid, nodes whose kubelet renews
        self._new: set[str] = set()
        self._gone: set[str] = set()
        self._ticking = False
        self._next_slot = 0
        self._slots: list[set[str]] = [set() for _ in range(SLICES)]  # ready nodes by slot

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        name = key_of(new or old or {})
        if new is None:
            self._unready(name)
            self._gone.add(name)
            return True
        if is_node_ready(new):
            if name not in self._ready:
                self._ready[name] = new["metadata"].get("uid", "")
                self._slots[_slot(name)].add(name)
                self._new.add(name)
                return True
        else:
            self._unready(name)
        return False

    def _unready(self, name: str) -> None:
        if self._ready.pop(name, None) is not None:
            self._slots[_slot(name)].discard(name)

    def sync(self) -> None:
        for name in sorted(self._gone):
            self.rt.delete("leases", name, NAMESPACE)
        self._gone.clear()
        new, self._new = sorted(self._new), set()
        for name in new:
            if name in self._ready:
                self._hold(name)
        if self.renew_seconds is not None and self._ready and not self._ticking:
            self._ticking = True
            self.rt.call_later(self.renew_seconds / SLICES, self._renew_slot)

    def _hold(self, name: str) -> None:
        """Create the node's Lease, or renew it when it already exists (a restarted node)."""
        lease: Obj = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Node", "name": name, "uid": self._ready[name]}
                ],
            },
            "spec": {
                "holderIdentity": name,
                "leaseDurationSeconds": DURATION_SECONDS,
                "renewTime": micro_time(self.rt.clock.now()),
            },
        }
        if self.rt.create("leases", lease, NAMESPACE) is None:
            self._renew(name)

    def _renew(self, name: str) -> None:
        now = micro_time(self.rt.clock.now())

        def renew(lease: Obj) -> None:
            spec = lease.setdefault("spec", {})
            spec["holderIdentity"] = name
            spec["renewTime"] = now

        self.rt.mutate("leases", name, NAMESPACE, renew)

    def _renew_slot(self) -> None:
        """Renew the Leases of the nodes in the next slot; every slot comes round once per
        `renew_seconds`, so each Lease is renewed that often."""
        self._ticking = False
        slot, self._next_slot = self._next_slot, (self._next_slot + 1) % SLICES
        for name in sorted(self._slots[slot]):
            self._renew(name)
        if self._ready and self.renew_seconds is not None:
            self._ticking = True
            self.rt.call_later(self.renew_seconds / SLICES, self._renew_slot)
