"""Minimal OpenAPI v3 documents: just what kubectl needs to trust server-side field validation.

kubectl 1.32 validates manifests (`--validate=strict`, the default) by looking in
`/openapi/v3/<gv>` for a PATCH operation of the kind that accepts the `fieldValidation` query
parameter; if it finds one it sends `fieldValidation=Strict` and leaves validation to the server.
Otherwise it falls back to the protobuf-only `/openapi/v2`, which we do not serve. No schemas are
published, so kubectl computes apply patches from its built-in types. The discovery data comes
from `resources.py`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from clues_py.sandbox import resources

_PARAMS = [
    {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for n in ("dryRun", "fieldManager", "fieldValidation", "force")
]


def _gv_path(group_version: str) -> str:
    return f"api/{group_version}" if "/" not in group_version else f"apis/{group_version}"


def gv_document(group_version: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group/version (PATCH operations only), or None."""
    infos = resources.groups().get(group_version)
    if infos is None:
        return None
    paths: dict[str, dict[str, Any]] = {}
    for info in infos:
        scope = "/namespaces/{namespace}" if info.namespaced else ""
        op = {
            "operationId": f"patch{info.kind}",
            "parameters": _PARAMS,
            "requestBody": {
                "content": {
                    "application/json-patch+json": {"schema": {"type": "object"}},
                    "application/merge-patch+json": {"schema": {"type": "object"}},
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
        paths[f"/{_gv_path(group_version)}{scope}/{info.plural}/{{name}}"] = {"patch": op}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (clues sandbox)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _hash(group_version: str) -> str:
    doc = json.dumps(gv_document(group_version), sort_keys=True).encode()
    return hashlib.sha512(doc).hexdigest()[:64].upper()


def document(path: str) -> dict[str, Any] | None:
    """The document served at `path` (`/openapi/v3` or `/openapi/v3/<gv path>`), or None."""
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
