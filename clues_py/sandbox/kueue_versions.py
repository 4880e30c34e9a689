"""Kueue's two API versions: stored as v1beta2, served as v1beta2 and v1beta1.

Real Kueue stores `kueue.x-k8s.io/v1beta2` and converts the deprecated v1beta1 through a
conversion webhook. The sandbox does the same at its HTTP edge (`Conversion`): request
bodies (objects and patches) go to v1beta2, answers (objects, lists, tables, watch
frames) come back in the version asked for. The fields that differ: ClusterQueue
`cohort`/`cohortName` and `admissionChecks`/`admissionChecksStrategy`, Workload
`priorityClassSource`+`priorityClassName`/`priorityClassRef` and the misspelt
`accumulatedPastExexcutionTimeSeconds`, LocalQueue `flavorUsage`/`flavorsUsage`. The
readers (`cohort_of`, `check_names`) accept both spellings, since in-process callers may
store either.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

GROUP = "kueue.x-k8s.io"
STORAGE = "v1beta2"
Obj = dict[str, Any]


def cohort_of(cq: Obj) -> str:
    spec = cq.get("spec") or {}
    return str(spec.get("cohortName") or spec.get("cohort") or "")


def check_names(cq: Obj, flavors: Iterable[str] = ()) -> list[str]:
    """AdmissionChecks a ClusterQueue requires for a Workload using `flavors`."""
    spec = cq.get("spec") or {}
    used = set(flavors)
    out = [str(n) for n in spec.get("admissionChecks") or ()]
    for rule in (spec.get("admissionChecksStrategy") or {}).get("admissionChecks") or ():
        on = rule.get("onFlavors") or ()
        if not on or used.intersection(on):
            out.append(str(rule.get("name", "")))
    return list(dict.fromkeys(n for n in out if n))


def _rename(d: Obj | None, old: str, new: str) -> None:
    if d and old in d:
        d.setdefault(new, d.pop(old))


def to_storage(kind: str, obj: Obj) -> Obj:
    """A v1beta1 object (or patch document) in v1beta2 terms; `obj` is changed in place."""
    if obj.get("apiVersion", "").startswith(GROUP + "/"):
        obj["apiVersion"] = f"{GROUP}/{STORAGE}"
    spec, status = obj.get("spec"), obj.get("status")
    if kind == "ClusterQueue" and isinstance(spec, dict):
        _rename(spec, "cohort", "cohortName")
        names = spec.pop("admissionChecks", None)
        if names:
            rules = spec.setdefault("admissionChecksStrategy", {}).setdefault("admissionChecks", [])
            known = {r.get("name") for r in rules}
            rules.extend({"name": n} for n in names if n not in known)
        fungibility = spec.get("flavorFungibility") or {}
        for key, old in (("whenCanBorrow", "Borrow"), ("whenCanPreempt", "Preempt")):
            if fungibility.get(key) == old:
                fungibility[key] = "MayStopSearch"
    elif kind == "Workload":
        if isinstance(spec, dict) and spec.get("priorityClassName"):
            source = spec.pop("priorityClassSource", "")
            group, pkind = (
                ("kueue.x-k8s.io", "WorkloadPriorityClass")
                if source == "kueue.x-k8s.io/workloadpriorityclass"
                else ("scheduling.k8s.io", "PriorityClass")
            )
            spec["priorityClassRef"] = {
                "group": group,
                "kind": pkind,
                "name": spec.pop("priorityClassName"),
            }
        _rename(
            status, "accumulatedPastExexcutionTimeSeconds", "accumulatedPastExecutionTimeSeconds"
        )
    elif kind == "LocalQueue":
        _rename(status, "flavorUsage", "flavorsUsage")
    elif kind == "AdmissionCheck" and isinstance(spec, dict):
        spec.pop("retryDelayMinutes", None)
    return obj


def from_storage(kind: str, obj: Obj, version: str) -> Obj:
    """A stored v1beta2 object as `version` shows it; `obj` is changed in place."""
    obj["apiVersion"] = f"{GROUP}/{version}"
    if version == STORAGE:
        return obj
    spec, status = obj.get("spec"), obj.get("status")
    if kind == "ClusterQueue":
        _rename(spec, "cohortName", "cohort")
    elif kind == "Workload":
        ref = (spec or {}).pop("priorityClassRef", None) if isinstance(spec, dict) else None
        if ref and spec is not None:
            spec["priorityClassName"] = ref.get("name", "")
            spec["priorityClassSource"] = (
                "kueue.x-k8s.io/workloadpriorityclass"
                if ref.get("kind") == "WorkloadPriorityClass"
                else "scheduling.k8s.io/priorityclass"
            )
        _rename(
            status, "accumulatedPastExecutionTimeSeconds", "accumulatedPastExexcutionTimeSeconds"
        )
    elif kind == "LocalQueue":
        _rename(status, "flavorsUsage", "flavorUsage")
    return obj


def _json_patch_to_storage(kind: str, ops: list[Any]) -> list[Any]:
    renames = {
        "ClusterQueue": {"/spec/cohort": "/spec/cohortName"},
        "LocalQueue": {"/status/flavorUsage": "/status/flavorsUsage"},
    }.get(kind, {})
    for op in ops:
        if isinstance(op, dict):
            for old, new in renames.items():
                path = str(op.get("path", ""))
                if path == old or path.startswith(old + "/"):
                    op["path"] = new + path[len(old) :]
    return ops


class Conversion:
    """Converts one request's body in and its answer out (a served version != storage)."""

    def __init__(self, kind: str, version: str) -> None:
        self.kind, self.version = kind, version

    def body_in(self, body: bytes | None, content_type: str) -> bytes | None:
        if not body:
            return body
        try:
            if "yaml" in content_type:
                import yaml

                doc = yaml.safe_load(body)
            else:
                doc = json.loads(body)
        except ValueError:
            return body  # the verbs report the malformed body
        if isinstance(doc, list):
            doc = _json_patch_to_storage(self.kind, doc)
        elif isinstance(doc, dict):
            doc = to_storage(self.kind, doc)
        return json.dumps(doc).encode()

    def obj(self, o: Obj) -> Obj:
        if o.get("kind") == "Table":
            for row in o.get("rows") or ():
                if isinstance(row.get("object"), dict) and "spec" in row["object"]:
                    from_storage(self.kind, row["object"], self.version)
            return o
        if str(o.get("apiVersion", "")).startswith(GROUP + "/") and o.get("kind") == self.kind:
            return from_storage(self.kind, o, self.version)
        return o

    def raw(self, raw: bytes) -> bytes:
        return json.dumps(self.obj(json.loads(raw)), separators=(",", ":")).encode()

    def answer(self, doc: Any) -> Any:
        """A verb's answer (object, raw object or `ListBody`) in the served version."""
        if isinstance(doc, dict):
            return self.obj(doc)
        if isinstance(doc, bytes):
            return self.raw(doc)
        items = getattr(doc, "items", None)
        if isinstance(items, list):
            doc.items = [self.raw(r) for r in items]
        return doc

    def watching(self, handler: Any) -> Any:
        """`handler` for a watch: its frames come out in the served version."""
        return _ConvertingHandler(handler, self)

    def frame(self, line: bytes) -> bytes:
        """One watch frame `{"type":..,"object":..}`."""
        event = json.loads(line)
        if isinstance(event.get("object"), dict):
            event["object"] = self.obj(event["object"])
        return json.dumps(event, separators=(",", ":")).encode()


class _ConvertingHandler:
    """A watch's HTTP handler whose written frames are converted (everything else passes)."""

    def __init__(self, handler: Any, conv: Conversion) -> None:
        self._handler, self._conv = handler, conv

    def write_chunk(self, data: bytes) -> None:
        lines = [ln for ln in data.split(b"\n") if ln.strip()]
        self._handler.write_chunk(b"".join(self._conv.frame(ln) + b"\n" for ln in lines))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handler, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_handler", "_conv"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._handler, name, value)


def conversion(group: str, version: str, kind: str) -> Conversion | None:
    """The conversion a request to `group/version` needs, or None (storage version)."""
    if group != GROUP or version == STORAGE:
        return None
    return Conversion(kind, version)
