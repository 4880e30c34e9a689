"""The local API's routes on FastAPI: each route maps onto one `DaemonControl` call.

Routes, parameters (with their bounds) and answer models (`models.py`) are declared here,
and FastAPI generates the OpenAPI document from them (GET /v1/openapi.json; docs/api.md).
Every error is JSON `{"error", "code"}`: validation problems are 400 (a query parameter the
route does not take, an empty or out-of-range value), unknown routes, nodes and operations
404, wrong methods 405 with `Allow`, refused operations 409, and anything unexpected 500
with a short message (the traceback goes to the log). Authentication and body limits are
`guard.py`'s, serving (sockets, uvicorn) `server.py`'s; what the answers mean is the daemon's.
"""

from __future__ import annotations

import enum
import logging
from typing import Annotated, Any, get_args, get_origin

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPBearer
from pydantic import StringConstraints
from starlette.exceptions import HTTPException
from starlette.routing import Route

import clues_py
from clues_py.api import DEFAULT_LIMIT, MAX_LIMIT, NODE_OPS, DaemonControl
from clues_py.api import models as m
from clues_py.api.guard import encode
from clues_py.api.history import history

log = logging.getLogger("clues_py.api")

NodeOp = enum.StrEnum("NodeOp", {op: op for op in NODE_OPS})  # type: ignore[misc]
_ERR = {"model": m.Error}
# What a bad parameter should have been, in the words of docs/api.md.
_EXPECTED = {
    "limit": f"an integer from 1 to {MAX_LIMIT}",
    "since": "epoch seconds (a finite number)",
    "node": "a node name",
    "name": "a name of 1 to 253 characters",
    "namespace": "a namespace name",
    "kind": "kinds separated by ',', none empty",
}
NameP = Annotated[str, Path(min_length=1, max_length=253, description="node name")]
NodeQ = Annotated[str | None, Query(min_length=1, max_length=253, description="only this node")]
LimitQ = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
# A comma list without empty items; the parameter may repeat (kind=a,b&kind=c).
KindList = Annotated[str, StringConstraints(pattern=r"^[^,]+(,[^,]+)*$")]
KindQ = Annotated[
    list[KindList] | None,
    Query(description="comma list (repeatable): action kinds, or the new states of transitions"),
]
SinceQ = Annotated[
    float | None,
    Query(allow_inf_nan=False, description="only rows at or after this time (epoch seconds)"),
]


def _ok(body: Any) -> Response:
    return Response(encode(body), media_type="application/json",
                    headers={"Cache-Control": "no-store"})  # fmt: skip


def _error(code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(encode({"error": message, "code": code}), status_code=code,
                    media_type="application/json",
                    headers={"Cache-Control": "no-store", **(headers or {})})  # fmt: skip


def _repeatable(annotation: Any) -> bool:
    """A list parameter (`X | None` included) may be given several times."""
    return any(get_origin(a) is list for a in (annotation, *get_args(annotation)))


def _strict_query(request: Request) -> None:
    """A query parameter the route does not declare, or one given twice, is an error: not
    silently ignored, and not "the last one wins"."""
    route = request.scope.get("route")
    params = getattr(getattr(route, "dependant", None), "query_params", [])
    known = {p.alias: _repeatable(p.field_info.annotation) for p in params}
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        valid = ", ".join(sorted(known)) or "none"
        raise HTTPException(400, f"unknown query parameter {unknown[0]!r}; valid: {valid}")
    query = request.query_params
    twice = sorted(k for k in query if not known[k] and len(query.getlist(k)) > 1)
    if twice:
        raise HTTPException(400, f"query parameter {twice[0]!r} given more than once; give it once")


def build_app(control: DaemonControl) -> FastAPI:
    """The FastAPI application serving `control` (wrap it in `guard.Guard` to serve it)."""
    app = FastAPI(
        title="cluesd local API",
        version=clues_py.__version__,
        description=(
            "Served on a Unix socket (mode 0660) by default; on TCP every route but /healthz "
            "needs `Authorization: Bearer <token>` (daemon.token_file). Errors are "
            "`{error, code}`."
        ),
        openapi_url="/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    _handlers(app)

    @app.get("/healthz", response_model=m.Health, summary="Liveness; never needs a token",
             openapi_extra={"security": []}, dependencies=[Depends(_strict_query)])  # fmt: skip
    def healthz() -> Response:
        return _ok({"ok": True})

    v1 = APIRouter(
        prefix="/v1",
        dependencies=[Depends(HTTPBearer(auto_error=False)), Depends(_strict_query)],
        responses={
            400: _ERR,
            401: {**_ERR, "description": "missing or wrong bearer token (TCP listeners only)"},
            404: _ERR,
        },  # fmt: skip
    )

    @v1.get("/status", response_model=m.Status,
            summary="Nodes, demand and the last plan (`clues status`)")  # fmt: skip
    def status() -> Response:
        return _ok(control.status())

    @v1.get("/nodes", response_model=list[m.Node], summary="Managed nodes")
    def nodes() -> Response:
        return _ok(control.nodes())

    @v1.get("/passes", response_model=m.Passes, summary="Timing of the loop's recent passes")
    def passes() -> Response:
        return _ok(control.passes())

    @v1.get("/nodes/{name}", response_model=m.Node, summary="One managed node")
    def node(name: NameP) -> Response:
        for row in control.nodes():
            if row.get("name") == name:
                return _ok(row)
        return _error(404, f"unknown node {name!r}")

    @v1.post(
        "/nodes/{name}/{op}",
        response_model=m.Node,
        summary="Admin verb on a node (`clues poweron|poweroff|enable|disable|resetstate`)",
        responses={
            409: {**_ERR, "description": "not allowed in the node's current state"},
            413: _ERR,
        },  # fmt: skip
    )
    def node_op(
        op: NodeOp, name: NameP, options: Annotated[m.NodeOpOptions | None, Body()] = None
    ) -> Response:
        try:
            return _ok(control.node_op(str(op), name))
        except KeyError:
            return _error(404, f"unknown node {name!r}")
        except ValueError as exc:
            return _error(409, str(exc) or f"{op} not allowed on {name} now")

    def history_route(resource: str, model: type, what: str) -> None:
        @v1.get(f"/{resource}", response_model=list[model],  # type: ignore[valid-type]
                summary=f"{what}, newest first (`clues history`)", name=resource)  # fmt: skip
        def rows(
            node: NodeQ = None,
            limit: LimitQ = DEFAULT_LIMIT,
            since: SinceQ = None,
            kind: KindQ = None,
        ) -> Response:
            return _ok(history(control, resource, node, limit, since, kind or []))

    history_route("actions", m.Action, "Power actions")
    history_route("transitions", m.Transition, "Lifecycle transitions")

    def explain(kind: str, name: str) -> Response:
        explainer = getattr(control, "explain", None)  # optional in DaemonControl
        if explainer is None:
            return _error(404, "this daemon does not keep explanations")
        try:
            return _ok(explainer(kind, name))
        except KeyError:
            return _error(404, f"unknown {kind} {name!r}")

    @v1.get("/explain/node/{name}", response_model=m.Explanation,
            summary="Why a node was or was not powered on/off (`clues explain node NAME`)")  # fmt: skip
    def explain_node(name: NameP) -> Response:
        return explain("node", name)

    @v1.get("/explain/pod/{namespace}/{name}", response_model=m.Explanation,
            summary="Why a pending pod did or did not trigger a scale-up (`clues explain pod`)")  # fmt: skip
    def explain_pod(namespace: NameP, name: NameP) -> Response:
        return explain("pod", f"{namespace}/{name}")

    app.include_router(v1)
    _document(app)
    for route in app.router.routes:  # starlette lets HEAD in on the document's route: GET only
        if isinstance(route, Route) and route.path == app.openapi_url:
            route.methods = {"GET"}
    app.openapi()  # generated once, now: the first client should not wait for it
    return app


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        headers = dict(exc.headers or {})
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}; see docs/api.md for the API"
        elif exc.status_code == 405:
            allowed = headers.get("Allow", "")
            message = f"method {request.method} not allowed on {request.url.path}; use {allowed}"
        return _error(exc.status_code, message, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0]
        where, name = (list(first.get("loc", ())) + ["", ""])[:2]
        if where == "path" and name == "op":
            valid = ", ".join(NODE_OPS)
            return _error(404, f"unknown operation {first.get('input')!r}; use one of {valid}")
        if where == "body":
            if first.get("type") == "json_invalid":
                detail = first.get("ctx", {}).get("error", "")
                return _error(400, f"request body is not valid JSON: {detail}".rstrip(": "))
            return _error(400, "request body must be a JSON object")
        value = first.get("input")
        expected = _EXPECTED.get(str(name))
        hint = f"; expected {expected}" if expected else ""
        return _error(400, f"{name}={value!r}: {first.get('msg', 'invalid')}{hint}")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.error("API %s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, f"internal error ({type(exc).__name__}); see the cluesd log")


def _document(app: FastAPI) -> None:
    """Post-process the generated document: our validation errors are 400 `Error`s (not
    FastAPI's 422), and the bearer scheme is optional (it applies on TCP only)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()
        for item in doc.get("paths", {}).values():
            for op in item.values():
                op.get("responses", {}).pop("422", None)
        schemas = doc.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        doc["security"] = [{"HTTPBearer": []}, {}]
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
