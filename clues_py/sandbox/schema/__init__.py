"""The Kubernetes types the sandbox serves, loaded from `types.txt`.

`types.txt` is the project's own compact description of each message: JSON name, protobuf
number, type, presence and strategic-merge-patch tags of every field (its header explains the
format; the maintainer tool `tools/protobuf_schema.py` writes it from upstream field numbers and
Go tags). This module parses it once and answers "which message describes apiVersion/kind".
Its users: the protobuf codec (`protobuf/`), strategic merge patch (`patch.py`) and the OpenAPI
documents (`openapi.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class FieldSpec:
    json: str
    number: int
    type: str  # a scalar name or a message name
    repeated: bool
    map: bool
    pointer: bool  # explicit presence: a zero value on the wire is kept in JSON
    keep_zero: bool  # no omitempty: a zero value is kept in JSON
    inline: bool  # JSON merges the message's fields into the parent object
    merge_key: str | None = None  # strategic merge: None = replace, "" = set union, else the key
    retain_keys: bool = False  # strategic merge: `$retainKeys` clears fields the patch lacks


@dataclass(frozen=True)
class MessageSpec:
    name: str
    fields: tuple[FieldSpec, ...]
    by_number: dict[int, FieldSpec]
    list_wrapper: bool  # JSON is the array of `items`


def _parse_field(token: str) -> FieldSpec:
    name, _, rest = token.partition("=")
    parts = rest.split(":")
    flags = set(parts[2].split(",")) if len(parts) > 2 else set()
    merge = next((f for f in flags if f == "merge" or f.startswith("merge=")), None)
    return FieldSpec(
        json=name,
        number=int(parts[0]),
        type=parts[1],
        repeated="rep" in flags,
        map="map" in flags,
        pointer="ptr" in flags,
        keep_zero="keep" in flags,
        inline="inline" in flags,
        merge_key=None if merge is None else merge.partition("=")[2],
        retain_keys="retainKeys" in flags,
    )


@cache
def messages() -> dict[str, MessageSpec]:
    text = resources.files(__package__).joinpath("types.txt").read_text(encoding="utf-8")
    out: dict[str, MessageSpec] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        name, wrapper = tokens[0], len(tokens) > 1 and tokens[1] == "=list"
        fields = tuple(_parse_field(t) for t in tokens[1 + wrapper :])
        out[name] = MessageSpec(name, fields, {f.number: f for f in fields}, wrapper)
    return out


def group_alias(api_version: str) -> str:
    """apps/v1 -> apps.v1; v1 -> core.v1; rbac.authorization.k8s.io/v1 -> rbac.v1."""
    group, _, version = api_version.rpartition("/")
    return f"{group.split('.')[0] if group else 'core'}.{version}"


def message_for(api_version: str, kind: str) -> MessageSpec | None:
    """The message of this kind, or None when the sandbox has no protobuf form of it.

    Status, DeleteOptions and WatchEvent are meta.k8s.io types that every group version
    registers, so they travel under any apiVersion.
    """
    table = messages()
    if not kind or not api_version:
        return None
    return table.get(f"{group_alias(api_version)}.{kind}") or table.get(f"meta.v1.{kind}")


# apimachinery value types: JSON scalars, not objects (their zero values are left out here).
VALUE_TYPES = frozenset(
    {
        "resource.Quantity",
        "intstr.IntOrString",
        "meta.v1.Time",
        "meta.v1.MicroTime",
        "meta.v1.Duration",
        "runtime.RawExtension",
        "meta.v1.FieldsV1",
    }
)
_ZEROS: dict[str, object] = {"string": "", "bool": False, "bytes": ""}


def zero_json(name: str) -> dict[str, object]:
    """How Go marshals the zero value of message `name`: its fields that omitempty keeps.

    Plain fields without omitempty come out as 0, "" or false; struct fields always come out
    (omitempty does not apply to structs). A fresh status, e.g. a DaemonSet's, looks like this
    on a real server, and clients that require those fields depend on it.
    """
    spec = messages().get(name)
    out: dict[str, object] = {}
    if spec is None or spec.list_wrapper:
        return out
    for f in spec.fields:
        if f.pointer or f.repeated or f.map or f.type in VALUE_TYPES:
            continue
        if f.inline:
            out.update(zero_json(f.type))
        elif f.type in messages():
            out[f.json] = zero_json(f.type)
        elif f.keep_zero:
            out[f.json] = _ZEROS.get(f.type, 0)
    return out


def status_type(api_version: str, kind: str) -> str | None:
    """The message name of a kind's `status` field, or None."""
    spec = message_for(api_version, kind)
    field = next((f for f in spec.fields if f.json == "status"), None) if spec else None
    return field.type if field else None


@cache
def json_fields(name: str) -> dict[str, FieldSpec]:
    """The fields of message `name` by JSON name, inlined messages' fields included."""
    spec = messages().get(name)
    out: dict[str, FieldSpec] = {}
    for f in spec.fields if spec else ():
        if f.inline:
            out.update(json_fields(f.type))
        else:
            out[f.json] = f
    return out


def is_message(type_name: str) -> bool:
    """Whether a field type is a message with fields (not a scalar or a JSON value type)."""
    return type_name in messages() and type_name not in VALUE_TYPES
