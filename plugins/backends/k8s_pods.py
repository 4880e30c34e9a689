"""Pods from the API server's JSON to `PodRecord`s, through a typed decoder (decision 0029).

A 150,000-pod cluster lists about 200 MB of JSON, of which clues-py reads a few fields per
pod. Parsing all of it into dicts (every default, container status and condition) and
freeing them again was more than half of cluesd's start-up. Here msgspec decodes a list
page straight into small structs (`PodDoc`) that declare only the fields read below; it
skips the rest without building Python objects. One function turns a `PodDoc` into a
`PodRecord`. A pod that arrives as a dict (a watch event, a test) is converted to the same
struct first, so there is one conversion, whatever the source.

The structs mirror the dict reads they replace: a field's default is what `.get` would
have returned for a missing key, and every leaf is `Any` (or JSON text parsed where it is
used), so a JSON null or an odd value reaches the same code as before. Only a wrong *shape* (a list where an object belongs)
fails the schema; that pod is dropped with a message naming it and the field, and the
other pods of its page are kept (`decode_pod_list`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from sys import intern
from typing import Any

import msgspec

from clues_py.model import Placement, PodInfo, Resources

from .k8s_convert import (
    MEMO_MAX,
    ConversionError,
    intern_value,
    object_key,
    parse_time,
    placement_of_parts,
    pod_requests,
)

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
CONSUMES_ANNOTATION = "autoscaling.x-k8s.io/consume-provisioning-request"
SAFE_TO_EVICT_ANNOTATIONS = (
    "cluster-autoscaler.kubernetes.io/safe-to-evict",
    "clues-py.io/safe-to-evict",
)
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})

# --------------------------------------------------------------------------- the schema
# Field names are the API's (camelCase), so the structs read like the JSON they decode.
# ruff: noqa: N815


class _Owner(msgspec.Struct, gc=False):
    kind: Any = ""
    name: Any = ""
    controller: Any = None


class _Meta(msgspec.Struct, gc=False):
    name: Any = ""
    namespace: Any = ""
    uid: Any = ""
    resourceVersion: Any = ""
    creationTimestamp: Any = None
    deletionTimestamp: Any = None
    labels: Any = None
    annotations: Any = None
    ownerReferences: list[_Owner] | None = None


# Parts kept as their JSON text (`Raw`, "" when absent): most pods of a cluster share a few
# request vectors, selectors and toleration lists, so the parsed value is looked up by the
# text and the text is parsed only the first time it is seen.
_ABSENT = msgspec.Raw(b"")


class _Container(msgspec.Struct, gc=False):
    name: Any = "?"
    resources: msgspec.Raw = _ABSENT
    restartPolicy: Any = None


class _Volume(msgspec.Struct, gc=False):
    # UNSET tells "absent" from null: the dict code asked `"emptyDir" in volume`.
    emptyDir: Any = msgspec.UNSET
    hostPath: Any = msgspec.UNSET


class _Affinity(msgspec.Struct, gc=False):
    nodeAffinity: Any = None


class _Spec(msgspec.Struct, gc=False):
    containers: list[_Container] | None = None
    initContainers: list[_Container] | None = None
    overhead: Any = None
    nodeName: Any = None
    nodeSelector: msgspec.Raw = _ABSENT
    tolerations: msgspec.Raw = _ABSENT
    affinity: _Affinity | None = None
    schedulingGates: Any = None
    volumes: list[_Volume | None] | None = None


class _Condition(msgspec.Struct, gc=False):
    type: Any = None
    status: Any = None
    reason: Any = None


class _Status(msgspec.Struct, gc=False):
    phase: Any = None
    # Parsed only when the text names the one reason read below: most pods' conditions
    # never say "Unschedulable", and four structs per pod were a tenth of the conversion.
    conditions: msgspec.Raw = _ABSENT


_CONDITIONS = msgspec.json.Decoder(list[_Condition] | None)


class PodDoc(msgspec.Struct, gc=False):
    """The parts of a Pod clues-py reads; everything else in the JSON is skipped."""

    metadata: _Meta | None = None
    spec: _Spec | None = None
    status: _Status | None = None


class _ListMeta(msgspec.Struct, gc=False):
    resourceVersion: Any = ""
    cont: Any = msgspec.field(default="", name="continue")


class _PodList(msgspec.Struct, gc=False):
    metadata: _ListMeta | None = None
    items: list[PodDoc] | None = None


class _LooseList(msgspec.Struct, gc=False):
    metadata: _ListMeta | None = None
    items: list[Any] | None = None


_PAGE = msgspec.json.Decoder(_PodList)
_LOOSE_PAGE = msgspec.json.Decoder(_LooseList)
_DOC = msgspec.json.Decoder(PodDoc)
_ENCODE = msgspec.json.Encoder().encode
_NO_META, _NO_SPEC, _NO_STATUS = _Meta(), _Spec(), _Status()


def decode_pod_list(data: bytes) -> tuple[list[Any], str, str]:
    """(items, continue token, resourceVersion) of one page of a pod list.

    The items are `PodDoc`s. When a pod of the page does not fit the schema, the page's
    items are the plain parsed objects instead: each is then converted on its own, so only
    the bad pod is dropped (`pod_record` names it and the field). Invalid JSON raises
    `msgspec.DecodeError` (a ValueError), as a broken list should."""
    try:
        page: _PodList | _LooseList = _PAGE.decode(data)
    except msgspec.ValidationError:
        page = _LOOSE_PAGE.decode(data)
    meta = page.metadata or _ListMeta()
    return page.items or [], str(meta.cont or ""), str(meta.resourceVersion or "")


def as_doc(pod: Mapping[str, Any] | PodDoc) -> PodDoc:
    """`pod` as a `PodDoc`; ConversionError (naming the pod and the field) if it has the
    wrong shape."""
    if isinstance(pod, PodDoc):
        return pod
    try:
        # Through JSON text, as a list page comes: the `Raw` parts need the text.
        return _DOC.decode(_ENCODE(pod))
    except (msgspec.ValidationError, TypeError) as exc:
        raise ConversionError(f"pod {object_key(pod) or '?'}: {exc}") from None


def doc_of_json(raw: bytes) -> PodDoc | None:
    """The `PodDoc` of a pod's JSON text (as an in-process store hands it out), or None when
    the text does not decode: `as_doc` of the object then says why."""
    try:
        return _DOC.decode(raw)
    except msgspec.ValidationError:
        return None


def pod_key(pod: Mapping[str, Any] | PodDoc) -> str:
    """`namespace/name`, as `object_key` gives it for the dict."""
    if not isinstance(pod, PodDoc):
        return object_key(pod)
    meta = pod.metadata or _NO_META
    ns = meta.namespace
    return f"{ns}/{meta.name}" if ns else str(meta.name)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class PodRecord:
    """A cached pod: its `PodInfo` plus the few raw facts the cache and drain need."""

    info: PodInfo
    uid: str
    resource_version: str
    terminating: bool  # deletionTimestamp set
    unschedulable: bool  # PodScheduled=False reason=Unschedulable
    gated: bool = False  # spec.schedulingGates: held back on purpose, not demand yet
    # ProvisioningRequest this pod consumes (autoscaling.x-k8s.io/consume-provisioning-request)
    consumes: str = ""

    @property
    def key(self) -> str:
        return self.info.key

    @property
    def terminal(self) -> bool:
        return self.info.phase in TERMINAL_PHASES

    @property
    def pending_candidate(self) -> bool:
        """Unbound, alive, ungated and Pending: demand once unschedulable or old enough.

        DaemonSet pods follow nodes and never call for one (as in Cluster Autoscaler): a
        pending one is waiting for room on its own node, not for a new node.
        """
        return (
            not self.info.node_name
            and not self.info.daemonset
            and not self.terminating
            and not self.gated
            and self.info.phase == "Pending"
        )


def pod_record(pod: Mapping[str, Any] | PodDoc) -> PodRecord:
    doc = as_doc(pod)
    meta = doc.metadata or _NO_META
    spec = doc.spec or _NO_SPEC
    status = doc.status or _NO_STATUS
    unschedulable = False
    if b"Unschedulable" in bytes(status.conditions):
        try:
            conditions = _CONDITIONS.decode(status.conditions) or ()
        except msgspec.ValidationError as exc:
            raise ConversionError(f"pod {pod_key(doc)}: status.conditions: {exc}") from None
        for c in conditions:
            if c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable":
                unschedulable = True
                break
    annotations = meta.annotations
    return PodRecord(
        info=_pod_info(meta, spec, status),
        uid=meta.uid,
        resource_version=meta.resourceVersion,
        terminating=bool(meta.deletionTimestamp),
        unschedulable=unschedulable,
        gated=bool(spec.schedulingGates),
        consumes=str(annotations.get(CONSUMES_ANNOTATION) or "") if annotations else "",
    )


def pod_info(pod: Mapping[str, Any] | PodDoc) -> PodInfo:
    doc = as_doc(pod)
    return _pod_info(doc.metadata or _NO_META, doc.spec or _NO_SPEC, doc.status or _NO_STATUS)


def _pod_info(meta: _Meta, spec: _Spec, status: _Status) -> PodInfo:
    # Namespaces, node names, phases and owners repeat across thousands of pods: one
    # string each (a parsed JSON value is a new string every time).
    namespace, name = intern(meta.namespace), meta.name
    annotations = meta.annotations or {}
    kind = owner = ""
    for ref in meta.ownerReferences or ():
        if ref.controller:
            kind, owner = ref.kind, ref.name
            break
    return PodInfo(
        namespace=namespace,
        name=name,
        requests=_requests(spec, namespace, name),
        placement=_placement(spec),
        node_name=intern(spec.nodeName or ""),
        phase=intern(status.phase or "Pending"),
        owner_kind=intern(kind),
        owner_name=intern(owner),
        created=parse_time(meta.creationTimestamp),
        daemonset=kind == "DaemonSet",
        mirror=MIRROR_ANNOTATION in annotations,
        protected=bool(annotations) and _is_protected(annotations),
        labels=_labels(meta.labels),
        local_storage=any(
            v is not None and (v.emptyDir is not msgspec.UNSET or v.hostPath is not msgspec.UNSET)
            for v in spec.volumes or ()
        ),
    )


# JSON text of a one-container pod's `resources` -> its requests; of (nodeSelector,
# tolerations) -> the placement of a pod without node affinity.
_REQUESTS: dict[bytes, Resources] = {}
_PLACEMENTS: dict[tuple[bytes, bytes], Placement] = {}


def _parsed(raw: msgspec.Raw) -> Any:
    return msgspec.json.decode(raw) if raw else None


def _requests(spec: _Spec, namespace: str, name: str) -> Resources:
    """`k8s_convert.pod_requests` of the spec; looked up by JSON text for one-container pods."""
    containers = spec.containers
    if containers and len(containers) == 1 and not spec.initContainers and not spec.overhead:
        key = bytes(containers[0].resources)
        got = _REQUESTS.get(key)
        if got is None:
            got = pod_requests(_spec_dict(spec), f"pod {namespace}/{name}")
            if len(_REQUESTS) < MEMO_MAX:
                _REQUESTS[key] = got
        return got
    return pod_requests(_spec_dict(spec), f"pod {namespace}/{name}")


def _spec_dict(spec: _Spec) -> dict[str, Any]:
    """The spec's resource fields as parsed JSON, for `pod_requests`."""

    def containers(cs: list[_Container] | None) -> list[dict[str, Any]] | None:
        if cs is None:
            return None
        return [
            {"name": c.name, "resources": _parsed(c.resources), "restartPolicy": c.restartPolicy}
            for c in cs
        ]

    return {
        "containers": containers(spec.containers),
        "initContainers": containers(spec.initContainers),
        "overhead": spec.overhead,
    }


def _placement(spec: _Spec) -> Placement:
    """`k8s_convert.placement_of` of the spec; looked up by JSON text without node affinity."""
    node_affinity = spec.affinity.nodeAffinity if spec.affinity is not None else None
    if node_affinity:
        return placement_of_parts(
            _parsed(spec.nodeSelector), _parsed(spec.tolerations), {"nodeAffinity": node_affinity}
        )
    key = (bytes(spec.nodeSelector), bytes(spec.tolerations))
    got = _PLACEMENTS.get(key)
    if got is None:
        got = placement_of_parts(_parsed(spec.nodeSelector), _parsed(spec.tolerations), None)
        if len(_PLACEMENTS) < MEMO_MAX:
            _PLACEMENTS[key] = got
    return got


def _is_protected(annotations: Mapping[str, Any]) -> bool:
    return any(
        str(annotations[k]).lower() == "false"
        for k in SAFE_TO_EVICT_ANNOTATIONS
        if k in annotations
    )


def _labels(labels: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if not labels:
        return ()
    return intern_value(tuple(sorted((str(k), str(v)) for k, v in labels.items())))
