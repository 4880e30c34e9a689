"""Kubernetes backend: watches Nodes, Pods, Jobs, PDBs, Kueue and ProvisioningRequests; drains.

Wires `Informer`s (`k8s_informer`) into a `ClusterCache` (`k8s_cache`, with `k8s_hidden`
for the work the scheduler does not see yet) and serves `observe()` from it without I/O.
Kueue (`kueue.x-k8s.io`, v1beta2 or else v1beta1) and `autoscaling.x-k8s.io/v1`
ProvisioningRequests are optional: a 404 makes their informers synced and empty, probed
again every minute. The write verbs (cordon, drain through the policy/v1 Eviction API,
delete, ProvisioningRequest conditions) call the API directly. Uses only the official
`kubernetes` client, on a private `Configuration` so the process-wide default is never
touched.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
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
from clues_py.model import RequestUpdate

from .k8s_cache import ClusterCache
from .k8s_drain import drain_pods, ensure_cordoned
from .k8s_health import WatchHealth
from .k8s_informer import CONNECT_TIMEOUT, Informer, decode_list, loads
from .k8s_kueue import KUEUE_GROUP, KUEUE_VERSIONS, REQUEST_GROUP, REQUEST_VERSION, set_condition
from .k8s_pods import PodRecord, decode_pod_list, pod_record
from .k8s_taints import toggle_taint

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
        # Watch Kueue (Workloads, ClusterQueues, LocalQueues, ResourceFlavors); off when the
        # API is absent.
        kueue: bool = True
        # Watch ProvisioningRequests and PodTemplates (clues-py serves them as an autoscaler).
        provisioning_requests: bool = True

    def __init__(self, config: Config, context: PluginContext) -> None:
        self.config = config
        self.context = context
        cfg = load_configuration(config.kubeconfig, config.context, config.in_cluster)
        # Up to ten long watches plus the writes of the actuator's workers (drains, request
        # conditions) share the pool; a full pool only logs, but it logs every time.
        cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 0, 32)
        self._api_client = k8s.ApiClient(cfg)
        self.core = k8s.CoreV1Api(self._api_client)
        self.batch = k8s.BatchV1Api(self._api_client)
        self.policy = k8s.PolicyV1Api(self._api_client)
        self.custom = k8s.CustomObjectsApi(self._api_client)
        self.cache = ClusterCache(config.pending_grace)
        self.informers: list[Informer] = []
        self.health = WatchHealth(self.informers, config.relist_backoff_max)
        self._kueue: dict[str, _KueueLister] = {}

    # ------------------------------------------------------------------ watching

    def start(self, on_change: Callable[[], None]) -> None:
        c, cache = self.config, self.cache
        specs: list[tuple[str, Callable[..., Any], Any, Any]] = [
            ("nodes", self.core.list_node, cache.replace_nodes, cache.apply_node),
            ("pods", self.core.list_pod_for_all_namespaces, cache.replace_pods, cache.apply_pod),
            (
                "pdbs",
                self.policy.list_pod_disruption_budget_for_all_namespaces,
                cache.replace_pdbs,
                cache.apply_pdb,
            ),
        ]
        hidden = [("jobs", self.batch.list_job_for_all_namespaces)]
        if c.kueue:
            for plural in ("workloads", "clusterqueues", "localqueues", "resourceflavors"):
                self._kueue[plural] = _KueueLister(self.custom, plural)
                hidden.append((plural, self._kueue[plural]))
        if c.provisioning_requests:
            hidden.append(("provisioningrequests", self._list_requests))
            hidden.append(("podtemplates", self.core.list_pod_template_for_all_namespaces))
        specs += [(name, call, *cache.hidden_handlers(name)) for name, call in hidden]
        optional = {"provisioningrequests", *self._kueue}
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
                # Pods are most of a big cluster's list: a typed decoder reads only
                # the fields clues-py uses (decision 0029).
                decode=decode_pod_list if name == "pods" else decode_list,
            )
            self.informers.append(inf)
            inf.start()

    def _list_requests(self, **kwargs: Any) -> Any:
        """List/watch autoscaling.x-k8s.io/v1 ProvisioningRequests (404 when no CRD)."""
        return self.custom.list_cluster_custom_object(
            REQUEST_GROUP, REQUEST_VERSION, "provisioningrequests", **kwargs
        )

    def synced(self) -> bool:
        """Every resource listed and every watch up (False while any watch is down)."""
        return self.health.synced()

    def data_age(self) -> float:
        """Seconds since the caches were last known current (`k8s_health`)."""
        return self.health.data_age()

    def observe(self, now: float) -> Observation:
        self._note_kueue()
        return self.cache.observe(now)

    def observe_changes(self, now: float) -> tuple[Observation, Changes]:
        self._note_kueue()
        return self.cache.observe_changes(now)

    def _note_kueue(self) -> None:
        """Tell the cache whether the Kueue Workload API is served (its informer found it)."""
        workloads = next((i for i in self.informers if i.name == "workloads"), None)
        self.cache.kueue = workloads is not None and workloads.synced() and not workloads.absent

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

    def set_scale_down_taint(self, node: str, present: bool) -> None:
        """Add or remove the PreferNoSchedule scale-down taint, keeping the node's others.

        Read-modify-write under the Node's resourceVersion: a concurrent change (the
        node controller's own taints) makes the patch fail with 409 and we read again.
        """
        verb = "taint" if present else "untaint"
        for attempt in range(3):
            try:
                resp = self.core.read_node(node, **_RAW)
                try:
                    obj = loads(resp.data)
                finally:
                    resp.release_conn()
                new = toggle_taint((obj.get("spec") or {}).get("taints") or [], present)
                if new is None:
                    return
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                body = {"metadata": {"resourceVersion": rv}, "spec": {"taints": new}}
                _discard(self.core.patch_node(node, body, **_RAW))
                return
            except ApiException as exc:
                if exc.status == 404:
                    return  # gone: nothing to steer away from
                if exc.status == 409 and attempt < 2:
                    continue
                raise PluginError(f"{verb} {node}: {_status_message(exc)}") from exc
            except HTTPError as exc:
                raise _unreachable(f"{verb} {node}", exc) from exc

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

    def drain(self, node: str, may_evict: Collection[str] | None = None) -> DrainResult:
        """Cordon if needed, then evict every workload pod (those of `may_evict`, else
        nothing: `k8s_drain`); `done` once none is left. The pods are listed live, after
        the cordon, so one bound just before it is seen."""
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

        return drain_pods((pod_record(obj) for obj in self._pods_on(node)), evict, may_evict)

    def update_request(self, update: RequestUpdate) -> None:
        """Set one condition on a ProvisioningRequest's status (read, modify, replace)."""
        ns, name = update.namespace, update.name
        where = f"provisioningrequest {ns}/{name}"
        for attempt in range(3):
            try:
                obj = self.custom.get_namespaced_custom_object_status(
                    REQUEST_GROUP,
                    REQUEST_VERSION,
                    ns,
                    "provisioningrequests",
                    name,
                    _request_timeout=WRITE_TIMEOUT,
                )
                status = obj.setdefault("status", {}) or {}
                obj["status"] = status
                now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                if not set_condition(
                    status, update.type, update.status, update.reason, update.message, now
                ):
                    return
                _discard(
                    self.custom.replace_namespaced_custom_object_status(
                        REQUEST_GROUP,
                        REQUEST_VERSION,
                        ns,
                        "provisioningrequests",
                        name,
                        obj,
                        **_RAW,
                    )
                )
                return
            except ApiException as exc:
                if exc.status == 404:
                    return  # gone: Kueue deleted it, nothing to tell
                if exc.status == 409 and attempt < 2:
                    continue  # someone wrote in between: read again
                raise PluginError(f"{where}: set {update.type}: {_status_message(exc)}") from exc
            except HTTPError as exc:
                raise _unreachable(f"{where}: set {update.type}", exc) from exc


class _KueueLister:
    """List/watch one Kueue resource at the newest version the server serves.

    Kueue serves v1beta2 (storage) and the deprecated v1beta1; older releases only v1beta1.
    Every list (start, relist, re-probe after a 404) tries the newest first; watches use
    the version the last list found.
    """

    def __init__(self, custom: k8s.CustomObjectsApi, plural: str) -> None:
        self.custom = custom
        self.plural = plural
        self.version = KUEUE_VERSIONS[0]

    def __call__(self, **kwargs: Any) -> Any:
        if kwargs.get("watch"):
            return self.custom.list_cluster_custom_object(
                KUEUE_GROUP, self.version, self.plural, **kwargs
            )
        for version in KUEUE_VERSIONS:
            try:
                resp = self.custom.list_cluster_custom_object(
                    KUEUE_GROUP, version, self.plural, **kwargs
                )
            except ApiException as exc:
                if exc.status != 404 or version == KUEUE_VERSIONS[-1]:
                    raise
                continue
            self.version = version
            return resp
        raise AssertionError("unreachable")  # pragma: no cover
