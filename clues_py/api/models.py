"""Pydantic models of the local API's JSON answers: the OpenAPI document is generated from
them and from the routes in `app.py` (GET /v1/openapi.json), so it cannot drift from the code.

They describe what `DaemonControl` returns; the answers themselves are the daemon's dicts,
sent as they are (a newer daemon may add fields: every model allows extra properties), and
the schema-driven fuzz test (tests/e2e/api_security) checks that they conform. Required
fields are those every daemon sends; the rest may be absent or null.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from clues_py.model import NodeState


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(BaseModel):
    """Every error answer, whatever the status."""

    error: str = Field(description="what went wrong and, when there is one, the fix")
    code: int = Field(description="the HTTP status again")


class Health(BaseModel):
    ok: bool


class Node(_Open):
    name: str
    template: str
    state: NodeState
    enabled: bool
    since: float | None = None
    cpu_used: int | None = None
    cpu_total: int | None = None
    mem_used: int | None = None
    mem_total: int | None = None
    pods: int | None = None
    provider_id: str | None = None
    attempts: int | None = None
    last_error: str | None = None
    ready: bool | None = None


class PlannedAction(_Open):
    kind: str
    node: str
    reason: str


class Pending(_Open):
    pods: int | None = None
    cpu: int | None = None
    memory: int | None = None
    hidden: int | None = None


class LastPlan(_Open):
    at: float | None = None
    actions: list[PlannedAction] = []


class Status(_Open):
    version: str
    cluster: str
    now: float
    leader: bool = Field(description="false on a hot standby (leader election)")
    synced: bool | None = Field(
        None, description="false before the first sync and while a watch is down"
    )
    data_age: float | None = Field(
        None, description="seconds since the cluster view was last current (null: never)"
    )
    recovering: list[str] | None = Field(
        None, description="nodes whose step stored as sent is being resolved after a restart"
    )
    nodes: list[Node]
    pending: Pending | None = None
    unplaceable: dict[str, str] | None = Field(
        None, description="pod or hidden-demand key -> why no node was powered on for it"
    )
    last_plan: LastPlan | None = None


class Action(_Open):
    id: int
    at: float
    kind: str
    node: str
    status: str
    template: str | None = None
    policy: str | None = None
    reason: str | None = None
    error: str | None = None
    finished_at: float | None = None


class Transition(_Open):
    id: int
    at: float
    node: str
    old: str
    new: str
    reason: str | None = None


class Passes(_Open):
    started_at: float
    counts: dict[str, int]
    recent: list[dict[str, Any]]
    first_pass_at: float | None = None
    first_pass_seconds: float | None = None
    full: dict[str, Any] | None = None
    incremental: dict[str, Any] | None = None


class Explanation(_Open):
    """Why a pod or node was or was not acted upon (see `clues explain`)."""


class NodeOpOptions(_Open):
    """The body of a node operation: a JSON object; no option is defined yet."""
