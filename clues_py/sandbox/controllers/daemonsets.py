"""The apps/v1 DaemonSet controller of the sandbox: one pod per eligible node.

As since Kubernetes 1.12, the pods are not bound by the controller: each gets a
required node affinity on its node's `metadata.name` and goes through the
scheduler, so it competes for room like any pod (a full node leaves it Pending,
Unschedulable) and wins over ordinary pods by priority (`priorityClassName:
system-node-critical`, resolved by the Priority admission like any pod's).

A node is eligible when it is Ready, matches the template's nodeSelector and
required node affinity, and carries no taint the pods do not tolerate (the
standard DaemonSet tolerations are added, as the real controller does). Pods on
nodes that went away, failed pods and duplicates are deleted; the next round
recreates what is missing. Rolling updates of a changed template are not
emulated. Starting the pods is the kubelet's job.
"""

from __future__ import annotations

import copy
from typing import Any

from clues_py.sandbox.controllers import scheduling
from clues_py.sandbox.controllers.common import (
    Obj,
    controller_uid,
    is_node_ready,
    key_of,
    owner_ref,
    short_hash,
)
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.podlife import is_pod_ready, is_terminal
from clues_py.sandbox.controllers.runtime import Runtime

SOURCE = "daemonset-controller"

DAEMON_TOLERATIONS: list[dict[str, Any]] = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def daemon_pod_spec(template_spec: dict[str, Any]) -> dict[str, Any]:
    """The template spec with the DaemonSet tolerations merged in."""
    spec = copy.deepcopy(template_spec)
    tolerations = list(spec.get("tolerations") or [])
    for t in DAEMON_TOLERATIONS:
        if t not in tolerations:
            tolerations.append(dict(t))
    spec["tolerations"] = tolerations
    spec.setdefault("restartPolicy", "Always")
    return spec


def target_node(pod: Obj) -> str:
    """The node a DaemonSet pod is for: its binding, else its metadata.name affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or ():
        for f in term.get("matchFields") or ():
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and f.get("values"):
                return str(f["values"][0])
    return ""


def should_run(node: Obj, spec: dict[str, Any]) -> bool:
    """Whether a DaemonSet pod with this (tolerations-merged) spec belongs on `node`."""
    info = scheduling.NodeInfo.from_k8s(node)
    placement = scheduling.pod_placement({"spec": spec})
    # Readiness is checked by the caller; unschedulable is tolerated by DAEMON_TOLERATIONS.
    return scheduling.static_reason(info, placement) is None


class DaemonSetController:
    resources = frozenset({"daemonsets", "nodes", "pods"})

    def __init__(self, runtime: Runtime, events: EventRecorder) -> None:
        self.rt = runtime
        self.events = events
        self._dirty: set[str] = set()
        self._by_uid: dict[str, str] = {}

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        obj = new or old or {}
        if resource == "daemonsets":
            uid = obj["metadata"].get("uid", "")
            if new is None:
                self._by_uid.pop(uid, None)
                return False
            self._by_uid[uid] = key_of(new)
            self._dirty.add(key_of(new))
            return True
        if resource == "nodes":
            if not self._by_uid:
                return False
            if old is not None and new is not None and _node_view(old) == _node_view(new):
                return False
            self._dirty.update(self._by_uid.values())
            return True
        if not self._by_uid:
            return False
        ds = self._by_uid.get(controller_uid(obj))
        if ds is None:
            return False
        self._dirty.add(ds)
        return True

    def sync(self) -> None:
        todo, self._dirty = sorted(self._dirty), set()
        for key in todo:
            ds = self.rt.cache.get("daemonsets", key)
            if ds is not None:
                self._reconcile(ds)

    def _reconcile(self, ds: Obj) -> None:
        md = ds["metadata"]
        template = (ds.get("spec") or {}).get("template") or {}
        spec = daemon_pod_spec(template.get("spec") or {})
        nodes = self.rt.cache.objects["nodes"]
        by_node: dict[str, list[Obj]] = {}
        for pod in self.rt.cache.pods_of(md.get("uid", "")):
            if (pod.get("metadata") or {}).get("deletionTimestamp"):
                continue
            by_node.setdefault(target_node(pod), []).append(pod)
        desired = current = ready = misscheduled = 0
        for name in sorted(nodes):
            node = nodes[name]
            pods = by_node.pop(name, [])
            live = [p for p in pods if not is_terminal(p)]
            for p in pods:
                if is_terminal(p):
                    self._delete(p)
            wanted = should_run(node, spec) and (is_node_ready(node) or bool(live))
            if not wanted:
                misscheduled += len(live)
                for p in live:
                    self._delete(p)
                continue
            desired += 1
            if live:
                current += 1
                ready += any(is_pod_ready(p) for p in live)
                for extra in live[1:]:
                    self._delete(extra)
            else:
                self._create(ds, template, spec, name)
        for pods in by_node.values():  # pods on nodes that no longer exist
            for p in pods:
                self._delete(p)
        status = {
            "currentNumberScheduled": current,
            "desiredNumberScheduled": desired,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": current,
            "observedGeneration": md.get("generation", 1),
        }
        if desired - ready:
            status["numberUnavailable"] = desired - ready
        if status != (ds.get("status") or {}):
            uid = md.get("uid")

            def put(d: Obj) -> None:
                if d["metadata"].get("uid") == uid:
                    d["status"] = status

            self.rt.mutate("daemonsets", md["name"], md.get("namespace"), put)

    def _create(self, ds: Obj, template: Obj, spec: Obj, node: str) -> None:
        md = ds["metadata"]
        tmd = template.get("metadata") or {}
        labels = dict(tmd.get("labels") or {})
        labels["controller-revision-hash"] = short_hash(repr(sorted(template.items())), length=10)
        labels["pod-template-generation"] = str(md.get("generation", 1))
        pod_spec = copy.deepcopy(spec)
        affinity = dict(pod_spec.get("affinity") or {})
        affinity["nodeAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
                ]
            }
        }
        pod_spec["affinity"] = affinity
        name = f"{md['name'][:57]}-{short_hash(md.get('namespace', ''), md['name'], node)}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": md.get("namespace"),
                "labels": labels,
                "annotations": dict(tmd.get("annotations") or {}),
                "ownerReferences": [owner_ref(ds, "apps/v1", "DaemonSet")],
            },
            "spec": pod_spec,
            "status": {"phase": "Pending"},
        }
        if self.rt.create("pods", pod, md.get("namespace")) is not None:
            self.events.record(
                ds, "Normal", "SuccessfulCreate", f"Created pod: {name}", source=SOURCE
            )

    def _delete(self, pod: Obj) -> None:
        pmd = pod["metadata"]
        self.rt.delete("pods", pmd["name"], pmd.get("namespace"))


def _node_view(node: Obj) -> tuple[Any, ...]:
    """The parts of a node that decide DaemonSet placement."""
    return (
        (node.get("metadata") or {}).get("labels"),
        (node.get("spec") or {}).get("taints"),
        is_node_ready(node),
    )
