"""API-side defaults and validation of the workload kinds the sandbox's controllers run.

What kube-apiserver does to a DaemonSet, Deployment, ReplicaSet, StatefulSet,
ReplicationController, CronJob or PriorityClass before storing it (defaulting,
selector/template checks, the immutable selector), and the Priority admission of
pods. Called by the verbs on create and update; the controllers then rely on the
defaults being there. Other kinds' rules live with the verbs (`verbs.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from clues_py.sandbox import cron, priority, strategy
from clues_py.sandbox.cells import format_selector
from clues_py.sandbox.meta import ApiError
from clues_py.sandbox.objects import ObjectStore
from clues_py.sandbox.resources import ResourceInfo
from clues_py.sandbox.selectors import SelectorError, parse_label_selector

Obj = dict[str, Any]

_GROUPED = {
    "daemonsets": "DaemonSet.apps",
    "deployments": "Deployment.apps",
    "replicasets": "ReplicaSet.apps",
    "statefulsets": "StatefulSet.apps",
    "replicationcontrollers": "ReplicationController",
    "cronjobs": "CronJob.batch",
}
_SET_SELECTOR = ("daemonsets", "deployments", "replicasets", "statefulsets")


def _invalid(resource: str, obj: Mapping[str, Any], detail: str) -> ApiError:
    name = (obj.get("metadata") or {}).get("name", "")
    return ApiError(
        422,
        "Invalid",
        f'{_GROUPED[resource]} "{name}" is invalid: {detail}',
        {"name": name, "kind": resource},
    )


def _pod_template_defaults(template: Obj) -> None:
    strategy.pod_spec_defaults(template.setdefault("spec", {}), template=True)


def _selector_matches_template(resource: str, obj: Obj) -> None:
    spec = obj.get("spec") or {}
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    selector = spec.get("selector")
    if resource == "replicationcontrollers":
        if any(labels.get(k) != v for k, v in (selector or {}).items()):
            raise _invalid(
                resource,
                obj,
                f"spec.template.metadata.labels: Invalid value: {json.dumps(labels)}: "
                "`selector` does not match template `labels`",
            )
        return
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        raise _invalid(resource, obj, "spec.selector: Required value")
    try:
        match = parse_label_selector(format_selector(selector))
    except SelectorError as e:
        raise _invalid(resource, obj, f"spec.selector: Invalid value: {e}") from None
    if match is not None and not match({"metadata": {"labels": labels}}):
        raise _invalid(
            resource,
            obj,
            f"spec.template.metadata.labels: Invalid value: {json.dumps(labels)}: "
            "`selector` does not match template `labels`",
        )


def _defaults(resource: str, obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if resource == "cronjobs":
        for k, v in (
            ("concurrencyPolicy", "Allow"),
            ("suspend", False),
            ("successfulJobsHistoryLimit", 3),
            ("failedJobsHistoryLimit", 1),
        ):
            spec.setdefault(k, v)
        if not spec.get("schedule"):
            raise _invalid(resource, obj, "spec.schedule: Required value")
        for field, check in (("schedule", cron.parse), ("timeZone", cron.zone)):
            value = spec.get(field)
            if value is None:
                continue
            try:
                check(value)
            except cron.CronError as e:
                raise _invalid(
                    resource, obj, f'spec.{field}: Invalid value: "{value}": {e}'
                ) from None
        return
    if resource == "daemonsets":
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", 1)
            ru.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        _pod_template_defaults(spec.setdefault("template", {}))
        return
    spec.setdefault("replicas", 1)
    if resource == "replicationcontrollers":
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        md = obj.setdefault("metadata", {})
        if not md.get("labels"):
            md["labels"] = dict(labels)
    if resource == "deployments":
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            ru.setdefault("maxSurge", "25%")
            ru.setdefault("maxUnavailable", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    elif resource == "statefulsets":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault(
            "persistentVolumeClaimRetentionPolicy",
            {"whenDeleted": "Retain", "whenScaled": "Retain"},
        )
    _pod_template_defaults(spec.setdefault("template", {}))


def prepare(resource: str, obj: Obj, store: ObjectStore, old: Obj | None = None) -> None:
    """Default and validate `obj` (new when `old` is None) for `resource`; raises ApiError."""
    if resource == "priorityclasses":
        if old is not None:
            if obj.get("value") != old.get("value"):
                name = obj["metadata"].get("name", "")
                raise ApiError(
                    422,
                    "Invalid",
                    f'PriorityClass.scheduling.k8s.io "{name}" is invalid: value: Forbidden: '
                    "may not be changed in an update.",
                )
            return
        priority.validate_class(obj, store.list("priorityclasses")[0])
    elif resource in _GROUPED:
        # (A new object's status is already the zero value of its type: verbs._prepare_create.)
        _defaults(resource, obj)
        if resource != "cronjobs":
            _selector_matches_template(resource, obj)
        if old is not None and resource in _SET_SELECTOR:
            before = (old.get("spec") or {}).get("selector")
            after = (obj.get("spec") or {}).get("selector")
            if before != after:
                raise _invalid(
                    resource,
                    obj,
                    f"spec.selector: Invalid value: {json.dumps(after)}: field is immutable",
                )


def check_delete(resource: str, name: str) -> None:
    """System PriorityClasses cannot be deleted."""
    if resource == "priorityclasses" and name in priority.SYSTEM_NAMES:
        raise ApiError(
            403,
            "Forbidden",
            f'priorityclasses.scheduling.k8s.io "{name}" is forbidden: this is a system priority '
            "class and cannot be deleted",
        )


def propagation(info: ResourceInfo, options: Mapping[str, Any], query: Mapping[str, str]) -> str:
    """The deletion propagation policy of a DELETE: asked for, or the kind's default.

    batch/v1 Jobs and v1 ReplicationControllers orphan their pods by default (kept for
    backward compatibility upstream; kubectl always asks for Background).
    """
    asked = options.get("propagationPolicy") or query.get("propagationPolicy")
    if asked:
        if asked not in ("Orphan", "Background", "Foreground"):
            raise ApiError(
                400,
                "BadRequest",
                f'propagationPolicy: Unsupported value: "{asked}": supported values: '
                '"Foreground", "Background", "Orphan"',
            )
        return str(asked)
    orphan = options.get("orphanDependents", query.get("orphanDependents"))
    if orphan is not None:
        return "Orphan" if orphan in (True, "true") else "Background"
    if info.plural in ("jobs", "replicationcontrollers"):
        return "Orphan"
    return "Background"
