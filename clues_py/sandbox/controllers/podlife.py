"""Pure pod lifecycle for the emulated kubelet: annotations and status documents.

`sandbox.clues-py.io/duration` says how long the containers run ("120s", "2m",
"1m30s", "1.5" seconds); `sandbox.clues-py.io/exit-code` says how they end.
Without them the containers' commands decide (`commands.py`: `sleep 30`,
`sh -c "...; exit 3"`), and commands the sandbox cannot read run for the
kubelet's default duration (None: until deleted). Timers and store writes are
the kubelet controller's job (`kubelet.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clues_py.sandbox.controllers import commands
from clues_py.sandbox.controllers.common import ANNOTATION_PREFIX, Obj, rfc3339

DURATION_ANNOTATION = ANNOTATION_PREFIX + "duration"
EXIT_CODE_ANNOTATION = ANNOTATION_PREFIX + "exit-code"

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


class AnnotationError(ValueError):
    """A sandbox annotation with a value the kubelet cannot use."""


def _seconds(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        pass
    body = s[:-1]
    if s[-1:] == "s" and body.replace(".", "", 1).isdecimal():
        return float(body)  # plain seconds ("3600.000000s", the simulator's): no regex
    pos, value = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        value += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return value if s and pos == len(s) else None


def parse_duration(text: str | int | float, what: str = "") -> float:
    """Seconds from a Go-style duration ("1m30s", "500ms") or a bare number of seconds.

    Errors name `what` (default: the duration annotation).
    """
    what = what or f"annotation {DURATION_ANNOTATION}"
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        seconds = _seconds(str(text).strip())
        if seconds is None:
            raise AnnotationError(
                f"{what}: {text!r} is not a duration "
                "(expected e.g. '120s', '2m', '1m30s' or '1.5' seconds)"
            )
        value = seconds
    if value < 0 or value != value:
        raise AnnotationError(f"{what}: {text!r} must be >= 0 seconds")
    return value


@dataclass(frozen=True, slots=True)
class Script:
    """What a pod's containers will do: run `duration` seconds (None: forever), then exit.

    `annotated` scripts end the pod whatever its restartPolicy; the others behave like
    real containers (`Always` restarts them in place).
    """

    duration: float | None
    exit_code: int = 0
    annotated: bool = True


def pod_script(pod: Mapping[str, Any], default_seconds: float | None = None) -> Script:
    """Read the sandbox annotations, else the commands; raises AnnotationError for bad ones."""
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    raw_code = ann.get(EXIT_CODE_ANNOTATION)
    code = 0
    if raw_code is not None:
        try:
            code = int(str(raw_code).strip())
        except ValueError:
            raise AnnotationError(
                f"annotation {EXIT_CODE_ANNOTATION}: {raw_code!r} is not an integer exit code"
            ) from None
    raw = ann.get(DURATION_ANNOTATION)
    if raw is not None:
        return Script(parse_duration(raw), code)
    if raw_code is not None:
        return Script(0.0, code)
    runs = [
        commands.run_of(c.get("command"), c.get("args"), default_seconds) for c in _containers(pod)
    ]
    if not runs:
        return Script(default_seconds, 0, annotated=False)
    # The pod ends when its last container does; the first failing container gives the code.
    ends = [r.seconds for r in runs]
    duration = None if any(e is None for e in ends) else max(e or 0.0 for e in ends)
    failed = next((r.code for r in runs if r.code != 0), 0)
    return Script(duration, failed, annotated=False)


def _containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((pod.get("spec") or {}).get("containers") or ())


def _container_status(
    c: Mapping[str, Any], uid: str, state: Obj, ready: bool, restarts: int
) -> Obj:
    return {
        "name": c.get("name", ""),
        "image": c.get("image", ""),
        "imageID": f"sandbox://{c.get('image', '')}",
        "containerID": f"sandbox://{uid[:12]}-{c.get('name', '')}",
        "ready": ready,
        "started": "running" in state,
        "restartCount": restarts,
        "state": state,
    }


def _set_pod_conditions(status: Obj, now: float, ready: bool, reason: str = "") -> None:
    wanted = {
        "Initialized": ("True", ""),
        "ContainersReady": ("True" if ready else "False", "" if ready else reason),
        "Ready": ("True" if ready else "False", "" if ready else reason),
        "PodScheduled": ("True", ""),
    }
    conds = [c for c in status.get("conditions") or () if c.get("type") not in wanted]
    old = {c.get("type"): c for c in status.get("conditions") or ()}
    for ctype, (value, why) in wanted.items():
        prev = old.get(ctype)
        c: Obj = {"type": ctype, "status": value}
        if prev and prev.get("status") == value:
            c["lastTransitionTime"] = prev.get("lastTransitionTime", rfc3339(now))
        else:
            c["lastTransitionTime"] = rfc3339(now)
        if why:
            c["reason"] = why
        conds.append(c)
    status["conditions"] = conds


def waiting_status(
    pod: Mapping[str, Any], now: float, reason: str, message: str, host_ip: str
) -> Obj:
    """A scheduled pod whose containers cannot start yet (ContainerCreating, config errors)."""
    status: Obj = dict(pod.get("status") or {})
    state: Obj = {"reason": reason}
    if message:
        state["message"] = message
    status.update(
        phase="Pending",
        hostIP=host_ip,
        hostIPs=[{"ip": host_ip}],
        startTime=status.get("startTime") or rfc3339(now),
        containerStatuses=[
            {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"waiting": dict(state)},
            }
            for c in _containers(pod)
        ],
    )
    _set_pod_conditions(status, now, ready=False, reason="ContainersNotReady")
    return status


def running_status(pod: Mapping[str, Any], now: float, pod_ip: str, host_ip: str) -> Obj:
    """Status of a pod whose containers just started."""
    uid = (pod.get("metadata") or {}).get("uid", "")
    status: Obj = dict(pod.get("status") or {})
    started = rfc3339(now)
    status.update(
        phase="Running",
        startTime=status.get("startTime") or started,
        podIP=pod_ip,
        podIPs=[{"ip": pod_ip}],
        hostIP=host_ip,
        hostIPs=[{"ip": host_ip}],
        qosClass=status.get("qosClass") or "BestEffort",
        containerStatuses=[
            _container_status(c, uid, {"running": {"startedAt": started}}, True, 0)
            for c in _containers(pod)
        ],
    )
    _set_pod_conditions(status, now, ready=True)
    return status


def backoff_seconds(restarts: int) -> float:
    """The kubelet's CrashLoopBackOff before restart number `restarts` (1 = the first)."""
    return 0.0 if restarts <= 1 else float(min(10 * 2 ** (restarts - 2), 300))


def crashed_status(pod: Mapping[str, Any], now: float, exit_code: int, delay: float) -> Obj:
    """Containers exited and will restart in place after `delay` (CrashLoopBackOff)."""
    md = pod.get("metadata") or {}
    status: Obj = dict(pod.get("status") or {})
    finished = rfc3339(now)
    statuses = []
    for cs in status.get("containerStatuses") or ():
        cs = dict(cs)
        started = ((cs.get("state") or {}).get("running") or {}).get("startedAt", finished)
        cs["restartCount"] = int(cs.get("restartCount") or 0) + 1
        cs["lastState"] = {
            "terminated": {
                "exitCode": exit_code,
                "reason": "Completed" if exit_code == 0 else "Error",
                "startedAt": started,
                "finishedAt": finished,
                "containerID": cs.get("containerID", ""),
            }
        }
        if delay > 0:
            message = (
                f"back-off {int(delay)}s restarting failed container={cs.get('name')} "
                f"pod={md.get('name')}_{md.get('namespace')}({md.get('uid', '')})"
            )
            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
            cs["ready"], cs["started"] = False, False
        else:
            cs["state"] = {"running": {"startedAt": finished}}
        statuses.append(cs)
    status["containerStatuses"] = statuses
    _set_pod_conditions(status, now, ready=delay <= 0, reason="ContainersNotReady")
    return status


def restarted_status(pod: Mapping[str, Any], now: float) -> Obj:
    """The containers run again after their back-off."""
    status: Obj = dict(pod.get("status") or {})
    statuses = []
    for cs in status.get("containerStatuses") or ():
        cs = dict(cs)
        cs.update(state={"running": {"startedAt": rfc3339(now)}}, ready=True, started=True)
        statuses.append(cs)
    status["containerStatuses"] = statuses
    _set_pod_conditions(status, now, ready=True)
    return status


def terminated_status(
    pod: Mapping[str, Any], now: float, exit_code: int, reason: str = "", message: str = ""
) -> Obj:
    """Status after all containers exited: Succeeded with code 0, else Failed."""
    uid = (pod.get("metadata") or {}).get("uid", "")
    status: Obj = dict(pod.get("status") or {})
    old = {cs.get("name"): cs for cs in status.get("containerStatuses") or ()}
    finished = rfc3339(now)
    statuses = []
    for c in _containers(pod):
        started = (
            ((old.get(c.get("name")) or {}).get("state") or {})
            .get("running", {})
            .get("startedAt", finished)
        )
        term = {
            "exitCode": exit_code,
            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
            "startedAt": started,
            "finishedAt": finished,
            "containerID": f"sandbox://{uid[:12]}-{c.get('name', '')}",
        }
        restarts = (old.get(c.get("name")) or {}).get("restartCount", 0)
        statuses.append(_container_status(c, uid, {"terminated": term}, False, restarts))
    status["phase"] = "Succeeded" if exit_code == 0 else "Failed"
    status["containerStatuses"] = statuses
    status.setdefault("startTime", finished)
    if message:
        status["message"] = message
    if reason and exit_code != 0:
        status["reason"] = reason
    _set_pod_conditions(status, now, ready=False, reason="PodCompleted")
    return status


def failed_status(pod: Mapping[str, Any], now: float, reason: str, message: str) -> Obj:
    """A pod killed from outside its containers (node lost, shutdown, bad annotation)."""
    status = terminated_status(pod, now, 137, reason="Error")
    status.update(phase="Failed", reason=reason, message=message)
    return status


def is_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False
