"""Kubernetes Events written by the sandbox controllers (Scheduled, FailedScheduling, Started...).

Repeats of the same reason and message for the same object bump `count` on one
Event, as the real event recorder aggregates, so a busy sandbox does not flood
`kubectl get events`. What to record is each controller's decision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from clues_py.sandbox.controllers.common import Obj, rfc3339, short_hash
from clues_py.sandbox.objects import ApiError, ObjectStore

log = logging.getLogger(__name__)


class EventRecorder:
    def __init__(self, store: ObjectStore, now: Callable[[], float], enabled: bool = True) -> None:
        self.store = store
        self.now = now
        self.enabled = enabled

    def record(
        self, obj: Mapping[str, Any], type_: str, reason: str, message: str, *, source: str
    ) -> None:
        if not self.enabled:
            return
        md = obj.get("metadata") or {}
        ns = md.get("namespace") or "default"
        name = f"{md.get('name', '')}.{short_hash(md.get('uid', ''), reason, message, length=8)}"
        ts = rfc3339(self.now())
        event: Obj = {
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion", "v1"),
                "kind": obj.get("kind", ""),
                "name": md.get("name", ""),
                "namespace": md.get("namespace", ""),
                "uid": md.get("uid", ""),
                "resourceVersion": md.get("resourceVersion", ""),
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": source},
            "reportingComponent": source,
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
        }
        try:
            self.store.create("events", event, ns)
        except ApiError as exc:
            if exc.code != 409:
                log.debug("event %s not recorded: %s", name, exc.message)
                return

            def bump(e: Obj) -> None:
                e["count"] = int(e.get("count") or 1) + 1
                e["lastTimestamp"] = ts

            try:
                self.store.mutate("events", name, ns, bump)
            except ApiError:
                pass
