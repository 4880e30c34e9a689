"""`kubectl get` columns of Services, storage, RBAC, quotas and the server's own kinds.

Services, ServiceAccounts, Endpoints, PersistentVolumes and Claims, StorageClasses, CSINodes,
CSIDrivers, ResourceQuotas, LimitRanges, HorizontalPodAutoscalers, Roles and bindings,
ComponentStatuses and APIServices.
Columns and their order are kube-apiserver's printers (`-o wide` adds the priority-1 ones);
the Table document itself is `tables.py`'s.
"""

from __future__ import annotations

from typing import Any

from clues_py.sandbox.cells import AGE, NAME, Column, Obj, format_selector, get

_MODES = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def _created(obj: Obj, now: float) -> str:
    return str((obj.get("metadata") or {}).get("creationTimestamp") or "<unknown>")


def _ports(svc: Obj, now: float) -> str:
    out = []
    for p in _spec(svc).get("ports") or []:
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        out.append(f"{p.get('port')}{node}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _external_ip(svc: Obj, now: float) -> str:
    spec = _spec(svc)
    ips = [
        i.get("ip") or i.get("hostname")
        for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ]
    ips += spec.get("externalIPs") or []
    if spec.get("type") == "ExternalName":
        return str(spec.get("externalName") or "<none>")
    if ips:
        return ",".join(str(i) for i in ips)
    return "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"


def _modes(obj: Obj, now: float) -> str:
    return ",".join(_MODES.get(m, m) for m in _spec(obj).get("accessModes") or [])


def _claim(pv: Obj, now: float) -> str:
    ref = _spec(pv).get("claimRef") or {}
    return f"{ref.get('namespace')}/{ref.get('name')}" if ref else ""


def _pvc_capacity(pvc: Obj, now: float) -> str:
    return str(((pvc.get("status") or {}).get("capacity") or {}).get("storage") or "")


def _class_name(sc: Obj, now: float) -> str:
    meta = sc.get("metadata") or {}
    default = (meta.get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class")
    return str(meta.get("name")) + (" (default)" if default == "true" else "")


def _healthy(cs: Obj, now: float, field: str) -> str:
    cond: Obj = next((c for c in cs.get("conditions") or [] if c.get("type") == "Healthy"), {})
    if field == "status":
        return "Healthy" if cond.get("status") == "True" else "Unhealthy"
    return str(cond.get(field) or "")


def _api_service(svc: Obj, now: float) -> str:
    ref = _spec(svc).get("service")
    return f"{ref.get('namespace')}/{ref.get('name')}" if ref else "Local"


def _available(svc: Obj, now: float) -> str:
    conds = (svc.get("status") or {}).get("conditions") or []
    cond = next((c for c in conds if c.get("type") == "Available"), None)
    if cond is None:
        return "Unknown"
    if cond.get("status") == "True":
        return "True"
    return f"{cond.get('status')} ({cond.get('reason', '')})"


def _quota(kind: str) -> Any:
    def cell(rq: Obj, now: float) -> str:
        status = rq.get("status") or {}
        hard, used = status.get("hard") or _spec(rq).get("hard") or {}, status.get("used") or {}
        picked = sorted(
            k for k in hard if k.startswith("limits.") == (kind == "limit") and k != "limits"
        )
        return ", ".join(f"{k}: {used.get(k, '0')}/{hard[k]}" for k in picked)

    return cell


def _subjects(kind: str) -> Any:
    def cell(binding: Obj, now: float) -> str:
        out = []
        for s in binding.get("subjects") or []:
            if s.get("kind") == kind:
                ns = f"{s.get('namespace')}/" if kind == "ServiceAccount" else ""
                out.append(f"{ns}{s.get('name')}")
        return ", ".join(out)

    return cell


def _role(binding: Obj, now: float) -> str:
    ref = binding.get("roleRef") or {}
    return f"{ref.get('kind')}/{ref.get('name')}"


def _hpa_reference(hpa: Obj, now: float) -> str:
    ref = _spec(hpa).get("scaleTargetRef") or {}
    return f"{ref.get('kind')}/{ref.get('name')}"


def _hpa_targets(hpa: Obj, now: float) -> str:
    out = []
    for m in _spec(hpa).get("metrics") or []:
        res = m.get("resource") or {}
        target = res.get("target") or {}
        if "averageUtilization" in target:
            out.append(f"{res.get('name')}: <unknown>/{target['averageUtilization']}%")
        else:
            out.append("<unknown>")
    return ", ".join(out) or "<none>"


_CREATED_AT: Column = ("Created At", "date", 0, _created)
_BINDING = [
    NAME,
    ("Role", "string", 0, _role),
    AGE,
    ("Users", "string", 1, _subjects("User")),
    ("Groups", "string", 1, _subjects("Group")),
    ("ServiceAccounts", "string", 1, _subjects("ServiceAccount")),
]

CLUSTER_COLUMNS: dict[str, list[Column]] = {
    "services": [
        NAME,
        ("Type", "string", 0, get("spec", "type", default="")),
        ("Cluster-IP", "string", 0, get("spec", "clusterIP")),
        ("External-IP", "string", 0, _external_ip),
        ("Port(s)", "string", 0, _ports),
        AGE,
        (
            "Selector",
            "string",
            1,
            lambda o, n: format_selector(_spec(o).get("selector"), True) or "<none>",
        ),
    ],
    "serviceaccounts": [
        NAME,
        ("Secrets", "integer", 0, lambda o, n: len(o.get("secrets") or [])),
        AGE,
    ],
    "endpoints": [
        NAME,
        (
            "Endpoints",
            "string",
            0,
            lambda o, n: (
                ",".join(
                    f"{a.get('ip')}:{p.get('port')}"
                    for s in o.get("subsets") or []
                    for a in s.get("addresses") or []
                    for p in s.get("ports") or [{}]
                )
                or "<none>"
            ),
        ),
        AGE,
    ],
    "persistentvolumes": [
        NAME,
        ("Capacity", "string", 0, get("spec", "capacity", "storage", default="")),
        ("Access Modes", "string", 0, _modes),
        ("Reclaim Policy", "string", 0, get("spec", "persistentVolumeReclaimPolicy", default="")),
        ("Status", "string", 0, get("status", "phase", default="")),
        ("Claim", "string", 0, _claim),
        ("StorageClass", "string", 0, get("spec", "storageClassName", default="")),
        ("VolumeAttributesClass", "string", 0, get("spec", "volumeAttributesClassName")),
        ("Reason", "string", 0, get("status", "reason", default="")),
        AGE,
        ("VolumeMode", "string", 1, get("spec", "volumeMode", default="")),
    ],
    "persistentvolumeclaims": [
        NAME,
        ("Status", "string", 0, get("status", "phase", default="")),
        ("Volume", "string", 0, get("spec", "volumeName", default="")),
        ("Capacity", "string", 0, _pvc_capacity),
        ("Access Modes", "string", 0, _modes),
        ("StorageClass", "string", 0, get("spec", "storageClassName", default="")),
        ("VolumeAttributesClass", "string", 0, get("spec", "volumeAttributesClassName")),
        AGE,
        ("VolumeMode", "string", 1, get("spec", "volumeMode", default="")),
    ],
    "storageclasses": [
        ("Name", "string", 0, _class_name),
        ("Provisioner", "string", 0, get("provisioner", default="")),
        ("ReclaimPolicy", "string", 0, get("reclaimPolicy", default="")),
        ("VolumeBindingMode", "string", 0, get("volumeBindingMode", default="")),
        (
            "AllowVolumeExpansion",
            "string",
            0,
            lambda o, n: str(bool(o.get("allowVolumeExpansion"))).lower(),
        ),
        AGE,
    ],
    "csinodes": [
        NAME,
        ("Drivers", "integer", 0, lambda o, n: len(_spec(o).get("drivers") or [])),
        AGE,
    ],
    "csidrivers": [
        NAME,
        ("AttachRequired", "boolean", 0, lambda o, n: _spec(o).get("attachRequired", True)),
        ("PodInfoOnMount", "boolean", 0, lambda o, n: bool(_spec(o).get("podInfoOnMount"))),
        (
            "Modes",
            "string",
            0,
            lambda o, n: ",".join(_spec(o).get("volumeLifecycleModes") or ["Persistent"]),
        ),
        AGE,
    ],
    "resourcequotas": [
        NAME,
        AGE,
        ("Request", "string", 0, _quota("request")),
        ("Limit", "string", 0, _quota("limit")),
    ],
    "horizontalpodautoscalers": [
        NAME,
        ("Reference", "string", 0, _hpa_reference),
        ("Targets", "string", 0, _hpa_targets),
        ("MinPods", "string", 0, get("spec", "minReplicas", default=1)),
        ("MaxPods", "string", 0, get("spec", "maxReplicas", default=0)),
        ("Replicas", "string", 0, get("status", "currentReplicas", default=0)),
        AGE,
    ],
    "limitranges": [NAME, _CREATED_AT],
    "roles": [NAME, _CREATED_AT],
    "clusterroles": [NAME, _CREATED_AT],
    "rolebindings": _BINDING,
    "clusterrolebindings": _BINDING,
    "componentstatuses": [
        NAME,
        ("Status", "string", 0, lambda o, n: _healthy(o, n, "status")),
        ("Message", "string", 0, lambda o, n: _healthy(o, n, "message")),
        ("Error", "string", 0, lambda o, n: _healthy(o, n, "error")),
    ],
    "apiservices": [
        NAME,
        ("Service", "string", 0, _api_service),
        ("Available", "string", 0, _available),
        AGE,
    ],
}
