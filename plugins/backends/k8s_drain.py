"""The drain rules both Kubernetes-shaped backends apply (the real one over HTTP, the
simulator's in-process one): which pods a drain must evict, and what a refusal means.

DaemonSet, mirror and finished pods stay; a pod already terminating counts until it is
gone; a protected pod blocks; 404 means already gone; 429 is a PodDisruptionBudget.
A pod the caller did not say it may evict (`may_evict`) is work that arrived after the
decision to drain (bound before the cordon): then nothing is evicted and the pod is
reported as arrived, so the daemon puts the node back in service (decision 0021).
How an eviction is sent is the caller's business (`evict`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from clues_py.contracts import DrainResult, PluginError

from .k8s_cache import ClusterCache
from .k8s_pods import PodRecord

# Send one eviction; None when accepted, else (HTTP status, message) of the refusal.
Evict = Callable[[PodRecord], tuple[int, str] | None]


def ensure_cordoned(cache: ClusterCache, node: str, cordon: Callable[[str, bool], None]) -> None:
    """Cordon unless the cache already shows it; a node already gone is nothing to drain."""
    rec = cache.node(node)
    if rec is None or not rec.unschedulable:
        try:
            cordon(node, True)
        except PluginError as exc:
            if "not found" not in str(exc).lower():
                raise


def drain_pods(
    pods: Iterable[PodRecord], evict: Evict, may_evict: Collection[str] | None = None
) -> DrainResult:
    movable = [p for p in pods if not (p.info.daemonset or p.info.mirror or p.terminal)]
    if may_evict is not None:
        arrived = sorted(p.key for p in movable if p.key not in may_evict and not p.terminating)
        if arrived:
            return DrainResult(done=False, arrived=tuple(arrived))
    blocked: dict[str, str] = {}
    remaining = 0
    for pod in movable:
        info = pod.info
        remaining += 1
        if pod.terminating:
            continue  # eviction already accepted; wait for it to go
        if info.protected:
            blocked[info.key] = 'protected: safe-to-evict annotation is "false"'
            continue
        refused = evict(pod)
        if refused is None:
            continue
        code, message = refused
        if code == 404:
            remaining -= 1
        elif code == 429:
            blocked[info.key] = f"PodDisruptionBudget: {message}"
        else:
            blocked[info.key] = f"eviction failed ({code}): {message}"
    return DrainResult(done=remaining == 0, blocked=blocked)
