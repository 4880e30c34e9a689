"""Text rendering of cluesd status, nodes and history for the `clues` CLI (pure: no I/O).

Input is the JSON the API serves (docs/cli.md); output is a string, plain (fixed-width columns,
what tests and pipes read) or coloured through rich when the CLI says stdout is a terminal.
Fetching the data and choosing colour are the CLI's business.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

GI = 1 << 30
MI = 1 << 20

# Order of states in the summary line: busiest first, trouble last.
STATE_ORDER = (
    "used",
    "idle",
    "powering_on",
    "draining",
    "powering_off",
    "off",
    "on_error",
    "off_error",
    "unknown",
)
STATE_STYLES = {
    "used": "green",
    "idle": "cyan",
    "powering_on": "yellow",
    "draining": "yellow",
    "powering_off": "yellow",
    "off": "dim",
    "on_error": "bold red",
    "off_error": "bold red",
    "unknown": "magenta",
}
NODE_COLUMNS = ("node", "state", "enabled", "time in state", "cpu", "memory", "pods")


# ---------------------------------------------------------------------- units
def format_duration(seconds: float | None) -> str:
    """Human duration: 42s, 3m12s, 2h05m, 3d04h; '-' when unknown."""
    if seconds is None:
        return "-"
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def format_cores(millis: float) -> str:
    """Millicores as cores without needless decimals: 1000 -> 1, 1500 -> 1.5, 250 -> 0.25."""
    return f"{millis / 1000:.2f}".rstrip("0").rstrip(".")


def format_bytes(n: float) -> str:
    """Bytes compactly in binary units: 6Gi, 1.5Gi, 512Mi, 0."""
    for unit, size in (("Ti", 1 << 40), ("Gi", GI), ("Mi", MI), ("Ki", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.1f}".rstrip("0").rstrip(".") + unit
    return f"{int(n)}"


def format_cpu_pair(used: float, total: float) -> str:
    return f"{format_cores(used)}/{format_cores(total)}"


def format_mem_pair(used: float, total: float) -> str:
    """Used/total in the unit of the total, one decimal: 2.0/8.0Gi, 512.0/1024.0Mi."""
    unit, size = ("Gi", GI) if total >= GI else ("Mi", MI)
    return f"{used / size:.1f}/{total / size:.1f}{unit}"


# ---------------------------------------------------------------------- nodes
def node_row(node: Mapping[str, Any], now: float) -> list[str]:
    since = node.get("since")
    return [
        str(node.get("name", "?")),
        str(node.get("state", "unknown")),
        "enabled" if node.get("enabled", True) else "disabled",
        format_duration(now - since if since is not None else None),
        format_cpu_pair(node.get("cpu_used", 0), node.get("cpu_total", 0)),
        format_mem_pair(node.get("mem_used", 0), node.get("mem_total", 0)),
        str(node.get("pods", 0)),
    ]


def _plain_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    # Names and states read left-aligned; numbers line up on the right.
    left = {0, 1, 2}

    def line(cells: Sequence[str]) -> str:
        out = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _rich_render(build: Any, width: int | None) -> str:
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="standard", width=width or 120)
    build(console)
    return buf.getvalue().rstrip("\n")


def _rich_nodes_table(nodes: Sequence[Mapping[str, Any]], now: float) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for i, col in enumerate(NODE_COLUMNS):
        table.add_column(col, justify="left" if i < 3 else "right", no_wrap=True)
    for node in nodes:
        cells = node_row(node, now)
        state = Text(cells[1], style=STATE_STYLES.get(cells[1], ""))
        enabled = Text(cells[2], style="" if node.get("enabled", True) else "red")
        table.add_row(cells[0], state, enabled, *cells[3:])
    return table


def render_nodes(
    nodes: Sequence[Mapping[str, Any]], now: float, *, color: bool = False, width: int | None = None
) -> str:
    """The node table alone (for `clues nodes`)."""
    if not nodes:
        return "no managed nodes"
    if color:
        return _rich_render(lambda c: c.print(_rich_nodes_table(nodes, now)), width)
    return "\n".join(_plain_table(NODE_COLUMNS, [node_row(n, now) for n in nodes]))


# ---------------------------------------------------------------------- status
def summary_line(status: Mapping[str, Any]) -> str:
    """E.g. `10 nodes: 2 used, 1 idle, 6 off · pending: 3 pods (cpu 3, mem 6Gi) · unplaceable: 1`."""
    nodes = status.get("nodes") or []
    counts = Counter(str(n.get("state", "unknown")) for n in nodes)
    order = [s for s in STATE_ORDER if counts[s]] + sorted(
        s for s in counts if s not in STATE_ORDER
    )
    word = "node" if len(nodes) == 1 else "nodes"
    parts = [f"{len(nodes)} {word}"]
    if order:
        parts[0] += ": " + ", ".join(f"{counts[s]} {s}" for s in order)
    disabled = sum(1 for n in nodes if not n.get("enabled", True))
    if disabled:
        parts[0] += f" ({disabled} disabled)"
    pending = status.get("pending") or {}
    pods = int(pending.get("pods", 0))
    text = f"pending: {pods} pod{'' if pods == 1 else 's'}"
    if pods:
        cpu, mem = pending.get("cpu", 0), pending.get("memory", 0)
        text += f" (cpu {format_cores(cpu)}, mem {format_bytes(mem)})"
    hidden = int(pending.get("hidden", 0))
    if hidden:
        text += f" + {hidden} queued"
    parts.append(text)
    waiting = len(status.get("waiting") or {})
    if waiting:
        parts.append(f"waiting: {waiting}")
    held = len(status.get("held") or {})
    if held:
        parts.append(f"not demand: {held}")
    parts.append(f"unplaceable: {len(status.get('unplaceable') or {})}")
    return " · ".join(parts)


def _largest_group(reasons: Mapping[str, str]) -> tuple[str, list[str]] | None:
    """(reason, names) of the most common reason, by its head (before ';' and ' (')."""
    groups: dict[str, list[str]] = {}
    for name, why in sorted(reasons.items()):
        groups.setdefault(why.split(";")[0].split(" (")[0], []).append(name)
    if not groups:
        return None
    return max(groups.items(), key=lambda kv: (len(kv[1]), kv[0]))


def detail_lines(status: Mapping[str, Any]) -> list[str]:
    """Warnings, unplaceable demand and the last plan, one line each (may be empty)."""
    lines: list[str] = []
    if status.get("leader") is False:
        lines.append("note: this cluesd is a standby (not the leader); it takes no actions")
    if status.get("synced") is False:
        age = status.get("data_age")
        if age is None:
            lines.append("note: not synced with the cluster yet; no actions until it is")
        else:
            lines.append(
                f"note: the cluster watch is down; data {age:.0f} s old; no drain or "
                "power-off starts until it is back"
            )
    if status.get("recovering"):
        held = ", ".join(status["recovering"])
        lines.append(f"note: resolving steps stored as sent before a restart: {held}")
    # One line per distinct reason: a burst of identical pods must not flood the screen.
    by_reason: dict[str, list[str]] = {}
    for name, why in sorted((status.get("unplaceable") or {}).items()):
        by_reason.setdefault(why, []).append(name)
    for why, names in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        who = names[0] if len(names) == 1 else f"{len(names)} pods ({names[0]}, ...)"
        lines.append(f"unplaceable {who}: {why}")
    # Waiting work and hidden work that is not demand (decision 0015): only the largest
    # group of each, so a burst shows why it waits in one line.
    for key, label, many in (("waiting", "waiting", "pods"), ("held", "not demand", "objects")):
        group = _largest_group(status.get(key) or {})
        if group is not None:
            why, names = group
            who = names[0] if len(names) == 1 else f"{len(names)} {many}"
            lines.append(f"{label} {who}: {why}")
    plan = status.get("last_plan") or {}
    now = status.get("now")
    for action in plan.get("actions") or []:
        at = plan.get("at")
        ago = f" ({format_duration(now - at)} ago)" if now is not None and at is not None else ""
        reason = action.get("reason", "")
        lines.append(
            f"last plan{ago}: {action.get('kind', '?')} {action.get('node', '?')}"
            + (f" — {reason}" if reason else "")
        )
    return lines


def render_status(
    status: Mapping[str, Any], *, color: bool = False, width: int | None = None
) -> str:
    """The `clues status` screen: node table, summary line, then detail lines."""
    nodes = status.get("nodes") or []
    now = float(status.get("now") or 0.0)
    head = f"cluster {status.get('cluster', '?')} (cluesd {status.get('version', '?')})"
    summary, details = summary_line(status), detail_lines(status)
    if not color:
        table = render_nodes(nodes, now)
        return "\n".join([head, "", table, "", summary, *details])

    def build(console: Any) -> None:
        console.print(head, style="bold", highlight=False)
        console.print()
        console.print(_rich_nodes_table(nodes, now) if nodes else "no managed nodes")
        console.print()
        console.print(summary, highlight=False)
        for line in details:
            style = (
                "red"
                if line.startswith("unplaceable")
                else "yellow"
                if line.startswith("note")
                else ""
            )
            console.print(line, style=style, highlight=False, markup=False)

    return _rich_render(build, width)


# ---------------------------------------------------------------------- history
def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def history_rows(
    actions: Iterable[Mapping[str, Any]], transitions: Iterable[Mapping[str, Any]]
) -> list[tuple[float, str]]:
    """Actions and transitions merged, newest first, each as (at, line)."""
    rows: list[tuple[float, str]] = []
    for a in actions:
        at = a.get("at")
        result = a.get("status") or a.get("result") or ("failed" if a.get("error") else "")
        text = f"{_when(at)}  {a.get('node', '-')}  action {a.get('kind', '?')}"
        if result:
            text += f" [{result}]"
        if a.get("reason"):
            text += f" — {a['reason']}"
        if a.get("error"):
            text += f" (error: {a['error']})"
        rows.append((float(at or 0.0), text))
    for t in transitions:
        at = t.get("at")
        src = t.get("old", t.get("from", "?"))
        dst = t.get("new", t.get("to", "?"))
        text = f"{_when(at)}  {t.get('node', '-')}  {src} -> {dst}"
        if t.get("reason"):
            text += f" — {t['reason']}"
        rows.append((float(at or 0.0), text))
    rows.sort(key=lambda r: r[0], reverse=True)
    return rows


def render_history(
    actions: Iterable[Mapping[str, Any]], transitions: Iterable[Mapping[str, Any]]
) -> str:
    rows = history_rows(actions, transitions)
    if not rows:
        return "no history yet"
    return "\n".join(line for _, line in rows)
