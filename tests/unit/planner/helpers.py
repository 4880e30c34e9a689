"""Shortcuts for planner tests: run the default pipeline and slice the plan."""

from __future__ import annotations

from typing import Any

from clues_py.daemon.pipeline import default_policies
from clues_py.model import ActionKind, ClusterSnapshot, Plan
from clues_py.planner import PlannerSettings, plan


def run(snap: ClusterSnapshot, **settings: Any) -> Plan:
    return plan(snap, default_policies(PlannerSettings(**settings)))


def ons(p: Plan) -> list[str]:
    return [a.node for a in p.actions if a.kind is ActionKind.POWER_ON]


def offs(p: Plan) -> list[str]:
    return [a.node for a in p.actions if a.kind is ActionKind.POWER_OFF]
