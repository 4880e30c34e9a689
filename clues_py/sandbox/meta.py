"""API errors and the metadata rules every new object goes through.

`ApiError` carries a Kubernetes `Status`; the helpers build the exact messages kube-apiserver
uses (NotFound, AlreadyExists, Conflict, Invalid) so clients that match on them keep working.
`prepare_new` normalises a create request (namespace, generateName, name syntax). Storage is
`objects.py`'s; `ApiError` is re-exported there, where other modules import it from.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from clues_py.sandbox import resources
from clues_py.sandbox.selectors import (
    SelectorError,
    UnsupportedFieldLabel,
    parse_field_selector,
    parse_label_selector,
)

Obj = dict[str, Any]
Matcher = Callable[[Obj], bool] | None

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GEN_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # what the API server uses: no vowels, no 0/1/3


class ApiError(Exception):
    """An API failure with its HTTP code and Kubernetes reason (NotFound, Conflict, ...)."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> Obj:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            out["details"] = self.details
        out["code"] = self.code  # Go's field order: clients compare these bodies as text
        return out


# Day -> its date text, and the last second's text: the simulator stamps a new second at
# almost every instant, and strftime for each was a few per cent of a run. Dict get and set
# and the tuple swap are each atomic, so threads never pair one time with another's text.
_DAYS: dict[int, str] = {}
_DAYS_MAX = 4096
_LAST: tuple[int | None, str] = (None, "")
_TWO = tuple(f"{i:02d}" for i in range(60))


def rfc3339(ts: float) -> str:
    """`ts` (Unix seconds, UTC) as `2026-11-29T23:28:15Z`, the second rounded down."""
    global _LAST
    whole = int(ts // 1)
    last = _LAST
    if last[0] == whole:
        return last[1]
    day, second = divmod(whole, 86400)
    date = _DAYS.get(day)
    if date is None:
        if len(_DAYS) >= _DAYS_MAX:
            _DAYS.clear()
        date = _DAYS[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%dT")
    hours, second = divmod(second, 3600)
    minutes, second = divmod(second, 60)
    text = f"{date}{_TWO[hours]}:{_TWO[minutes]}:{_TWO[second]}Z"
    _LAST = (whole, text)
    return text


# msgspec, not the json module: every stored version is encoded once and copies are decoded
# from it, and msgspec does both 5-7 times faster (decision 0030). Its output is compact JSON
# like `json.dumps(separators=(",", ":"))`, except that non-ASCII text is written as UTF-8
# rather than escaped, as kube-apiserver writes it.
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def dumps(obj: Any) -> bytes:
    """The compact JSON encoding of a JSON-shaped value (TypeError for anything else)."""
    return _encode(obj)


def loads(raw: bytes) -> Any:
    """Decode JSON the store wrote itself (request bodies go through `json`, for its errors)."""
    return _decode(raw)


def clone(obj: Mapping[str, Any]) -> Obj:
    """A deep copy of a JSON-shaped object, and a check that it is one (tuples become lists)."""
    out: Obj = _decode(_encode(obj))
    return out


def resource_info(resource: str) -> resources.ResourceInfo:
    info = resources.lookup(resource)
    if info is None:
        raise ApiError(
            404, "NotFound", f"the server could not find the requested resource ({resource})"
        )
    return info


def _group_resource(info: resources.ResourceInfo) -> str:
    return f"{info.plural}.{info.group}" if info.group else info.plural


def _details(info: resources.ResourceInfo, name: str) -> Obj:
    # Go's StatusDetails field order: name, group, kind (clients compare bodies as text).
    d = {"name": name}
    if info.group:
        d["group"] = info.group
    d["kind"] = info.plural
    return d


# field.ErrorType -> the StatusCause reason and the words that open its message.
_CAUSES = {
    "invalid": ("FieldValueInvalid", "Invalid value"),
    "required": ("FieldValueRequired", "Required value"),
    "unsupported": ("FieldValueNotSupported", "Unsupported value"),
    "forbidden": ("FieldValueForbidden", "Forbidden"),
    "duplicate": ("FieldValueDuplicate", "Duplicate value"),
}


def go_value(value: Any) -> str:
    """A value as field errors print it: strings quoted, numbers bare, objects as JSON."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))


def field_error(kind: str, path: str, detail: str = "", value: Any = None) -> tuple[str, str, str]:
    """One field error (path, cause reason, message) as k8s.io/apimachinery's field.Error prints."""
    reason, words = _CAUSES[kind]
    if kind in ("invalid", "unsupported", "duplicate"):
        body = f"{words}: {go_value(value)}" + (f": {detail}" if detail else "")
    else:
        body = f"{words}: {detail}" if detail else words
    return path, reason, body


def invalid(
    info: resources.ResourceInfo, name: str, errors: list[tuple[str, str, str]]
) -> ApiError:
    """422 Invalid with kube-apiserver's message and causes (`errors` from `field_error`)."""
    texts = [f"{path}: {body}" for path, _, body in errors]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    kind = f"{info.kind}.{info.group}" if info.group else info.kind
    details: Obj = {"name": name}
    if info.group:
        details["group"] = info.group
    details["kind"] = info.kind
    details["causes"] = [
        {"reason": reason, "message": body, "field": path} for path, reason, body in errors
    ]
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {joined}', details)


def not_found(info: resources.ResourceInfo, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{_group_resource(info)} "{name}" not found', _details(info, name)
    )


def already_exists(info: resources.ResourceInfo, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_group_resource(info)} "{name}" already exists',
        _details(info, name),
    )


def conflict(info: resources.ResourceInfo, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_group_resource(info)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        _details(info, name),
    )


def matchers(
    info: resources.ResourceInfo, label_selector: str, field_selector: str
) -> tuple[Matcher, Matcher]:
    """Compiled selectors for `info`; bad syntax is a 400 BadRequest."""
    try:
        return (
            parse_label_selector(label_selector or ""),
            parse_field_selector(field_selector or "", info.fields),
        )
    except UnsupportedFieldLabel as e:
        raise ApiError(
            400,
            "BadRequest",
            f'Unable to find "{info.group}/{info.version}, Resource={info.plural}" that match '
            f'label selector "{label_selector}", field selector "{field_selector}": {e}',
        ) from None
    except SelectorError as e:
        raise ApiError(400, "BadRequest", f"unable to parse requirement: {e}") from None


def prepare_new(info: resources.ResourceInfo, obj: Obj, namespace: str | None) -> Obj:
    """A private copy of `obj` ready to store: scope, kind, name checked, server fields dropped."""
    obj = clone(obj)
    meta = obj.setdefault("metadata", {})
    if info.namespaced:
        body_ns = meta.get("namespace")
        if namespace and body_ns and body_ns != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        meta["namespace"] = namespace or body_ns or "default"
    else:
        meta.pop("namespace", None)
    for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
        meta.pop(f, None)
    obj["kind"], obj["apiVersion"] = info.kind, info.api_version
    name = meta.get("name") or ""
    if not name and meta.get("generateName"):
        name = meta["name"] = meta["generateName"] + "".join(random.choices(_GEN_CHARS, k=5))
    if not name:
        raise invalid(
            info,
            "",
            [field_error("required", "metadata.name", "name or generateName is required")],
        )
    if len(name) > 253 or not _NAME.match(name):
        detail = (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        )
        raise invalid(info, name, [field_error("invalid", "metadata.name", detail, name)])
    return obj
