"""Kinds the sandbox API server answers itself instead of storing: reviews and component health.

- SelfSubjectAccessReview, SubjectAccessReview and SelfSubjectRulesReview answer as kube-apiserver
  with `--authorization-mode=AlwaysAllow` does (`kubectl auth can-i` says yes to everything).
- SelfSubjectReview (`kubectl auth whoami`) reports the impersonated user when the client sends
  `Impersonate-User`, else the cluster administrator a kubeadm admin.conf would name.
- ComponentStatus (`kubectl get cs`) reports the scheduler, controller manager and etcd healthy:
  they are the sandbox's own threads.
Routing is the server's; tables of these are `tables.py`'s.
"""

from __future__ import annotations

import copy
from typing import Any

from clues_py.sandbox.resources import ResourceInfo

Obj = dict[str, Any]

REVIEWS = frozenset(
    {
        "selfsubjectaccessreviews",
        "selfsubjectrulesreviews",
        "subjectaccessreviews",
        "selfsubjectreviews",
    }
)
ADMIN = "kubernetes-admin"
ADMIN_GROUPS = ["kubeadm:cluster-admins", "system:authenticated"]


def review(info: ResourceInfo, body: Obj, headers: Any) -> Obj:
    """The answer to a review POSTed as `body`: the request with its status filled in."""
    out = copy.deepcopy(body)
    out["kind"], out["apiVersion"] = info.kind, info.api_version
    meta = out.get("metadata") or {}
    meta.pop("creationTimestamp", None)
    out["metadata"] = meta
    if info.plural in ("selfsubjectaccessreviews", "subjectaccessreviews"):
        out["status"] = {"allowed": True}
    elif info.plural == "selfsubjectrulesreviews":
        out["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    else:
        user = headers.get("Impersonate-User") if headers is not None else None
        if user:
            get_all = getattr(headers, "get_all", None)
            groups = [
                *(get_all("Impersonate-Group", []) if get_all else []),
                "system:authenticated",
            ]
            info_ = {"username": user, "groups": groups}
        else:
            info_ = {"username": ADMIN, "groups": list(ADMIN_GROUPS)}
        out["status"] = {"userInfo": info_}
    return out


def component_statuses() -> list[Obj]:
    def cs(name: str, message: str) -> Obj:
        return {
            "kind": "ComponentStatus",
            "apiVersion": "v1",
            "metadata": {"name": name},
            "conditions": [{"type": "Healthy", "status": "True", "message": message}],
        }

    return [
        cs("controller-manager", "ok"),
        cs("etcd-0", '{"health":"true","reason":""}'),
        cs("scheduler", "ok"),
    ]


def component_status(name: str) -> Obj | None:
    return next((c for c in component_statuses() if c["metadata"]["name"] == name), None)
