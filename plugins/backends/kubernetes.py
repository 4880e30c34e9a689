"""Kubernetes backend: watches Nodes, Pods, Jobs, PDBs and Kueue Workloads; cordons, drains, deletes.

Wires five `Informer`s (`k8s_informer`; the Kueue one is optional: a 404 disables it)
into a `ClusterCache` (`k8s_cache`, which converts with `k8s_convert`) and serves `observe()` from it without I/O. The write
verbs (cordon, drain through the policy/v1 Eviction API, delete) call the API
directly. Uses only the official `kubernetes` client, on a private `Configuration`
so the process-wide default is never touched.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from clues_py.contracts import (
    DAY,
    DNS_LABEL,
    HOUR,
    Changes,
    DrainResult,
    Observation,
    Pattern,
    PluginContext,
    PluginError,
    Range,
)

from .k8s_cache import ClusterCache
from .k8s_convert import PodRecord, pod_record
from .k8s_drain import drain_pods, ensure_cordoned
from .k8s_health import WatchHealth
from .k8s_informer import CONNECT_TIMEOUT, Informer, loads

log = logging.getLogger(__name__)

WRITE_TIMEOUT = (CONNECT_TIMEOUT, 30.0)
# Writes skip the client's model deserialisation of the reply: we don't use it, and it
# rejects objects with fields the models declare required but servers may omit.
_RAW: dict[str, Any] = {"_preload_content": False, "_request_timeout": WRITE_TIMEOUT}


def _discard(resp: Any) -> None:
    resp.drain_conn()
    resp.release_conn()


def _status_message(exc: ApiException) -> str:
    """The message (and causes) of the Status body of a failed call, or the HTTP reason."""
    try:
        body = json.loads(exc.body or b"{}")
    except (ValueError, TypeError):
        return str(exc.reason)
    message = str(body.get("message") or exc.reason)
    # The PDB name and its numbers are in the causes, not the message.
    causes = [c.get("message") for c in (body.get("details") or {}).get("causes") or ()]
    return "; ".join([message, *(c for c in causes if c)])


def _unreachable(what: str, exc: Exception) -> PluginError:
    return PluginError(f"{what}: cannot reach the Kubernetes API server ({exc}); will retry")


def load_configuration(
    kubeconfig: str | None, context: str | None, in_cluster: bool
) -> k8s.Configuration:
    """A private client `Configuration`; raises PluginError naming the file and the fix."""
    cfg = k8s.Configuration()
    # No immediate urllib3 retries: the informers back off and re-list on their own, a
    # failed write is tried again on a later pass, a lease renewal every retry_period.
    # Its retries would only add a warning per attempt while the API server is away.
    cfg.retries = 0
    if in_cluster:
        try:
            k8s_config.load_incluster_config(client_configuration=cfg)
        except k8s_config.ConfigException as exc:
            raise PluginError(
                f"kubernetes backend: in_cluster is set but no service account is mounted ({exc}); "
                "run inside a pod or set `kubeconfig:` instead"
            ) from exc
        return cfg
    path = os.path.expanduser(kubeconfig or k8s_config.KUBE_CONFIG_DEFAULT_LOCATION)
    try:
        # KUBECONFIG may list several files; the loader reports those itself.
        if os.pathsep not in path and not os.path.exists(path):
            raise FileNotFoundError(path)
        k8s_config.load_kube_config(
            config_file=path, context=context, client_configuration=cfg, persist_config=False
        )
    except FileNotFoundError as exc:
        raise PluginError(
            f"kubernetes backend: kubeconfig {path} not found; set `kubeconfig:` to an existing "
            "file, export KUBECONFIG, or set `in_cluster: true` when running in a pod"
        ) from exc
    except (k8s_config.ConfigException, ValueError, TypeError, KeyError) as exc:
        raise PluginError(
            f"kubernetes backend: kubeconfig {path} is invalid ({exc}); check the file "
            f"(`kubectl --kubeconfig {path} config view`) and the `context:` option"
        ) from exc
    return cfg


class KubernetesBackend:
    """`clues_py.contracts.Backend` for a Kubernetes cluster."""

    @dataclass
    class Config:
        kubeconfig: str | None = None
        context: str | None = None
        in_cluster: bool = False
        # Unbound pods older than this count as demand even without Unschedulable.
        pending_grace: Annotated[float, Range(0, DAY)] = 5.0
        # Cap of the jittered reconnect back-off: after an outage the watches are back (and
        # the caches re-listed) at most this long after the API server is.
        relist_backoff_max: Annotated[float, Range(0.1, HOUR)] = 5.0
        # server-side timeoutSeconds of each watch
        watch_timeout: Annotated[int, Range(1, int(DAY))] = 300
        # gracePeriodSeconds for evictions
        eviction_grace: Annotated[int, Range(0, int(DAY))] | None = None
        # events and leases
        namespace: Annotated[str, Pattern(DNS_LABEL, "a namespace name", 63)] = "kube-system"
        # Watch Kueue Workloads (queued, not admitted = demand); off when the API is absent.
        kueue: bool = True

    def __init__(self, config: Config, context: PluginContext) -> None:
        self.config = config
        self.context = context
        cfg = load_configuration(config.kubeconfig, config.context, config.in_cluster)
        # Five long watches plus writes share the pool.
        cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 0, 12)
        self._api_client = k8s.ApiClient(cfg)
        self.core = k8s.CoreV1Api(self._api_client)
        self.batch = k8s.BatchV1Api(self._api_client)
        self.policy = k8s.PolicyV1Api(self._api_client)
        self.custom = k8s.CustomObjectsApi(self._api_client)
        self.cache = ClusterCache(config.pending_grace)
        self.informers: list[Informer] = []
        self.health = WatchHealth(self.informers, config.relist_backoff_max)

    # ------------------------------------------------------------------ watching

    def start(self, on_change: Callable[[], None]) -> None:
        c, cache = self.config, self.cache
        specs = [
            ("nodes", self.core.list_node, cache.replace_nodes, cache.apply_node),
            ("pods", self.core.list_pod_for_all_namespaces, cache.replace_pods, cache.apply_pod),
            ("jobs", self.batch.list_job_for_all_namespaces, cache.replace_jobs, cache.apply_job),
        ]
        optional = {"workloads"}
        specs += [
            (
                "pdbs",
                self.policy.list_pod_disruption_budget_for_all_namespaces,
                cache.replace_pdbs,
                cache.apply_pdb,
            ),
        ]
        if c.kueue:
            specs.append(
                ("workloads", self._list_workloads, cache.replace_workloads, cache.apply_workload)
            )
        for name, call, replace, apply in specs:
            inf = Informer(
                name,
                call,
                replace,
                apply,
                on_change,
                watch_timeout=c.watch_timeout,
                backoff_max=c.relist_backoff_max,
                optional=name in optional,
                on_state=self.health.changed,
            )
            self.informers.append(inf)
            inf.start()

    def _list_workloads(self, **kwargs: Any) -> Any:
        """List/watch kueue.x-k8s.io/v1beta1 Workloads (404 when Kueue is not installed)."""
        return self.custom.list_cluster_custom_object(
            "kueue.x-k8s.io", "v1beta1", "workloads", **kwargs
        )

    def synced(self) -> bool:
        """Every resource listed and every watch up (False while any watch is down)."""
        return self.health.synced()

    def data_age(self) -> float:
        """Seconds since the caches were last known current (`k8s_health`)."""
        return self.health.data_age()

    def observe(self, now: float) -> Observation:
        return self.cache.observe(now)

    def observe_changes(self, now: float) -> tuple[Observation, Changes]:
        return self.cache.observe_changes(now)

    def stop(self) -> None:
        for inf in self.informers:
            inf.stop()
        for inf in self.informers:
            inf.join(1.5 / max(len(self.informers), 1))
        self._api_client.close()

    # ------------------------------------------------------------------ writes

    def cordon(self, node: str, cordoned: bool = True) -> None:
        try:
            _discard(self.core.patch_node(node, {"spec": {"unschedulable": cordoned}}, **_RAW))
        except ApiException as exc:
            verb = "cordon" if cordoned else "uncordon"
            raise PluginError(f"{verb} {node}: {_status_message(exc)}") from exc
        except HTTPError as exc:
            raise _unreachable(f"cordon {node}", exc) from exc

    def delete_node(self, node: str) -> None:
        try:
            _discard(self.core.delete_node(node, **_RAW))
        except ApiException as exc:
            if exc.status != 404:
                raise PluginError(f"delete node {node}: {_status_message(exc)}") from exc
        except HTTPError as exc:
            raise _unreachable(f"delete node {node}", exc) from exc

    def _pods_on(self, node: str) -> list[dict[str, Any]]:
        try:
            resp = self.core.list_pod_for_all_namespaces(
                field_selector=f"spec.nodeName={node}",
                _preload_content=False,
                _request_timeout=WRITE_TIMEOUT,
            )
        except ApiException as exc:
            raise PluginError(f"drain {node}: listing its pods: {_status_message(exc)}") from exc
        except HTTPError as exc:
            raise _unreachable(f"drain {node}", exc) from exc
        try:
            items: list[dict[str, Any]] = loads(resp.data).get("items") or []
        finally:
            resp.release_conn()
        # A server that ignores the field selector must not make us evict other nodes' pods.
        return [p for p in items if (p.get("spec") or {}).get("nodeName") == node]

    def drain(self, node: str) -> DrainResult:
        """Cordon if needed, then evict every workload pod; `done` once none is left."""
        ensure_cordoned(self.cache, node, self.cordon)
        grace = self.config.eviction_grace

        def evict(pod: PodRecord) -> tuple[int, str] | None:
            info = pod.info
            body = k8s.V1Eviction(
                metadata=k8s.V1ObjectMeta(name=info.name, namespace=info.namespace),
                delete_options=k8s.V1DeleteOptions(grace_period_seconds=grace)
                if grace is not None
                else None,
            )
            try:
                _discard(
                    self.core.create_namespaced_pod_eviction(
                        info.name, info.namespace, body, **_RAW
                    )
                )
            except ApiException as exc:
                return exc.status, _status_message(exc)
            except HTTPError as exc:
                raise _unreachable(f"drain {node}: evicting {info.key}", exc) from exc
            return None

        return drain_pods((pod_record(obj) for obj in self._pods_on(node)), evict)
