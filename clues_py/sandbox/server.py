"""HTTP front of the sandbox: the Kubernetes REST API over an `ObjectStore`, on 127.0.0.1.

Serves discovery, routing and chunked watches well enough for the official Python client and
kubectl; the verbs themselves are `verbs.py`, HTTP plumbing `httpio.py`. Object semantics
(versions, events, graceful pod deletion) belong to `objects.py`, patch formats to `patch.py`,
printing to `tables.py`, PDB arithmetic to `disruption.py`; controllers run elsewhere.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from clues_py.sandbox import (
    disruption,
    kueue_versions,
    metricsapi,
    openapi,
    podlogs,
    quota,
    resources,
    scale,
    virtual,
)
from clues_py.sandbox.apimetrics import CONTENT_TYPE as METRICS_TYPE
from clues_py.sandbox.apimetrics import ApiMetrics
from clues_py.sandbox.encoding import Body, encode_response
from clues_py.sandbox.httpio import Handler, HTTPServer, Request, wants_table
from clues_py.sandbox.objects import ApiError, ObjectStore
from clues_py.sandbox.verbs import Verbs
from clues_py.sandbox.watches import Watches

log = logging.getLogger(__name__)

Obj = dict[str, Any]
# (method, path, query, body) -> (status code, JSON document)
Route = Callable[[str, str, dict[str, str], bytes | None], tuple[int, Obj]]
VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-clues-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


class ApiServer(Verbs, Watches):
    """A threaded HTTP/1.1 Kubernetes API server over `store`; `start()` returns at once."""

    def __init__(
        self,
        store: ObjectStore,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_interval: float = 1.0,
        absent_groups: frozenset[str] = frozenset(),
    ):
        self.store = store
        self.bookmark_interval = bookmark_interval
        # API groups this server does not serve (their CRDs are "not installed"): 404.
        self.absent_groups = absent_groups
        self._routes: list[tuple[str, Route]] = []
        self._stopping = threading.Event()
        self._evict_lock = threading.Lock()  # budget check + delete must be atomic across requests
        self._httpd = HTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._httpd.api = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self._unsubscribe = store.subscribe(self._on_change)
        self.metrics = ApiMetrics(store.counts)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        # typeshed allows bytes hosts for any family; an AF_INET server reports a str host.
        host = cast(str, self._httpd.server_address[0])
        return f"http://{host}:{self.port}"

    def add_route(self, prefix: str, handler: Route) -> None:
        """Serve every path starting with `prefix` with `handler(method, path, query, body)`."""
        self._routes.append((prefix, handler))

    def start(self) -> ApiServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="sandbox-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._unsubscribe()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        if self._thread:
            self._thread.join(5)

    def _on_change(self, type_: str, resource: str, obj: Obj) -> None:
        # Stand-ins for the disruption and quota controllers: keep PDB and quota status current.
        ns = obj["metadata"].get("namespace", "default")
        if resource == "pods":
            disruption.refresh_budgets(self.store, ns, obj)
            quota.refresh(self.store, ns)
        elif resource == "poddisruptionbudgets" and type_ == "ADDED":
            disruption.refresh_budgets(self.store, ns)
        elif resource == "resourcequotas" and type_ == "ADDED":
            quota.refresh(self.store, ns)

    # ------------------------------------------------------------------------- dispatch
    def handle(self, handler: Handler, method: str) -> None:
        split = urlsplit(handler.path)
        path = split.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        body = None
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            body = handler.rfile.read(length)
        req = Request(method, path, query, body, handler.headers)
        started, code, streamed = self.metrics.start(req), 200, False
        try:
            for prefix, route in self._routes:
                if path.startswith(prefix):
                    code, sandbox_doc = route(method, path, query, body)
                    return handler.send_json(code, sandbox_doc)
            if self._route_static(handler, req):
                return
            self._parse(req)
            # Older served versions (Kueue's v1beta1) convert at this edge, as a webhook would.
            conv = req.info and kueue_versions.conversion(
                req.info.group, req.info.version, req.info.kind
            )
            if conv:
                req.body = conv.body_in(req.body, req.headers.get("Content-Type", ""))
            streamed = self._streamed(req)
            if streamed:
                with self.metrics.long_running(req):
                    return self._stream(conv.watching(handler) if conv else handler, req)
            code, doc = self._dispatch(req)
            self._send(handler, req, code, conv.answer(doc) if conv else doc)
        except ApiError as e:
            code = e.code
            self._send(handler, req, e.code, e.status())
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        except Exception as e:  # never leak a traceback to the client
            log.exception("sandbox API: %s %s failed", method, handler.path)
            code = 500
            err = ApiError(500, "InternalError", f"internal error: {type(e).__name__}")
            self._send(handler, req, 500, err.status())
        finally:
            self.metrics.observe(req, code, started, streamed)

    @staticmethod
    def _streamed(req: Request) -> bool:
        """Watches and followed logs: answered as streams, counted as long-running."""
        if req.info is None or req.method != "GET":
            return False
        if req.name is None:
            return req.flag("watch")
        return req.sub == "log"

    def _stream(self, handler: Handler, req: Request) -> None:
        if req.sub == "log":
            podlogs.serve(self.store, self._stopping, handler, req)
        elif "watch" not in req.info.verbs:  # type: ignore[union-attr]
            raise ApiError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        else:
            self._watch(handler, req)

    @staticmethod
    def _send(handler: Handler, req: Request, code: int, body: Body) -> None:
        ctype, payload = encode_response(req.headers.get("Accept"), body)
        handler.send_body(code, ctype, payload)

    def _route_static(self, handler: Handler, req: Request) -> bool:
        path = req.path
        if path in ("/healthz", "/readyz", "/livez") or path.startswith(
            ("/healthz/", "/readyz/", "/livez/")
        ):
            handler.send_text(200, b"ok")
            return True
        doc: Obj | None = None
        if req.method != "GET":
            return False
        if path == "/metrics":
            handler.send_raw(200, self.metrics.exposition(), METRICS_TYPE)
            return True
        if path == "/version":
            doc = VERSION
        elif path == "/api":
            doc = resources.api_versions()
        elif path == "/apis":
            doc = resources.api_group_list()
            doc["groups"] = [g for g in doc["groups"] if g["name"] not in self.absent_groups]
        elif path.startswith("/openapi/"):
            return self._openapi(handler, req)
        elif path.count("/") == 2 and path.startswith("/apis/"):
            group = path.split("/")[2]
            doc = None if group in self.absent_groups else resources.api_group(group)
        elif (
            path.count("/") == 2
            and path.startswith("/api/")
            or path.count("/") == 3
            and path.startswith("/apis/")
        ):
            gv = path.split("/", 2)[2]
            absent = gv.split("/")[0] in self.absent_groups
            doc = None if absent else resources.api_resource_list(gv)
        else:
            return False
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        handler.send_json(200, doc)
        return True

    @staticmethod
    def _openapi(handler: Handler, req: Request) -> bool:
        body = openapi.encoded(req.path)
        if body is None:
            raise ApiError(
                404, "NotFound", f"the server could not find the requested resource ({req.path})"
            )
        accept = req.headers.get("Accept") or "*/*"
        if not any(t in accept for t in ("json", "*/*", "application/*")):
            # kubectl asks /openapi/v2 as gnostic protobuf only; it falls back when refused.
            raise ApiError(
                406,
                "NotAcceptable",
                "only the following media types are accepted: application/json",
            )
        handler.send_raw(200, body)
        return True

    def _parse(self, req: Request) -> None:
        parts = req.path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3:
            gv, rest = parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            gv, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if len(rest) >= 3 and rest[0] == "namespaces" and resources.find(gv, rest[2]):
            req.namespace, rest = rest[1], rest[2:]
        info = resources.find(gv, rest[0])
        if info is not None and info.group in self.absent_groups:
            info = None
        if info is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if info.namespaced is False and req.namespace:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        req.info = info
        req.name = rest[1] if len(rest) > 1 else None
        req.sub = rest[2] if len(rest) > 2 else None
        if req.sub and req.sub not in info.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _dispatch(self, req: Request) -> tuple[int, Body]:
        info, m = req.info, req.method
        assert info is not None
        if req.sub is None:
            _check_verb(info, m, req.name)
        if info.plural in virtual.REVIEWS:
            body = req.document()
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the request body must be an object")
            return 201, virtual.review(info, body, req.headers)
        if info.plural == "componentstatuses":
            return self._component_statuses(req)
        if info.group == "metrics.k8s.io":
            selector = req.query.get("labelSelector", "")
            return 200, metricsapi.answer(
                self.store, info.plural, req.name, req.namespace, selector
            )
        if req.name is None:
            if m == "GET":
                return 200, self._list(req)
            if m == "POST":
                return self._create(req)
            if m == "DELETE":
                return 200, self._delete_collection(req)
        elif req.sub in (None, "status"):
            if m == "GET":
                if wants_table(req):
                    return 200, self._table(
                        req, [self.store.get(info.plural, req.name, req.namespace)], ""
                    )
                return 200, self.store.get_raw(info.plural, req.name, req.namespace)
            if m == "PUT":
                return 200, self._update(req)
            if m == "PATCH":
                return self._patch(req)
            if m == "DELETE" and req.sub is None:
                return 200, self._delete(req)
        elif req.sub == "scale":
            body = req.document() if m in ("PUT", "PATCH") else None
            ctype = req.headers.get("Content-Type", "")
            return 200, scale.handle(
                self.store, info, m, req.name, req.namespace, body, ctype, req.dry_run()
            )
        elif req.sub == "binding" and m == "POST":
            return 201, self._bind(req)
        elif req.sub == "eviction" and m == "POST":
            return 201, self._evict(req)
        raise ApiError(
            405,
            "MethodNotAllowed",
            f"the server does not allow this method on the requested resource ({m})",
        )

    def _component_statuses(self, req: Request) -> tuple[int, Body]:
        if req.name is not None:
            cs = virtual.component_status(req.name)
            if cs is None:
                raise ApiError(
                    404,
                    "NotFound",
                    f'componentstatuses "{req.name}" not found',
                    {"name": req.name, "kind": "componentstatuses"},
                )
            items = [cs]
        else:
            items = virtual.component_statuses()
        if wants_table(req):
            return 200, self._table(req, items, "")
        if req.name is not None:
            return 200, items[0]
        return 200, {
            "kind": "ComponentStatusList",
            "apiVersion": "v1",
            "metadata": {},
            "items": items,
        }


_VERBS = {
    ("GET", True): "get",
    ("GET", False): "list",
    ("POST", False): "create",
    ("PUT", True): "update",
    ("PATCH", True): "patch",
    ("DELETE", True): "delete",
    ("DELETE", False): "deletecollection",
}


def _check_verb(info: resources.ResourceInfo, method: str, name: str | None) -> None:
    """405 for a verb the resource does not serve (as its discovery document says)."""
    wanted = _VERBS.get((method, name is not None))
    if wanted is None or wanted not in info.verbs:
        raise ApiError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            {"kind": info.plural, **({"name": name} if name else {})},
        )
