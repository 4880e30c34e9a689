"""OpenAPI 3.0 document of the local cluesd API, served at GET /v1/openapi.json.

It describes the routes `server.py` implements (status, nodes, admin verbs, history, explain,
health) and the JSON shapes the daemon returns, for operators, client generators and the
schema-driven fuzz test (tests/e2e/api_security). The server owns the behaviour; when a route
changes there, change it here too (the fuzz test finds the drift). Schemas allow extra
properties so a newer daemon may add fields without breaking older clients.
"""

from __future__ import annotations

from typing import Any

from clues_py.api import DEFAULT_LIMIT, MAX_LIMIT, NODE_OPS

_STATES = [
    "off",
    "powering_on",
    "idle",
    "used",
    "draining",
    "powering_off",
    "on_error",
    "off_error",
    "unknown",
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_UNAUTHORIZED = {"401": _error("missing or wrong bearer token (TCP listeners only)")}


def _obj(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


_STR = {"type": "string"}
_NUM = {"type": "number"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_NULLABLE_STR = {"type": "string", "nullable": True}

_SCHEMAS: dict[str, Any] = {
    "Error": _obj(["error", "code"], error=_STR, code=_INT),
    "Node": _obj(
        ["name", "template", "state", "enabled"],
        name=_STR,
        template=_STR,
        state={"type": "string", "enum": _STATES},
        enabled=_BOOL,
        since=_NUM,
        cpu_used=_INT,
        cpu_total=_INT,
        mem_used=_INT,
        mem_total=_INT,
        pods=_INT,
        provider_id=_NULLABLE_STR,
        attempts=_INT,
        last_error=_NULLABLE_STR,
        ready=_BOOL,
    ),
    "PlannedAction": _obj(["kind", "node", "reason"], kind=_STR, node=_STR, reason=_STR),
    "Status": _obj(
        ["version", "cluster", "now", "leader", "nodes"],
        version=_STR,
        cluster=_STR,
        now=_NUM,
        leader={**_BOOL, "description": "false on a hot standby (leader election)"},
        synced={**_BOOL, "description": "false before the first sync and while a watch is down"},
        data_age={
            "type": "number",
            "nullable": True,
            "description": "seconds since the cluster view was last current (null: never)",
        },
        recovering={
            "type": "array",
            "items": _STR,
            "description": "nodes whose step stored as sent is being resolved after a restart",
        },
        nodes={"type": "array", "items": _ref("Node")},
        pending=_obj([], pods=_INT, cpu=_INT, memory=_INT, hidden=_INT),
        unplaceable={
            "type": "object",
            "additionalProperties": _STR,
            "description": "pod or hidden-demand key -> why no node was powered on for it",
        },
        last_plan=_obj([], at=_NUM, actions={"type": "array", "items": _ref("PlannedAction")}),
    ),
    "Action": _obj(
        ["id", "at", "kind", "node", "status"],
        id=_INT,
        at=_NUM,
        kind=_STR,
        node=_STR,
        template=_STR,
        policy=_STR,
        reason=_STR,
        status=_STR,
        error=_STR,
        finished_at={"type": "number", "nullable": True},
    ),
    "Transition": _obj(
        ["id", "at", "node", "old", "new"],
        id=_INT,
        at=_NUM,
        node=_STR,
        old=_STR,
        new=_STR,
        reason=_STR,
    ),
    "Passes": _obj(
        ["started_at", "counts", "recent"],
        started_at=_NUM,
        first_pass_at={"type": "number", "nullable": True},
        first_pass_seconds={"type": "number", "nullable": True},
        counts={"type": "object", "additionalProperties": _INT},
        full={"type": "object", "nullable": True, "additionalProperties": True},
        incremental={"type": "object", "nullable": True, "additionalProperties": True},
        recent={"type": "array", "items": {"type": "object", "additionalProperties": True}},
    ),
    "Explanation": {
        "type": "object",
        "description": "why a pod or node was or was not acted upon (see `clues explain`)",
        "additionalProperties": True,
    },
}

_NODE_PARAM = {"name": "name", "in": "path", "required": True, "schema": _STR}
_HISTORY_PARAMS = [
    {
        "name": "node",
        "in": "query",
        "required": False,
        "schema": _STR,
        "description": "only this node",
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
    {
        "name": "since",
        "in": "query",
        "required": False,
        "schema": _NUM,
        "description": "only rows at or after this time (epoch seconds)",
    },
    {
        "name": "kind",
        "in": "query",
        "required": False,
        "schema": _STR,
        "description": "comma list: action kinds (actions) or new states (transitions)",
    },
]


def _get(summary: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "responses": {"200": _json(schema, "ok"), **_UNAUTHORIZED},
            **extra,
        }
    }


def openapi_document(version: str) -> dict[str, Any]:
    """The whole OpenAPI 3.0.3 document for a daemon of `version`."""

    def array(name: str) -> dict[str, Any]:
        return {"type": "array", "items": _ref(name)}

    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "summary": "Liveness; never needs a token",
                "security": [],
                "responses": {"200": _json(_obj(["ok"], ok=_BOOL), "alive")},
            }
        },
        "/v1/openapi.json": _get("This document", {"type": "object"}),
        "/v1/status": _get("Nodes, demand and the last plan (`clues status`)", _ref("Status")),
        "/v1/nodes": _get("Managed nodes", array("Node")),
        "/v1/passes": _get("Timing of the loop's recent passes", _ref("Passes")),
        "/v1/nodes/{name}": _get(
            "One managed node",
            _ref("Node"),
            parameters=[_NODE_PARAM],
        ),
        "/v1/nodes/{name}/{op}": {
            "post": {
                "summary": "Admin verb on a node (`clues poweron|poweroff|enable|disable|resetstate`)",
                "parameters": [
                    _NODE_PARAM,
                    {
                        "name": "op",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(NODE_OPS)},
                    },
                ],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": _json(_ref("Node"), "the node after the operation"),
                    "400": _error("malformed body"),
                    **_UNAUTHORIZED,
                    "404": _error("unknown node or operation"),
                    "409": _error("not allowed in the node's current state"),
                    "413": _error("body too large"),
                },
            }
        },
        "/v1/actions": _get(
            "Power actions, newest first (`clues history`)",
            array("Action"),
            parameters=_HISTORY_PARAMS,
        ),
        "/v1/transitions": _get(
            "Lifecycle transitions, newest first (`clues history`)",
            array("Transition"),
            parameters=_HISTORY_PARAMS,
        ),
        "/v1/explain/node/{name}": _get(
            "Why a node was or was not powered on/off (`clues explain node NAME`)",
            _ref("Explanation"),
            parameters=[_NODE_PARAM],
        ),
        "/v1/explain/pod/{namespace}/{name}": _get(
            "Why a pending pod did or did not trigger a scale-up (`clues explain pod NS/NAME`)",
            _ref("Explanation"),
            parameters=[
                {"name": "namespace", "in": "path", "required": True, "schema": _STR},
                _NODE_PARAM,
            ],
        ),
    }
    for route, item in paths.items():
        if route.startswith("/v1/"):
            for op in item.values():
                op["responses"].setdefault("404", _error("unknown node or route"))
                if "parameters" in op and route in ("/v1/actions", "/v1/transitions"):
                    op["responses"]["400"] = _error("bad limit or since")
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "cluesd local API",
            "version": version,
            "description": (
                "Served on a Unix socket (mode 0660) by default; on TCP every route but "
                "/healthz needs `Authorization: Bearer <token>` (daemon.token_file)."
            ),
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}, {}],
        "paths": paths,
    }
