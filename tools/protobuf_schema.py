"""Write the sandbox's compact description of the Kubernetes types it serves.

Reads the field numbers and types from the upstream `generated.proto` files and the JSON names,
pointers, `omitempty` and inlining from the Go struct tags next to them, for every message
reachable from `ROOTS`, plus the strategic-merge-patch tags, and writes one line per message (format: the header of the output file,
`clues_py/sandbox/schema/types.txt`). Nothing upstream is copied; the output holds only the
facts the codec needs. Run it when the sandbox serves a new kind:

    python tools/protobuf_schema.py K8S_API_DIR APIMACHINERY_DIR KUBE_AGGREGATOR_DIR > types.txt

where the three directories are checkouts of k8s.io/api, k8s.io/apimachinery and
k8s.io/kube-aggregator (any recent release: field numbers never change).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOTS = [
    *(
        f"core.v1.{k}"
        for k in [
            "Pod",
            "Node",
            "Namespace",
            "Event",
            "ConfigMap",
            "Service",
            "ServiceAccount",
            "Secret",
            "ReplicationController",
            "PodTemplate",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "ComponentStatus",
            "ResourceQuota",
            "LimitRange",
            "Endpoints",
        ]
        for k in (k, k + "List")
    ),
    "core.v1.Binding",
    *(
        f"apps.v1.{k}{s}"
        for k in ("DaemonSet", "Deployment", "ReplicaSet", "StatefulSet", "ControllerRevision")
        for s in ("", "List")
    ),
    *(f"batch.v1.{k}{s}" for k in ("Job", "CronJob") for s in ("", "List")),
    "events.v1.Event",
    "events.v1.EventList",
    "coordination.v1.Lease",
    "coordination.v1.LeaseList",
    "policy.v1.PodDisruptionBudget",
    "policy.v1.PodDisruptionBudgetList",
    "policy.v1.Eviction",
    *(
        f"rbac.v1.{k}{s}"
        for k in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
        for s in ("", "List")
    ),
    "scheduling.v1.PriorityClass",
    "scheduling.v1.PriorityClassList",
    *(f"storage.v1.{k}{s}" for k in ("StorageClass", "CSINode", "CSIDriver") for s in ("", "List")),
    "authorization.v1.SelfSubjectAccessReview",
    "authorization.v1.SelfSubjectRulesReview",
    "authorization.v1.SubjectAccessReview",
    "authentication.v1.SelfSubjectReview",
    "authentication.v1.TokenReview",
    "autoscaling.v1.Scale",
    "autoscaling.v2.HorizontalPodAutoscaler",
    "autoscaling.v2.HorizontalPodAutoscalerList",
    "apiregistration.v1.APIService",
    "apiregistration.v1.APIServiceList",
    "meta.v1.Status",
    "meta.v1.DeleteOptions",
    "meta.v1.WatchEvent",
    "meta.v1.List",
]

SCALARS = {"string", "int32", "int64", "bool", "bytes", "double", "float", "uint32", "uint64"}
FIELD = re.compile(r"^\s*(optional|repeated)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*;")
MAP = re.compile(r"^\s*map<\s*(\w+)\s*,\s*(\S+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")
GO_FIELD = re.compile(r"^\s*(?:(\w+)\s+)?(\S+)\s+`([^`]*)`")


@dataclass
class Field:
    name: str
    number: int
    type: str
    repeated: bool = False
    map: bool = False
    flags: list[str] = field(default_factory=list)


@dataclass
class Message:
    name: str
    fields: list[Field]
    list_wrapper: bool = False


def alias(package: str) -> str:
    """k8s.io.api.core.v1 -> core.v1; k8s.io.apimachinery.pkg.apis.meta.v1 -> meta.v1."""
    parts = package.split(".")
    if parts[:3] == ["k8s", "io", "api"]:
        return ".".join(parts[3:])
    if parts[-1].startswith("v") and parts[-1][1:2].isdigit():
        return ".".join(parts[-2:])
    return parts[-1]


def parse_proto(path: Path) -> tuple[str, dict[str, Message]]:
    text = path.read_text()
    package = re.search(r"^package\s+([\w.]+);", text, re.M).group(1)  # type: ignore[union-attr]
    go_pkg = re.search(r'option go_package = "([^"]+)"', text).group(1)  # type: ignore[union-attr]
    messages: dict[str, Message] = {}
    current: Message | None = None
    for line in text.splitlines():
        m = re.match(r"^message (\w+) \{", line)
        if m:
            current = Message(f"{alias(package)}.{m.group(1)}", [])
            messages[current.name] = current
            continue
        if current is None:
            continue
        if line.startswith("}"):
            current = None
            continue
        fm, mm = FIELD.match(line), MAP.match(line)
        if fm:
            label, typ, name, num = fm.groups()
            current.fields.append(Field(name, int(num), qualify(typ, package), label == "repeated"))
        elif mm:
            key, val, name, num = mm.groups()
            assert key == "string", (path, line)
            current.fields.append(Field(name, int(num), qualify(val, package), map=True))
    return go_pkg, messages


def qualify(typ: str, package: str) -> str:
    if typ in SCALARS:
        return typ
    if typ.startswith("."):
        pkg, _, name = typ[1:].rpartition(".")
        return f"{alias(pkg)}.{name}"
    return f"{alias(package)}.{typ}"


def parse_go(directory: Path) -> tuple[dict[str, dict[int, tuple[str, list[str]]]], set[str]]:
    """Per struct: protobuf number -> (json name, flags); and the names of `[]T` types."""
    structs: dict[str, dict[int, tuple[str, list[str]]]] = {}
    slices: set[str] = set()
    for path in sorted(directory.glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        current: dict[int, tuple[str, list[str]]] | None = None
        for line in path.read_text().splitlines():
            m = re.match(r"^type (\w+) struct \{", line)
            if m:
                current = structs.setdefault(m.group(1), {})
                continue
            m = re.match(r"^type (\w+) \[\](\w+)$", line)
            if m:
                slices.add(m.group(1))
            if current is None:
                continue
            if line.startswith("}"):
                current = None
                continue
            g = GO_FIELD.match(line)
            if not g or "protobuf:" not in g.group(3):
                continue
            go_type, tags = g.group(2), g.group(3)
            number = re.search(r'protobuf:"\w+,(\d+),', tags)
            if number is None:
                continue
            num = int(number.group(1))
            js = re.search(r'json:"([^"]*)"', tags)
            parts = (js.group(1) if js else "").split(",")
            flags = []
            if g.group(1) is None and (not parts[0] or "inline" in parts):
                flags.append("inline")
            if go_type.startswith("*"):
                flags.append("ptr")
            if "omitempty" not in parts and "inline" not in flags:
                flags.append("keep")
            strategy = re.search(r'patchStrategy:"([^"]*)"', tags)
            key = re.search(r'patchMergeKey:"([^"]*)"', tags)
            for word in strategy.group(1).split(",") if strategy else []:
                if word == "merge":
                    flags.append(f"merge={key.group(1)}" if key else "merge")
                elif word == "retainKeys":
                    flags.append("retainKeys")
            current[num] = (parts[0], flags)
    return structs, slices


def main(api: Path, machinery: Path, aggregator: Path) -> None:
    protos = [
        *api.glob("*/*/generated.proto"),
        machinery / "pkg/apis/meta/v1/generated.proto",
        machinery / "pkg/api/resource/generated.proto",
        machinery / "pkg/util/intstr/generated.proto",
        machinery / "pkg/runtime/generated.proto",
        aggregator / "pkg/apis/apiregistration/v1/generated.proto",
    ]
    roots = {
        "k8s.io/api": api,
        "k8s.io/apimachinery": machinery,
        "k8s.io/kube-aggregator": aggregator,
    }
    messages: dict[str, Message] = {}
    for proto in protos:
        go_pkg, found = parse_proto(proto)
        base = next(d for prefix, d in roots.items() if go_pkg.startswith(prefix + "/"))
        structs, slices = parse_go(
            base / go_pkg.split("/", 2)[2] if go_pkg.count("/") > 1 else base
        )
        for msg in found.values():
            short = msg.name.rsplit(".", 1)[1]
            info = structs.get(short, {})
            msg.list_wrapper = short in slices
            for f in msg.fields:
                json_name, flags = info.get(f.number, (f.name, []))
                f.name = json_name or f.name
                f.flags = flags
        messages.update(found)
    todo, seen = list(ROOTS), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for f in messages[name].fields:
            if f.type not in SCALARS:
                todo.append(f.type)
    print("# The Kubernetes types the sandbox serves (written by tools/protobuf_schema.py).")
    print("# One message per line: NAME[ =list] FIELD...; FIELD is json=number:type[:flags].")
    print("# type: a scalar (string int32 int64 bool bytes double float) or a message NAME;")
    print("# flags: rep (repeated), map (map<string,type>), ptr (Go pointer: a zero value is")
    print("# kept), keep (no omitempty: a zero value is kept), inline (JSON merges it into the")
    print("# parent), merge[=KEY] and retainKeys (strategic merge patch). `=list` marks a")
    print("# message that is a JSON array of its `items`.")
    for name in sorted(seen):
        msg = messages[name]
        out = [name + (" =list" if msg.list_wrapper else "")]
        for f in sorted(msg.fields, key=lambda f: f.number):
            flags = (["rep"] if f.repeated else []) + (["map"] if f.map else []) + f.flags
            out.append(f"{f.name}={f.number}:{f.type}" + (":" + ",".join(flags) if flags else ""))
        print(" ".join(out))


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:4]))
