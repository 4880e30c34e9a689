"""The `scale` subresource (autoscaling/v1 Scale) of Deployments, ReplicaSets, StatefulSets and RCs.

`kubectl scale`, HPA-like clients and Cluster Autoscaler tests read and write
`spec.replicas` through `.../<name>/scale`. GET answers a Scale built from the
parent; PUT and PATCH change only the parent's `spec.replicas` (checking the
Scale's resourceVersion against the parent's, as the real registry does). Routing
is `server.py`'s; patch formats are `patch.py`'s; what the controllers do with the
new replica count is theirs.
"""

from __future__ import annotations

import json
from typing import Any

from clues_py.sandbox.cells import format_selector
from clues_py.sandbox.meta import ApiError, clone, conflict
from clues_py.sandbox.objects import ObjectStore
from clues_py.sandbox.patch import PatchError, apply_patch
from clues_py.sandbox.resources import ResourceInfo

Obj = dict[str, Any]


def scale_of(info: ResourceInfo, obj: Obj) -> Obj:
    """The autoscaling/v1 Scale view of a scalable object."""
    md = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    legacy = info.plural == "replicationcontrollers"
    replicas = spec.get("replicas")
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: md[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in md
        },
        "spec": {"replicas": 1 if replicas is None else int(replicas)},
        "status": {
            "replicas": int(status.get("replicas") or 0),
            "selector": format_selector(spec.get("selector"), legacy),
        },
    }


def _replicas(scale: Any, name: str) -> int:
    spec = scale.get("spec") if isinstance(scale, dict) else None
    value = (spec or {}).get("replicas", 0) if isinstance(spec, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(
            422,
            "Invalid",
            f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
            f"{json.dumps(value)}: must be greater than or equal to 0",
        )
    return value


def handle(
    store: ObjectStore,
    info: ResourceInfo,
    method: str,
    name: str,
    namespace: str | None,
    body: Any,
    content_type: str = "",
    dry_run: bool = False,
) -> Obj:
    """GET, PUT or PATCH `<plural>/<name>/scale`; returns the resulting Scale."""
    if method == "GET":
        return scale_of(info, store.get(info.plural, name, namespace))
    if method not in ("PUT", "PATCH"):
        raise ApiError(
            405,
            "MethodNotAllowed",
            f"the server does not allow this method on the requested resource ({method})",
        )

    def fn(obj: Obj) -> None:
        current = scale_of(info, obj)
        if method == "PUT":
            wanted = body if isinstance(body, dict) else {}
        else:
            try:
                wanted = apply_patch(content_type, clone(current), body)
            except PatchError as e:
                reason = {415: "UnsupportedMediaType", 422: "Invalid"}.get(e.code, "BadRequest")
                raise ApiError(e.code, reason, str(e)) from None
        rv = (wanted.get("metadata") or {}).get("resourceVersion")
        if rv and rv != obj["metadata"]["resourceVersion"]:
            raise conflict(info, name)
        obj.setdefault("spec", {})["replicas"] = _replicas(wanted, name)

    if dry_run:
        obj = store.get(info.plural, name, namespace)
        fn(obj)
        return scale_of(info, obj)
    return scale_of(info, store.mutate(info.plural, name, namespace, fn))
