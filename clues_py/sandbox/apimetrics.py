"""`/metrics` of the sandbox API server, in Prometheus text format, named as kube-apiserver's.

Counts every request (`apiserver_request_total` by verb, group, version, resource, subresource,
scope, component and code), times it (`apiserver_request_duration_seconds`), tracks open
watches and other long-running requests (`apiserver_longrunning_requests`) and in-flight
requests (`apiserver_current_inflight_requests`), and reports the stored objects per resource
(`apiserver_storage_objects`, read from the store at scrape time). The server calls
`observe`; serving the text is one GET.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from clues_py.sandbox.httpio import Request

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LABELS = ("verb", "group", "version", "resource", "subresource", "scope", "component")
_MUTATING = ("POST", "PUT", "PATCH", "DELETE")


def verb(req: Request) -> str:
    """The request's verb as kube-apiserver labels it (LIST and WATCH are GETs of collections)."""
    m = req.method
    if m == "GET" and req.info is not None and req.name is None:
        return "WATCH" if req.flag("watch") else "LIST"
    if m == "DELETE" and req.info is not None and req.name is None:
        return "DELETECOLLECTION"
    if m == "PATCH" and "apply-patch" in (req.headers.get("Content-Type") or ""):
        return "APPLY"
    return m


def _labels(req: Request) -> tuple[str, ...]:
    info = req.info
    if info is None:
        return (verb(req), "", "", "", "", "", "apiserver")
    if req.name is not None:
        scope = "resource"
    else:
        scope = "namespace" if req.namespace else "cluster"
    sub = req.sub or ""
    return (verb(req), info.group, info.version, info.plural, sub, scope, "apiserver")


class _Storage(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind.",
            labels=["resource"],
        )
        for resource, n in sorted(self._counts().items()):
            family.add_metric([resource], n)
        yield family


class ApiMetrics:
    """The API server's metrics, in a registry of their own (no global state)."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, dry run value, group, "
            "version, resource, scope, component, and HTTP response code.",
            [*_LABELS, "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, "
            "version, resource, subresource, scope and component.",
            _LABELS,
            buckets=(0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 10, 60),
            registry=self.registry,
        )
        self.longrunning = Gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, "
            "version, resource, scope and component.",
            _LABELS,
            registry=self.registry,
        )
        self.inflight = Gauge(
            "apiserver_current_inflight_requests",
            "Maximal number of currently used inflight request limit of this apiserver per "
            "request kind in last second.",
            ["request_kind"],
            registry=self.registry,
        )
        self.registry.register(_Storage(counts))

    def start(self, req: Request) -> float:
        """A request arrived (before routing); returns its start time for `observe`."""
        self.inflight.labels("mutating" if req.method in _MUTATING else "readOnly").inc()
        return time.perf_counter()

    def observe(self, req: Request, code: int, started: float, long_running: bool) -> None:
        """A request finished with HTTP `code` (watches and streamed logs are long-running)."""
        self.inflight.labels("mutating" if req.method in _MUTATING else "readOnly").dec()
        labels = _labels(req)
        self.requests.labels(*labels, str(code)).inc()
        if not long_running:
            self.duration.labels(*labels).observe(time.perf_counter() - started)

    @contextmanager
    def long_running(self, req: Request) -> Iterator[None]:
        """Count an open watch or log stream while it lasts."""
        gauge = self.longrunning.labels(*_labels(req))
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))
