"""Small helpers shared by the sandbox controllers: timestamps, names, owners, node objects.

Pure functions over plain Kubernetes dicts. Reading and writing the object store
is the controllers' job; building a Node dict lives here so that the facade
(`add_node`), the machines table and the kubelet agree on what a node looks like.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from clues_py.model import Taint, cpu_millis, to_int
from clues_py.sandbox.meta import clone
from clues_py.sandbox.meta import rfc3339 as rfc3339  # one memoised formatter for all

ANNOTATION_PREFIX = "sandbox.clues-py.io/"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"

Obj = dict[str, Any]


def parse_rfc3339(s: str | None) -> float | None:
    if not s:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the apimachinery rand alphabet
# byte -> its letter (b % 27), for `bytes.translate`: one C call per name, not one per letter
_LETTERS = bytes(ord(_ALPHABET[b % len(_ALPHABET)]) for b in range(256))


def short_hash(*parts: str, length: int = 5) -> str:
    """Deterministic lowercase suffix like the random ones Kubernetes appends to names."""
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return digest[:length].translate(_LETTERS).decode()


def key_of(obj: Mapping[str, Any]) -> str:
    md = obj.get("metadata") or {}
    ns = md.get("namespace") or ""
    return f"{ns}/{md.get('name', '')}" if ns else str(md.get("name", ""))


def controller_uid(obj: Mapping[str, Any]) -> str:
    """UID of the controlling owner (ownerReferences with controller=true), or ""."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid") or "")
    return ""


def owner_ref(owner: Mapping[str, Any], api_version: str, kind: str) -> Obj:
    md = owner["metadata"]
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": md["name"],
        "uid": md.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_from_template(
    owner: Mapping[str, Any],
    api_version: str,
    kind: str,
    name: str,
    labels: Mapping[str, str] | None = None,
) -> Obj:
    """A Pod for `owner`'s `spec.template`, controlled by it; `labels` are added to the template's."""
    md = owner["metadata"]
    template = clone((owner.get("spec") or {}).get("template") or {})
    tmd = template.get("metadata") or {}
    all_labels = dict(tmd.get("labels") or {})
    all_labels.update(labels or {})
    meta: Obj = {
        "name": name,
        "namespace": md.get("namespace"),
        "labels": all_labels,
        "ownerReferences": [owner_ref(owner, api_version, kind)],
    }
    if tmd.get("annotations"):
        meta["annotations"] = dict(tmd["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": template.get("spec") or {},
    }


def condition(obj: Mapping[str, Any], ctype: str) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == ctype:
            return cast(Obj, c)
    return None


def set_condition(
    status: Obj, ctype: str, value: str, reason: str, message: str, now: float, probe: bool = False
) -> bool:
    """Upsert a condition in `status`; lastTransitionTime moves only when the status flips.

    Returns True when something changed. `probe` adds lastProbeTime (Jobs and pods have it).
    Only `status` itself is changed (a new conditions list, a new dict for the condition):
    it may be a shallow copy of a stored version (`mutate(shallow=True)`).
    """
    conds = status.get("conditions") or []
    for i, c in enumerate(conds):
        if c.get("type") == ctype:
            if (c.get("status"), c.get("reason"), c.get("message")) == (value, reason, message):
                return False
            c = dict(c)
            if c.get("status") != value:
                c["lastTransitionTime"] = rfc3339(now)
            c.update(status=value, reason=reason, message=message)
            if probe:
                c["lastProbeTime"] = rfc3339(now)
            status["conditions"] = [*conds[:i], c, *conds[i + 1 :]]
            return True
    new: Obj = {"type": ctype, "status": value, "lastTransitionTime": rfc3339(now)}
    if probe:
        new["lastProbeTime"] = rfc3339(now)
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    status["conditions"] = [*conds, new]
    return True


def is_node_ready(node: Mapping[str, Any]) -> bool:
    c = condition(node, "Ready")
    return c is not None and c.get("status") == "True"


def node_object(
    name: str,
    *,
    cpu: str | int = "4",
    memory: str = "8Gi",
    gpus: int = 0,
    pods: int = 110,
    labels: Mapping[str, str] | None = None,
    taints: Iterable[Taint | Mapping[str, Any]] = (),
    ready: bool = True,
    now: float,
    address: str = "",
) -> Obj:
    """A Node as a freshly registered kubelet reports it (validates the quantities)."""
    for what, value in (("cpu", cpu), ("memory", memory)):
        try:
            (cpu_millis if what == "cpu" else to_int)(value)
        except ValueError as exc:
            raise ValueError(f"node {name}: {what}={value!r} is not a quantity ({exc})") from None
    capacity = {"cpu": str(cpu), "memory": str(memory), "pods": str(int(pods))}
    if gpus:
        capacity["nvidia.com/gpu"] = str(int(gpus))
    all_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    }
    all_labels.update(labels or {})
    spec: Obj = {"providerID": f"sandbox://{name}"}
    taint_list = [_taint_dict(t) for t in taints]
    if taint_list:
        spec["taints"] = taint_list
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels},
        "spec": spec,
        "status": node_status(capacity, ready=ready, now=now, address=address or _address(name)),
    }


def node_status(capacity: Mapping[str, str], *, ready: bool, now: float, address: str) -> Obj:
    ident = hashlib.sha256(address.encode()).hexdigest()
    return {
        "capacity": dict(capacity),
        "allocatable": dict(capacity),
        "conditions": [ready_condition(ready, now)],
        "addresses": [
            {"type": "InternalIP", "address": address},
            {"type": "Hostname", "address": address},
        ],
        # Every field the official clients require, or they refuse to deserialize the Node.
        "nodeInfo": {
            "architecture": "amd64",
            "bootID": ident[:32],
            "containerRuntimeVersion": "sandbox://1.0",
            "kernelVersion": "6.1.0-sandbox",
            "kubeProxyVersion": "v1.32.0-sandbox",
            "kubeletVersion": "v1.32.0-sandbox",
            "machineID": ident[32:],
            "operatingSystem": "linux",
            "osImage": "clues-py sandbox",
            "systemUUID": ident[:32],
        },
    }


def ready_condition(ready: bool, now: float, reason: str = "", message: str = "") -> Obj:
    return {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": reason or ("KubeletReady" if ready else "KubeletNotReady"),
        "message": message
        or ("kubelet is posting ready status" if ready else "kubelet is not ready"),
        "lastHeartbeatTime": rfc3339(now),
        "lastTransitionTime": rfc3339(now),
    }


def default_capacity() -> dict[str, str]:
    return {"cpu": "4", "memory": "8Gi", "pods": "110"}


def _taint_dict(t: Taint | Mapping[str, Any]) -> Obj:
    if isinstance(t, Taint):
        d: Obj = {"key": t.key, "effect": t.effect}
        if t.value:
            d["value"] = t.value
        return d
    if not t.get("key"):
        raise ValueError(f"taint {dict(t)!r}: missing 'key' (expected {{key, value, effect}})")
    return dict(t)


def _address(name: str) -> str:
    h = hashlib.sha256(name.encode()).digest()
    return f"10.{h[0] % 200 + 10}.{h[1]}.{h[2] % 250 + 2}"
