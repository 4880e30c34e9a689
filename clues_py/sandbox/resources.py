"""Registry of the kinds the sandbox API server knows: names, group/version, scope, verbs.

The object store asks it whether a resource is namespaced and what its kind is; the HTTP server
builds discovery documents and routes from it. Table columns live in `tables.py`, selectors in
`selectors.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_READ = ("get", "list")


@dataclass(frozen=True)
class ResourceInfo:
    plural: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # e.g. "status", "binding", "eviction"
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    # Extra field-selector labels accepted besides metadata.name / metadata.namespace.
    fields: tuple[str, ...] = field(default=())
    # False for an older version served from the same storage (converted at the HTTP edge).
    storage: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def group_version(self) -> str:
        return self.api_version


_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)


def _kueue(version: str, storage: bool) -> tuple[ResourceInfo, ...]:
    g = "kueue.x-k8s.io"
    return tuple(
        ResourceInfo(plural, kind, g, version, ns, short, sub, storage=storage)
        for plural, kind, ns, short, sub in (
            ("resourceflavors", "ResourceFlavor", False, ("flavor", "flavors", "rf"), ()),
            ("clusterqueues", "ClusterQueue", False, ("cq",), ("status",)),
            ("localqueues", "LocalQueue", True, ("queue", "queues", "lq"), ("status",)),
            ("workloads", "Workload", True, ("kwl", "kueueworkload"), ("status",)),
            ("admissionchecks", "AdmissionCheck", False, ("ac",), ("status",)),
            ("provisioningrequestconfigs", "ProvisioningRequestConfig", False, ("prc",), ()),
        )
    )


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        "namespaces",
        "Namespace",
        "",
        "v1",
        False,
        ("ns",),
        ("status",),
        ("create", "delete", "get", "list", "patch", "update", "watch"),
        fields=("status.phase",),
    ),
    ResourceInfo(
        "nodes",
        "Node",
        "",
        "v1",
        False,
        ("no",),
        ("status",),
        fields=("spec.unschedulable",),
    ),
    ResourceInfo(
        "pods",
        "Pod",
        "",
        "v1",
        True,
        ("po",),
        ("status", "binding", "eviction", "log"),
        categories=("all",),
        fields=(
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ),
    ),
    ResourceInfo("events", "Event", "", "v1", True, ("ev",), fields=_EVENT_FIELDS),
    ResourceInfo("configmaps", "ConfigMap", "", "v1", True, ("cm",)),
    ResourceInfo("services", "Service", "", "v1", True, ("svc",), ("status",), categories=("all",)),
    ResourceInfo("serviceaccounts", "ServiceAccount", "", "v1", True, ("sa",)),
    ResourceInfo("secrets", "Secret", "", "v1", True, (), fields=("type",)),
    ResourceInfo(
        "jobs",
        "Job",
        "batch",
        "v1",
        True,
        (),
        ("status",),
        categories=("all",),
        fields=("status.successful",),
    ),
    ResourceInfo(
        "daemonsets", "DaemonSet", "apps", "v1", True, ("ds",), ("status",), categories=("all",)
    ),
    ResourceInfo(
        "deployments",
        "Deployment",
        "apps",
        "v1",
        True,
        ("deploy",),
        ("status", "scale"),
        categories=("all",),
    ),
    ResourceInfo(
        "replicasets",
        "ReplicaSet",
        "apps",
        "v1",
        True,
        ("rs",),
        ("status", "scale"),
        categories=("all",),
    ),
    ResourceInfo(
        "statefulsets",
        "StatefulSet",
        "apps",
        "v1",
        True,
        ("sts",),
        ("status", "scale"),
        categories=("all",),
    ),
    ResourceInfo("controllerrevisions", "ControllerRevision", "apps", "v1", True),
    ResourceInfo(
        "replicationcontrollers",
        "ReplicationController",
        "",
        "v1",
        True,
        ("rc",),
        ("status", "scale"),
        categories=("all",),
        fields=("status.replicas",),
    ),
    ResourceInfo(
        "cronjobs", "CronJob", "batch", "v1", True, ("cj",), ("status",), categories=("all",)
    ),
    ResourceInfo("priorityclasses", "PriorityClass", "scheduling.k8s.io", "v1", False, ("pc",)),
    ResourceInfo("leases", "Lease", "coordination.k8s.io", "v1", True),
    ResourceInfo(
        "poddisruptionbudgets", "PodDisruptionBudget", "policy", "v1", True, ("pdb",), ("status",)
    ),
    ResourceInfo("podtemplates", "PodTemplate", "", "v1", True),
    # Kueue (the sandbox's mini-Kueue, controllers/kueue*.py): stored as v1beta2, also served
    # as the deprecated v1beta1 (kueue_versions.py converts); Cluster Autoscaler's
    # ProvisioningRequests.
    *_kueue("v1beta2", True),
    *_kueue("v1beta1", False),
    ResourceInfo(
        "provisioningrequests",
        "ProvisioningRequest",
        "autoscaling.x-k8s.io",
        "v1",
        True,
        ("provreq", "provreqs"),
        ("status",),
    ),
    # RBAC objects are stored, not enforced: enough for `kubectl apply` of etc/kubernetes/.
    ResourceInfo("clusterroles", "ClusterRole", "rbac.authorization.k8s.io", "v1", False),
    ResourceInfo(
        "clusterrolebindings", "ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", False
    ),
    ResourceInfo("roles", "Role", "rbac.authorization.k8s.io", "v1", True),
    ResourceInfo("rolebindings", "RoleBinding", "rbac.authorization.k8s.io", "v1", True),
    # Storage: stored with the real defaults (strategy.py); no provisioner binds claims.
    ResourceInfo("storageclasses", "StorageClass", "storage.k8s.io", "v1", False, ("sc",)),
    ResourceInfo("csinodes", "CSINode", "storage.k8s.io", "v1", False),
    ResourceInfo("csidrivers", "CSIDriver", "storage.k8s.io", "v1", False),
    ResourceInfo("persistentvolumes", "PersistentVolume", "", "v1", False, ("pv",), ("status",)),
    ResourceInfo(
        "persistentvolumeclaims", "PersistentVolumeClaim", "", "v1", True, ("pvc",), ("status",)
    ),
    ResourceInfo("resourcequotas", "ResourceQuota", "", "v1", True, ("quota",), ("status",)),
    ResourceInfo("limitranges", "LimitRange", "", "v1", True, ("limits",)),
    ResourceInfo("endpoints", "Endpoints", "", "v1", True, ("ep",)),
    # Stored for `kubectl autoscale` and manifests; no controller acts on them.
    ResourceInfo(
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        "autoscaling",
        "v2",
        True,
        ("hpa",),
        ("status",),
        categories=("all",),
    ),
    ResourceInfo(
        "apiservices", "APIService", "apiregistration.k8s.io", "v1", False, (), ("status",)
    ),
    # Answered by the server itself, never stored (virtual.py).
    ResourceInfo("componentstatuses", "ComponentStatus", "", "v1", False, ("cs",), verbs=_READ),
    *(
        ResourceInfo(plural, kind, group, "v1", False, verbs=("create",))
        for plural, kind, group in (
            ("selfsubjectaccessreviews", "SelfSubjectAccessReview", "authorization.k8s.io"),
            ("selfsubjectrulesreviews", "SelfSubjectRulesReview", "authorization.k8s.io"),
            ("subjectaccessreviews", "SubjectAccessReview", "authorization.k8s.io"),
            ("selfsubjectreviews", "SelfSubjectReview", "authentication.k8s.io"),
        )
    ),
)

_BY_PLURAL: dict[str, ResourceInfo] = {r.plural: r for r in RESOURCES if r.storage}
# events.k8s.io/v1 events share storage with core events; served under their own group.
EVENTS_K8S_IO = ResourceInfo("events", "Event", "events.k8s.io", "v1", True, ("ev",))
# metrics.k8s.io, as metrics-server serves it: computed from pods, never stored (metricsapi.py).
METRICS = (
    ResourceInfo("nodes", "NodeMetrics", "metrics.k8s.io", "v1beta1", False, verbs=_READ),
    ResourceInfo("pods", "PodMetrics", "metrics.k8s.io", "v1beta1", True, verbs=_READ),
)


def lookup(plural: str) -> ResourceInfo | None:
    """The registered resource with this plural name, or None."""
    return _BY_PLURAL.get(plural)


def groups() -> dict[str, list[ResourceInfo]]:
    """Resources by group/version ("v1", "batch/v1", ...), in registry order."""
    out: dict[str, list[ResourceInfo]] = {}
    for r in (*RESOURCES, EVENTS_K8S_IO, *METRICS):
        out.setdefault(r.api_version, []).append(r)
    return out


def find(group_version: str, plural: str) -> ResourceInfo | None:
    """The resource served at `/api[s]/<group_version>/<plural>`, or None."""
    for r in groups().get(group_version, ()):
        if r.plural == plural:
            return r
    return None


# ----------------------------------------------------------------------------- discovery documents
def _resource_entries(info: ResourceInfo) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": info.plural,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        main["shortNames"] = list(info.short_names)
    if info.categories:
        main["categories"] = list(info.categories)
    out = [main]
    for sub in info.subresources:
        entry: dict[str, Any] = {
            "name": f"{info.plural}/{sub}",
            "singularName": "",
            "namespaced": info.namespaced,
        }
        if sub == "status":
            entry.update(kind=info.kind, verbs=["get", "patch", "update"])
        elif sub == "binding":
            entry.update(kind="Binding", verbs=["create"])
        elif sub == "eviction":
            entry.update(group="policy", version="v1", kind="Eviction", verbs=["create"])
        elif sub == "log":
            entry.update(kind="Pod", verbs=["get"])
        elif sub == "scale":
            entry.update(
                group="autoscaling", version="v1", kind="Scale", verbs=["get", "patch", "update"]
            )
        out.append(entry)
    return out


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def api_group_list() -> dict[str, Any]:
    """The legacy /apis document (every non-core group; its storage version preferred)."""
    by_group: dict[str, list[dict[str, str]]] = {}
    preferred: dict[str, dict[str, str]] = {}
    for gv, infos in groups().items():
        if "/" not in gv:
            continue
        group, version = gv.split("/")
        ver = {"groupVersion": gv, "version": version}
        by_group.setdefault(group, []).append(ver)
        if any(i.storage for i in infos):
            preferred.setdefault(group, ver)
    groups_out = [
        {"name": g, "versions": vs, "preferredVersion": preferred.get(g, vs[0])}
        for g, vs in by_group.items()
    ]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups_out}


def api_group(name: str) -> dict[str, Any] | None:
    """The APIGroup document served at /apis/<name>, or None."""
    for group in api_group_list()["groups"]:
        if group["name"] == name:
            return {"kind": "APIGroup", "apiVersion": "v1", **group}
    return None


def api_resource_list(group_version: str) -> dict[str, Any] | None:
    """The APIResourceList for one group/version, or None when it is not served."""
    infos = groups().get(group_version)
    if infos is None:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [e for info in infos for e in _resource_entries(info)],
    }
