"""Pure conversions from Kubernetes JSON objects (dicts, camelCase) to clues-py model values.

Nodes and PDBs arrive from the watch as parsed JSON; this module turns them into the
small immutable values the planner needs (`NodeRecord`, `DisruptionBudget`), and gives
every pod spec its requests and placement (`pod_requests`, `placement_of`). Whole pods are
`k8s_pods`' (a typed decoder); suspended Jobs, Kueue objects and ProvisioningRequests are
`k8s_kueue`'s. No I/O, no locks: caching the results per object version and serving them
is `k8s_cache`'s job, fetching the objects is `k8s_informer`'s.

Memory matters (a watch cache may hold 100k+ pods), so equal `Resources` and
`Placement` values and the strings many pods share (namespace, node, phase, owner) are
interned, and quantity strings are parsed once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from clues_py.model import (
    GPU_RESOURCE_NAMES,
    DisruptionBudget,
    Placement,
    QuantityError,
    Resources,
    SelectorRequirement,
    Taint,
    Toleration,
    cpu_millis,
    to_int,
)

Obj = Mapping[str, Any]

_SUPPORTED_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


class ConversionError(ValueError):
    """An object the API server sent that cannot be understood (names the object and field)."""


# --------------------------------------------------------------------------- interning

# Most pods of a cluster share a handful of request vectors and placements; keeping one
# instance of each saves hundreds of bytes per cached pod.
_INTERN: dict[Any, Any] = {}
_INTERN_MAX = 65536

_H = TypeVar("_H", bound=Hashable)
_V = TypeVar("_V")


def intern_value(value: _H) -> _H:
    got = _INTERN.get(value)
    if got is not None:
        # Keys equal to `value` are of its own type (Resources, Placement and label tuples never
        # compare equal across types), so the cached instance has the caller's type.
        return cast(_H, got)
    if len(_INTERN) >= _INTERN_MAX:
        _INTERN.clear()
    _INTERN[value] = value
    return value


@functools.lru_cache(maxsize=4096)
def _cpu(q: str | int | float) -> int:
    return cpu_millis(q)


@functools.lru_cache(maxsize=4096)
def _int(q: str | int | float) -> int:
    return to_int(q)


def resources_of(mapping: Obj | None, *, pods: int = 0, where: str = "") -> Resources:
    """`Resources.from_k8s` with cached quantity parsing; errors name `where`."""
    if not mapping:
        return Resources(pods=pods)
    try:
        gpus = sum(_int(mapping[n]) for n in GPU_RESOURCE_NAMES if n in mapping)
        return Resources(
            cpu_millis=_cpu(mapping["cpu"]) if "cpu" in mapping else 0,
            memory_bytes=_int(mapping["memory"]) if "memory" in mapping else 0,
            gpus=gpus,
            pods=pods if pods else (_int(mapping["pods"]) if "pods" in mapping else 0),
        )
    except QuantityError as exc:
        raise ConversionError(f"{where}: {exc}") from exc
    except TypeError:  # a list or a mapping where a quantity belongs
        bad = {k: v for k, v in mapping.items() if not isinstance(v, str | int | float)}
        raise ConversionError(
            f"{where}: quantities must be strings or numbers, got {bad}"
        ) from None


def _vmax(a: Resources, b: Resources) -> Resources:
    return Resources(
        max(a.cpu_millis, b.cpu_millis),
        max(a.memory_bytes, b.memory_bytes),
        max(a.gpus, b.gpus),
        max(a.pods, b.pods),
    )


def container_requests(container: Obj, where: str = "") -> Resources:
    """Requests of one container; a resource with a limit but no request defaults to the limit."""
    res = container.get("resources") or {}
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    merged = {**limits, **requests} if limits else requests
    return resources_of(merged, where=f"{where} container {container.get('name', '?')!r}")


# Parsed parts of pod specs by the raw items they come from (the specs of Jobs, Workloads
# and PodTemplates; pods themselves are looked up by JSON text in `k8s_pods`): a big
# cluster's pods come in few shapes, and parsing their quantities and tolerations was half
# of converting a pod list.
MEMO_MAX = 4096  # entries per table; past it, new shapes are converted every time
_REQUESTS: dict[Hashable, Resources] = {}  # one-container pods, by (requests, limits)
_PLACEMENTS: dict[Hashable, Placement] = {}  # no node affinity, by (selector, tolerations)


def _remembered(
    table: dict[Hashable, _V], key: Callable[[], Hashable], build: Callable[[], _V]
) -> _V:
    """`table[key()]`, built once; bad input (unhashable, wrong type) takes `build`'s errors."""
    try:
        k = key()
        hit = table.get(k)
    except (TypeError, AttributeError):
        return build()
    if hit is None:
        hit = build()
        if len(table) < MEMO_MAX:
            table[k] = hit
    return hit


def pod_requests(spec: Obj, where: str = "") -> Resources:
    """Effective pod request as the scheduler computes it, plus `pods=1`.

    max(sum(containers) + sum(sidecars), max over init containers of (init + sidecars
    started before it)) + overhead. Sidecars are init containers with restartPolicy Always.
    """
    containers: Any = spec.get("containers") or ()
    if len(containers) == 1 and not spec.get("initContainers") and not spec.get("overhead"):
        res = containers[0].get("resources") or {}
        return _remembered(
            _REQUESTS,
            lambda: (
                tuple((res.get("requests") or {}).items()),
                tuple((res.get("limits") or {}).items()),
            ),
            lambda: _pod_requests(spec, where),
        )
    return _pod_requests(spec, where)


def _pod_requests(spec: Obj, where: str) -> Resources:
    total = Resources()
    for c in spec.get("containers") or ():
        total = total + container_requests(c, where)
    sidecars = Resources()
    init_peak = Resources()
    for c in spec.get("initContainers") or ():
        req = container_requests(c, where)
        if c.get("restartPolicy") == "Always":
            sidecars = sidecars + req
            init_peak = _vmax(init_peak, sidecars)
        else:
            init_peak = _vmax(init_peak, sidecars + req)
    total = _vmax(total + sidecars, init_peak)
    if spec.get("overhead"):
        total = total + resources_of(spec["overhead"], where=f"{where} overhead")
    return intern_value(Resources(total.cpu_millis, total.memory_bytes, total.gpus, 1))


def placement_of(spec: Obj) -> Placement:
    """nodeSelector, tolerations and required node affinity of a pod spec."""
    return placement_of_parts(
        spec.get("nodeSelector"), spec.get("tolerations"), spec.get("affinity")
    )


def placement_of_parts(selector: Any, tolerations: Any, affinity: Any) -> Placement:
    """`placement_of` from a spec's three fields (as parsed from JSON)."""
    if not (affinity or {}).get("nodeAffinity"):
        return _remembered(
            _PLACEMENTS,
            lambda: (
                tuple((selector or {}).items()),
                tuple(tuple(t.items()) for t in tolerations or ()),
            ),
            lambda: _placement_of(selector, tolerations, affinity),
        )
    return _placement_of(selector, tolerations, affinity)


def _placement_of(node_selector: Any, toleration_list: Any, affinity: Any) -> Placement:
    selector = tuple(sorted((node_selector or {}).items()))
    tolerations = tuple(Toleration.from_k8s(t) for t in toleration_list or ())
    terms: list[tuple[SelectorRequirement, ...]] = []
    node_affinity = (affinity or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or ():
        # Gt/Lt and matchFields are rare and not modelled; leaving them out errs on the
        # side of "could fit" rather than making a pod look unplaceable forever.
        reqs = tuple(
            SelectorRequirement(e["key"], e["operator"], tuple(e.get("values") or ()))
            for e in term.get("matchExpressions") or ()
            if e.get("operator") in _SUPPORTED_OPERATORS
        )
        terms.append(reqs)
    if not selector and not tolerations and not terms:
        return intern_value(Placement())
    return intern_value(Placement(selector, tolerations, tuple(terms)))


@functools.lru_cache(maxsize=8192)
def parse_time(value: str | None) -> float:
    """RFC 3339 timestamp (`2024-01-02T03:04:05Z`) to epoch seconds; 0.0 when absent."""
    if not value:
        return 0.0
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise ConversionError(f"not an RFC 3339 timestamp: {value!r}") from exc


def object_key(obj: Obj) -> str:
    """`namespace/name` (or `name` for cluster-scoped objects)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else meta.get("name", "")


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A cached Node without its pods (the cache joins them into a `NodeObservation`)."""

    name: str
    resource_version: str
    ready: bool
    unschedulable: bool
    labels: tuple[tuple[str, str], ...]
    taints: tuple[Taint, ...]
    allocatable: Resources
    provider_id: str


def node_record(node: Obj) -> NodeRecord:
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    name = meta.get("name", "")
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )
    return NodeRecord(
        name=name,
        resource_version=meta.get("resourceVersion", ""),
        ready=ready,
        unschedulable=bool(spec.get("unschedulable")),
        labels=tuple(sorted((meta.get("labels") or {}).items())),
        taints=tuple(Taint.from_k8s(t) for t in spec.get("taints") or ()),
        allocatable=resources_of(status.get("allocatable"), where=f"node {name} allocatable"),
        provider_id=spec.get("providerID") or "",
    )


# --------------------------------------------------------------------------- pod disruption budgets


def disruption_budget(pdb: Obj) -> DisruptionBudget:
    """A policy/v1 PodDisruptionBudget: a null selector matches no pod, `{}` every pod of
    the namespace (policy/v1 semantics)."""
    meta = pdb.get("metadata") or {}
    selector = (pdb.get("spec") or {}).get("selector")
    status = pdb.get("status") or {}
    match_labels = tuple(sorted((selector or {}).get("matchLabels", {}).items()))
    exprs = tuple(
        SelectorRequirement(e.get("key", ""), e.get("operator", ""), tuple(e.get("values") or ()))
        for e in (selector or {}).get("matchExpressions") or ()
    )
    if selector is None:
        exprs = (SelectorRequirement("", "In", ()),)  # a requirement no pod meets
    return DisruptionBudget(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        match_labels=match_labels,
        match_expressions=exprs,
        disruptions_allowed=int(status.get("disruptionsAllowed") or 0),
    )
