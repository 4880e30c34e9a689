"""The pod `log` subresource: a synthetic log the sandbox writes from the container's life.

Sandbox containers run nothing, so their log is what happened to them:
`started on wn-1 at 2026-01-01T00:00:05Z`, then, once the container ended,
`ran 30 s, exit 0`. `follow=true` streams the first line, waits for the container to end (or
the pod to go, the client to hang up, the server to stop) and ends with the second.
`timestamps`, `tailLines` and `container` behave as in kube-apiserver, as do its errors
(no host assigned, container not valid, waiting to start, a name needed for several
containers). Routing is the server's; the pod's states are the kubelet's (`controllers/`).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

from clues_py.sandbox.httpio import Handler, Request
from clues_py.sandbox.objects import ApiError, ObjectStore

Obj = dict[str, Any]


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _container(pod: Obj, wanted: str | None) -> str:
    name = pod["metadata"]["name"]
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    if wanted:
        inits = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
        if wanted not in names and wanted not in inits:
            raise _bad(f"container {wanted} is not valid for pod {name}")
        return wanted
    if len(names) != 1:
        choices = " ".join(names)
        raise _bad(f"a container name must be specified for pod {name}, choose one of: [{choices}]")
    return str(names[0])


def _state(pod: Obj, container: str) -> Obj:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container:
            return dict(cs.get("state") or {})
    return {}


def _seconds(start: str, end: str) -> int:
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return max(0, round((b - a).total_seconds()))


def lines(pod: Obj, container: str) -> list[tuple[str, str]]:
    """(timestamp, text) of each log line the container has written so far."""
    name, node = pod["metadata"]["name"], (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise _bad(f"pod {name} does not have a host assigned")
    state = _state(pod, container)
    running, ended = state.get("running"), state.get("terminated")
    if running is None and ended is None:
        reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
        raise _bad(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    started = (running or ended or {}).get("startedAt") or ""
    out = [(started, f"started on {node} at {started}")]
    if ended is not None:
        finished = ended.get("finishedAt") or started
        ran = _seconds(started, finished)
        out.append((finished, f"ran {ran} s, exit {ended.get('exitCode', 0)}"))
    return out


def _render(entries: list[tuple[str, str]], timestamps: bool) -> bytes:
    return b"".join(
        ((ts.replace("Z", ".000000000Z") + " ") if timestamps else "").encode()
        + text.encode()
        + b"\n"
        for ts, text in entries
    )


def serve(store: ObjectStore, stopping: threading.Event, handler: Handler, req: Request) -> None:
    """Answer GET .../pods/NAME/log, streaming when follow=true."""
    assert req.name is not None
    pod = store.get("pods", req.name, req.namespace)
    container = _container(pod, req.query.get("container"))
    entries = lines(pod, container)
    timestamps = req.flag("timestamps")
    try:
        tail = int(req.query.get("tailLines", "-1"))
    except ValueError:
        raise _bad("tailLines must be an integer") from None
    if not req.flag("follow"):
        shown = entries[-tail:] if tail >= 0 else entries
        handler.send_raw(200, _render(shown if tail else [], timestamps), "text/plain")
        return
    handler.start_stream("text/plain")
    sent = entries[-tail:] if tail >= 0 else entries
    handler.write_chunk(_render(sent if tail else [], timestamps))
    sent_count = len(entries)
    after = int(pod["metadata"]["resourceVersion"])
    selector = f"metadata.name={req.name}"
    while sent_count < 2 and not stopping.is_set():
        try:
            events, after = store.wait_events("pods", after, req.namespace, "", selector, 1.0)
            for type_, raw in events:
                if type_ == "DELETED":
                    sent_count = 2  # the pod is gone: so is its log stream
                    break
                current = lines(json.loads(raw), container)
                handler.write_chunk(_render(current[sent_count:], timestamps))
                sent_count = len(current)
        except ApiError:
            break  # history expired or the pod lost its container: end like a closed stream
        if not events and handler.peer_closed():
            return
    handler.end_stream()
