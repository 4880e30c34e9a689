"""OpenAPI documents of the kinds the sandbox serves: v3 per group/version, and v2 as one.

Built from the sandbox's type description (`schema`): every field with its type, arrays,
maps, nested objects by reference, the strategic-merge-patch extensions
(`x-kubernetes-patch-merge-key`, `x-kubernetes-patch-strategy`) and each kind's
`x-kubernetes-group-version-kind`. That is what `kubectl explain` walks, what client-side
`kubectl apply` reads patch strategies from, and the PATCH operations with a
`fieldValidation` parameter tell kubectl to leave validation to the server. The description
has no prose, so fields carry no descriptions. Kinds without a description (custom
resources) are listed without a schema. Discovery is `resources.py`'s.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from clues_py.sandbox import resources
from clues_py.sandbox.schema import FieldSpec, message_for, messages

Obj = dict[str, Any]

_PARAMS = [
    {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for n in ("dryRun", "fieldManager", "fieldValidation", "force")
]
_SCALARS: dict[str, Obj] = {
    "string": {"type": "string"},
    "bytes": {"type": "string", "format": "byte"},
    "bool": {"type": "boolean"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "uint32": {"type": "integer", "format": "int32"},
    "uint64": {"type": "integer", "format": "int64"},
    "double": {"type": "number", "format": "double"},
    "float": {"type": "number", "format": "double"},
}
_VALUES: dict[str, Obj] = {
    "resource.Quantity": {"type": "string"},
    "intstr.IntOrString": {"type": "string", "format": "int-or-string"},
    "meta.v1.Time": {"type": "string", "format": "date-time"},
    "meta.v1.MicroTime": {"type": "string", "format": "date-time"},
    "meta.v1.Duration": {"type": "string"},
    "runtime.RawExtension": {"type": "object"},
    "meta.v1.FieldsV1": {"type": "object"},
}
_PREFIXES = {
    "meta": "io.k8s.apimachinery.pkg.apis.meta",
    "resource": "io.k8s.apimachinery.pkg.api.resource",
    "intstr": "io.k8s.apimachinery.pkg.util.intstr",
    "runtime": "io.k8s.apimachinery.pkg.runtime",
    "apiregistration": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
}


def definition_name(message: str) -> str:
    """core.v1.Pod -> io.k8s.api.core.v1.Pod, as Kubernetes names its OpenAPI definitions."""
    head, _, rest = message.partition(".")
    return f"{_PREFIXES.get(head, 'io.k8s.api.' + head)}.{rest}"


def _gvks() -> dict[str, list[Obj]]:
    """Message name -> the group/version/kinds served with it."""
    out: dict[str, list[Obj]] = {}
    for gv, infos in resources.groups().items():
        for info in infos:
            for kind in (info.kind, info.list_kind):
                spec = message_for(gv, kind)
                if spec is not None:
                    gvk = {"group": info.group, "kind": kind, "version": info.version}
                    if gvk not in out.setdefault(spec.name, []):
                        out[spec.name].append(gvk)
    return out


def _ref(message: str, v3: bool) -> Obj:
    path = "#/components/schemas/" if v3 else "#/definitions/"
    ref = {"$ref": path + definition_name(message)}
    return {"allOf": [ref]} if v3 else ref


def _field_schema(f: FieldSpec, v3: bool) -> Obj:
    item = dict(_SCALARS[f.type]) if f.type in _SCALARS else _ref(f.type, v3)
    if f.map:
        return {"type": "object", "additionalProperties": item}
    if not f.repeated:
        return item
    out: Obj = {"type": "array", "items": item}
    if f.merge_key is not None:
        out["x-kubernetes-patch-strategy"] = "merge,retainKeys" if f.retain_keys else "merge"
        if f.merge_key:
            out["x-kubernetes-patch-merge-key"] = f.merge_key
    return out


def _properties(message: str, v3: bool) -> Obj:
    props: Obj = {}
    for f in messages()[message].fields:
        if f.inline:
            props.update(_properties(f.type, v3))
        elif f.json != "-":
            props[f.json] = _field_schema(f, v3)
    return props


def _schema(message: str, v3: bool, gvks: list[Obj] | None) -> Obj:
    if message in _VALUES:
        return dict(_VALUES[message])
    spec = messages()[message]
    if spec.list_wrapper:
        return {"type": "array", "items": _field_schema(spec.fields[0], v3)["items"]}
    props = _properties(message, v3)
    if gvks:
        props = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, **props}
    out: Obj = {"type": "object", "properties": props}
    if gvks:
        out["x-kubernetes-group-version-kind"] = gvks
    return out


def _closure(roots: list[str]) -> list[str]:
    seen: list[str] = []
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in messages():
            continue
        seen.append(name)
        if name not in _VALUES:
            todo.extend(f.type for f in messages()[name].fields if f.type not in _SCALARS)
    return sorted(seen)


def _schemas(roots: list[str], v3: bool) -> Obj:
    gvks = _gvks()
    return {definition_name(m): _schema(m, v3, gvks.get(m)) for m in _closure(roots)}


def _roots(groups: dict[str, list[resources.ResourceInfo]]) -> list[str]:
    """The messages of these kinds and their lists, and of meta's Status and options."""
    roots = ["meta.v1.Status", "meta.v1.DeleteOptions", "meta.v1.WatchEvent"]
    for gv, infos in groups.items():
        for info in infos:
            for kind in (info.kind, info.list_kind):
                spec = message_for(gv, kind)
                if spec is not None:
                    roots.append(spec.name)
    return roots


def _gv_path(group_version: str) -> str:
    return f"api/{group_version}" if "/" not in group_version else f"apis/{group_version}"


def _patch_operation(info: resources.ResourceInfo) -> Obj:
    return {
        "operationId": f"patch{info.kind}",
        "parameters": _PARAMS,
        "requestBody": {
            "content": {
                "application/json-patch+json": {"schema": {"type": "object"}},
                "application/merge-patch+json": {"schema": {"type": "object"}},
                "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
                "application/apply-patch+yaml": {"schema": {"type": "object"}},
            },
            "required": True,
        },
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {
            "group": info.group,
            "version": info.version,
            "kind": info.kind,
        },
    }


@cache
def gv_document(group_version: str) -> Obj | None:
    """The OpenAPI v3 document of one group/version, or None when it is not served."""
    infos = resources.groups().get(group_version)
    if infos is None:
        return None
    paths: Obj = {}
    for info in infos:
        scope = "/namespaces/{namespace}" if info.namespaced else ""
        if "patch" in info.verbs:
            path = f"/{_gv_path(group_version)}{scope}/{info.plural}/{{name}}"
            paths[path] = {"patch": _patch_operation(info)}
    roots = _roots({group_version: infos})
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (clues sandbox)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": _schemas(roots, v3=True)},
    }


@cache
def v2_document() -> Obj:
    """The Swagger 2.0 document of everything served (`/openapi/v2`)."""
    roots = _roots(resources.groups())
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes (clues sandbox)", "version": "v1.32.0"},
        "paths": {},
        "definitions": _schemas(roots, v3=False),
    }


@cache
def _hash(group_version: str) -> str:
    doc = json.dumps(gv_document(group_version), sort_keys=True).encode()
    return hashlib.sha512(doc).hexdigest()[:64].upper()


@cache
def encoded(path: str) -> bytes | None:
    """`document(path)` as compact JSON, encoded once (kubectl fetches it on most commands)."""
    doc = document(path)
    return None if doc is None else json.dumps(doc, separators=(",", ":")).encode()


def document(path: str) -> Obj | None:
    """The document served at `path` (/openapi/v2, /openapi/v3, /openapi/v3/<gv path>), or None."""
    if path == "/openapi/v2":
        return v2_document()
    if path == "/openapi/v3":
        return {
            "paths": {
                _gv_path(gv): {"serverRelativeURL": f"/openapi/v3/{_gv_path(gv)}?hash={_hash(gv)}"}
                for gv in resources.groups()
            }
        }
    for gv in resources.groups():
        if path == f"/openapi/v3/{_gv_path(gv)}":
            return gv_document(gv)
    return None
