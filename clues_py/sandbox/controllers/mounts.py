"""ConfigMaps and Secrets a pod needs before its containers can start, and the kubelet's words.

A non-optional `configMap`/`secret` volume (also inside `projected`) that does not
exist keeps the pod in ContainerCreating with a `FailedMount` event; a missing
non-optional `configMapKeyRef`/`secretKeyRef`/`envFrom` source gives
`CreateContainerConfigError`. Pure: `exists(resource, name)` answers for the pod's
namespace; retrying when the object appears is the kubelet's job (`kubelet.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Exists = Callable[[str, str], bool]
_WORDS = {"configmaps": "configmap", "secrets": "secret"}


@dataclass(frozen=True, slots=True)
class Missing:
    resource: str  # configmaps | secrets
    name: str
    waiting_reason: str  # ContainerCreating | CreateContainerConfigError
    message: str  # what the container status says
    event_reason: str  # FailedMount | Failed
    event_message: str


def _volume_sources(volume: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    if volume.get("configMap"):
        cm = volume["configMap"]
        yield "configmaps", cm.get("name", ""), bool(cm.get("optional"))
    if volume.get("secret"):
        sec = volume["secret"]
        yield "secrets", sec.get("secretName", ""), bool(sec.get("optional"))
    for src in (volume.get("projected") or {}).get("sources") or ():
        if src.get("configMap"):
            yield (
                "configmaps",
                src["configMap"].get("name", ""),
                bool(src["configMap"].get("optional")),
            )
        if src.get("secret"):
            yield "secrets", src["secret"].get("name", ""), bool(src["secret"].get("optional"))


def _env_sources(container: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    for env in container.get("env") or ():
        ref = env.get("valueFrom") or {}
        if ref.get("configMapKeyRef"):
            r = ref["configMapKeyRef"]
            yield "configmaps", r.get("name", ""), bool(r.get("optional"))
        if ref.get("secretKeyRef"):
            r = ref["secretKeyRef"]
            yield "secrets", r.get("name", ""), bool(r.get("optional"))
    for src in container.get("envFrom") or ():
        if src.get("configMapRef"):
            yield (
                "configmaps",
                src["configMapRef"].get("name", ""),
                bool(src["configMapRef"].get("optional")),
            )
        if src.get("secretRef"):
            yield (
                "secrets",
                src["secretRef"].get("name", ""),
                bool(src["secretRef"].get("optional")),
            )


def first_missing(pod: Mapping[str, Any], exists: Exists) -> Missing | None:
    """The first thing the pod waits for (volumes before environment), or None."""
    spec = pod.get("spec") or {}
    for volume in spec.get("volumes") or ():
        for resource, name, optional in _volume_sources(volume):
            if name and not optional and not exists(resource, name):
                what = f'{_WORDS[resource]} "{name}" not found'
                msg = f'MountVolume.SetUp failed for volume "{volume.get("name", "")}" : {what}'
                return Missing(resource, name, "ContainerCreating", "", "FailedMount", msg)
    for container in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ())):
        for resource, name, optional in _env_sources(container):
            if name and not optional and not exists(resource, name):
                what = f'{_WORDS[resource]} "{name}" not found'
                return Missing(
                    resource, name, "CreateContainerConfigError", what, "Failed", f"Error: {what}"
                )
    return None
