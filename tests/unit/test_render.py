"""Rendering of status/nodes/history dicts into text (clues_py.cli.render): pure, nothing faked."""

from __future__ import annotations

import re
from typing import Any

import pytest

from clues_py.cli.render import (
    format_bytes,
    format_cores,
    format_duration,
    format_mem_pair,
    render_history,
    render_nodes,
    render_status,
    summary_line,
)

GI = 1 << 30
NOW = 1_700_000_000.0


def node(name: str, state: str, since_ago: float = 10, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "template": "wn",
        "state": state,
        "enabled": True,
        "since": NOW - since_ago,
        "cpu_used": 0,
        "cpu_total": 4000,
        "mem_used": 0,
        "mem_total": 8 * GI,
        "pods": 0,
        "provider_id": f"sim://{name}",
        "attempts": 0,
        "last_error": "",
    }
    base.update(kw)
    return base


def status(nodes: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": "0.1.0",
        "cluster": "clues",
        "now": NOW,
        "leader": True,
        "synced": True,
        "nodes": nodes,
        "pending": {"pods": 0, "cpu": 0, "memory": 0, "hidden": 0},
        "unplaceable": {},
        "last_plan": {"at": NOW, "actions": []},
    }
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (42.9, "42s"),
        (60, "1m00s"),
        (192, "3m12s"),
        (3599, "59m59s"),
        (3600 * 2 + 5 * 60 + 7, "2h05m"),
        (86400 * 3 + 3600 * 4 + 1, "3d04h"),
        (-5, "0s"),  # clock skew between since and now must not print a negative time
        (None, "-"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_units() -> None:
    assert format_cores(1000) == "1"
    assert format_cores(1500) == "1.5"
    assert format_cores(250) == "0.25"
    assert format_cores(0) == "0"
    assert format_bytes(6 * GI) == "6Gi"
    assert format_bytes(GI + GI // 2) == "1.5Gi"
    assert format_bytes(512 << 20) == "512Mi"
    assert format_bytes(0) == "0"
    assert format_mem_pair(2 * GI, 8 * GI) == "2.0/8.0Gi"
    # A small node is shown in Mi, not as 0.5/0.5Gi.
    assert format_mem_pair(256 << 20, 512 << 20) == "256.0/512.0Mi"


def test_node_table_columns() -> None:
    nodes = [
        node("wn-1", "used", since_ago=192, cpu_used=1000, mem_used=2 * GI, pods=1),
        node("wn-10", "off", since_ago=7200 + 300, enabled=False),
    ]
    lines = render_nodes(nodes, NOW).splitlines()
    assert lines[0].split()[:3] == ["node", "state", "enabled"]
    assert set(lines[1]) <= {"-", " "}
    row1 = lines[2].split()
    assert row1 == ["wn-1", "used", "enabled", "3m12s", "1/4", "2.0/8.0Gi", "1"]
    row2 = lines[3].split()
    assert row2 == ["wn-10", "off", "disabled", "2h05m", "0/4", "0.0/8.0Gi", "0"]
    # Columns line up: every row's state starts where the header's does.
    col = lines[0].index("state")
    assert all(line[col:].split()[0] in {"state", "used", "off"} for line in (lines[0], *lines[2:]))


def test_summary_counts_in_state_order() -> None:
    nodes = (
        [node(f"u{i}", "used") for i in range(2)]
        + [node("i0", "idle"), node("p0", "powering_on")]
        + [node(f"o{i}", "off") for i in range(6)]
    )
    st = status(
        nodes,
        pending={"pods": 3, "cpu": 3000, "memory": 6 * GI, "hidden": 0},
        unplaceable={"oscar-svc/big": "fits no template: needs 64 cpu"},
    )
    assert summary_line(st) == (
        "10 nodes: 2 used, 1 idle, 1 powering_on, 6 off"
        " · pending: 3 pods (cpu 3, mem 6Gi) · unplaceable: 1"
    )


def test_summary_mentions_disabled_hidden_and_unknown_states() -> None:
    st = status(
        [node("a", "off", enabled=False), node("b", "weird")],
        pending={"pods": 1, "cpu": 500, "memory": GI // 2, "hidden": 4},
    )
    line = summary_line(st)
    assert line.startswith("2 nodes: 1 off, 1 weird (1 disabled)")
    assert "pending: 1 pod (cpu 0.5, mem 512Mi) + 4 queued" in line


def test_empty_cluster() -> None:
    st = status([])
    text = render_status(st)
    assert "no managed nodes" in text
    assert "0 nodes · pending: 0 pods · unplaceable: 0" in text
    assert render_nodes([], NOW) == "no managed nodes"


def test_status_details_unplaceable_plan_and_warnings() -> None:
    st = status(
        [node("wn-2", "off")],
        leader=False,
        synced=False,
        unplaceable={"oscar-svc/big": "fits no template: needs 64 cpu"},
        last_plan={
            "at": NOW - 3,
            "actions": [{"kind": "power_on", "node": "wn-2", "reason": "3 pods pending"}],
        },
    )
    text = render_status(st)
    assert "cluster clues (cluesd 0.1.0)" in text.splitlines()[0]
    assert "unplaceable oscar-svc/big: fits no template: needs 64 cpu" in text
    assert "last plan (3s ago): power_on wn-2 — 3 pods pending" in text
    assert "standby" in text and "not synced" in text


def test_plain_text_has_no_escape_codes_and_color_has_them() -> None:
    st = status([node("wn-1", "on_error", last_error="boot timeout")])
    assert "\x1b[" not in render_status(st)
    colored = render_status(st, color=True)
    assert "\x1b[" in colored
    # Same words, only styling differs.
    plain_of_colored = re.sub(r"\x1b\[[0-9;]*m", "", colored)
    assert "on_error" in plain_of_colored and "1 node: 1 on_error" in plain_of_colored


def test_history_merges_newest_first() -> None:
    actions = [
        {
            "at": NOW - 10,
            "kind": "power_on",
            "node": "wn-2",
            "reason": "3 pods pending",
            "status": "ok",
            "error": "",
        },
        {
            "at": NOW - 1,
            "kind": "power_off",
            "node": "wn-3",
            "reason": "idle 10m",
            "status": "failed",
            "error": "provider said no",
        },
    ]
    transitions = [
        {"at": NOW - 5, "node": "wn-2", "old": "powering_on", "new": "idle", "reason": "Ready"}
    ]
    lines = render_history(actions, transitions).splitlines()
    assert len(lines) == 3
    assert "wn-3  action power_off [failed] — idle 10m (error: provider said no)" in lines[0]
    assert "wn-2  powering_on -> idle — Ready" in lines[1]
    assert "wn-2  action power_on [ok] — 3 pods pending" in lines[2]
    assert render_history([], []) == "no history yet"


def test_a_burst_is_summarised_in_one_line_per_reason() -> None:
    full = "no node left to power on: wn: no OFF enabled node left (others on, failing or taken)"
    s = status(
        [node("wn-1", "used")],
        unplaceable={
            **{f"ns/big-{i}": "fits no template: needs cpu=16" for i in range(3)},
            "ns/gpu": "no template matches its placement: wn: node(s) had untolerated taint",
        },
        waiting={f"ns/p-{i:02d}": full for i in range(40)}
        | {"ns/q": "waits for booting node wn-2"},
    )
    text = render_status(s)
    assert "waiting: 41" in text and "unplaceable: 4" in text
    assert "unplaceable 3 pods (ns/big-0, ...): fits no template: needs cpu=16" in text
    assert "unplaceable ns/gpu: no template matches its placement" in text
    assert "waiting 40 pods: no node left to power on: wn: no OFF enabled node left" in text
    assert text.count("\nunplaceable ") == 2 and text.count("\nwaiting ") == 1


def test_a_watch_that_is_down_and_nodes_in_recovery_get_a_line_each() -> None:
    st = status([node("wn-1", "powering_on")], synced=False, data_age=42.4, recovering=["wn-1"])
    text = render_status(st)
    assert "the cluster watch is down; data 42 s old; no drain or power-off starts" in text
    assert "resolving steps stored as sent before a restart: wn-1" in text
    assert "not synced with the cluster yet" not in text
