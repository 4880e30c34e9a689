"""Patch formats the API server accepts: JSON merge, strategic merge, JSON patch.

Pure functions over plain dicts; they never touch the store. Strategic merge follows the patch
strategy of each field of the kind (`schema`: a Service's ports merge by `port`, a container's
by `containerPort`, containers by `name`, finalizers as a set) and the `$patch`,
`$setElementOrder`, `$deleteFromPrimitiveList` and `$retainKeys` directives; lists without a
strategy are replaced. Kinds the schema does not describe (custom resources) fall back to a
table of the usual merge keys by field name. The server maps `PatchError` to a 400 (bad patch)
or 422 (failed `test` operation).
"""

from __future__ import annotations

import copy
from typing import Any

from clues_py.sandbox import schema
from clues_py.sandbox.schema import FieldSpec

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# Kinds without a schema: list fields merged element-wise, by this key.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "conditions": "type",
    "ownerReferences": "uid",
    "imagePullSecrets": "name",
    "addresses": "type",
    "hostAliases": "ip",
    "readinessGates": "conditionType",
    "resourceClaims": "name",
    "secrets": "name",
}
# Primitive lists whose strategy is merge (set union) rather than replace.
MERGE_PRIMITIVE_LISTS = frozenset({"finalizers"})


class PatchError(ValueError):
    """A patch that cannot be applied; `code` is the HTTP status the server should answer."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge_patch(target: Any, patch: Any, message: str | None = None) -> Any:
    """Strategic merge patch of `target`, an instance of schema message `message` if known."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    fields = schema.json_fields(message) if message else None
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            drop = set(v or [])
            out[field] = [x for x in out.get(field) or [] if x not in drop]
            continue
        f = fields.get(k) if fields is not None else None
        sub = f.type if f is not None and schema.is_message(f.type) else None
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list):
            out[k] = _merge_list(k, out.get(k), v, f, fields is not None)
        elif isinstance(v, dict) and f is not None and f.map:
            merged_map = dict(out.get(k) or {})
            for mk, mv in v.items():
                if mv is None:
                    merged_map.pop(mk, None)
                else:
                    merged_map[mk] = strategic_merge_patch(merged_map.get(mk), mv, sub)
            out[k] = merged_map
        elif isinstance(v, dict):
            merged = strategic_merge_patch(out.get(k), v, sub)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        else:
            out[k] = v
    if isinstance(retain, list):
        keep = set(retain)
        out = {k: v for k, v in out.items() if k in keep}
    return out


def _merge_list(
    field: str, current: Any, patch: list[Any], spec: FieldSpec | None, described: bool
) -> list[Any]:
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [copy.deepcopy(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
    if described:
        key = spec.merge_key if spec is not None else None
        primitive = key == ""
        item_message = spec.type if spec is not None and schema.is_message(spec.type) else None
    else:
        key, primitive, item_message = MERGE_KEYS.get(field), field in MERGE_PRIMITIVE_LISTS, None
    items: list[Any] = list(current) if isinstance(current, list) else []
    if primitive:
        return items + [x for x in patch if x not in items]
    if key is None or not all(isinstance(x, dict) for x in patch):
        return copy.deepcopy(patch)
    for item in patch:
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        idx = next(
            (i for i, c in enumerate(items) if isinstance(c, dict) and c.get(key) == item[key]),
            None,
        )
        if item.get("$patch") == "delete":
            if idx is not None:
                del items[idx]
        elif idx is None:
            items.append(strategic_merge_patch({}, item, item_message))
        else:
            items[idx] = strategic_merge_patch(items[idx], item, item_message)
    return items


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise PatchError(f"jsonpatch: path {path!r} not found")
    return cur


def _add(doc: Any, path: str, value: Any, replace: bool) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(f"jsonpatch replace: path {path!r} not found")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise PatchError(f"jsonpatch: index in {path!r} out of range")
    else:
        raise PatchError(f"jsonpatch: parent of {path!r} is not a container")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise PatchError("jsonpatch remove: cannot remove the whole document")
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise PatchError(f"jsonpatch remove: path {path!r} not found")


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test) on a copy of `target`."""
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"json patch operation {op!r} needs 'op' and 'path'")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace"):
            if "value" not in op:
                raise PatchError(f"json patch {kind} at {path!r} needs a 'value'")
            doc = _add(doc, path, copy.deepcopy(op["value"]), kind == "replace")
        elif kind == "remove":
            _remove(doc, path)
        elif kind in ("move", "copy"):
            src = op.get("from")
            if src is None:
                raise PatchError(f"json patch {kind} at {path!r} needs 'from'")
            value = (
                _remove(doc, src)
                if kind == "move"
                else copy.deepcopy(_resolve(doc, _pointer(src), src))
            )
            doc = _add(doc, path, value, False)
        elif kind == "test":
            if _resolve(doc, _pointer(path), path) != op.get("value"):
                raise PatchError(f"jsonpatch test operation does not apply: path {path!r}", 422)
        else:
            raise PatchError(f"json patch: unknown operation {kind!r}")
    return doc


def apply_patch(content_type: str, target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a patch of the given Content-Type (parameters ignored) to a copy of `target`."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == MERGE_PATCH:
        result = merge_patch(target, patch)
    elif ctype == STRATEGIC_PATCH:
        spec = schema.message_for(str(target.get("apiVersion", "")), str(target.get("kind", "")))
        result = strategic_merge_patch(target, patch, spec.name if spec else None)
    elif ctype == JSON_PATCH:
        result = json_patch(target, patch)
    else:
        raise PatchError(
            f"the body of the request was in an unknown format - accepted media types include: {JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_PATCH}",
            415,
        )
    if not isinstance(result, dict):
        raise PatchError("the patch must produce an object")
    return result
