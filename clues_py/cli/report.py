"""`clues report --html`: one self-contained HTML page about what cluesd did.

Input is history as the store keeps it (actions and transitions, newest first, the rows of
`Store.actions()` / `Store.transitions()` or of the API's /v1/actions and /v1/transitions);
output is an HTML string with inline CSS and inline SVG charts (no scripts, no external
assets): nodes over time by state (rebuilt from transitions), power actions per time
bucket, boot and action durations, every action with its reason, and the errors. Reading
the history (store file or API) is `load_history`'s; writing the file is the CLI's.
"""

from __future__ import annotations

import html
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Row = Mapping[str, Any]
STATE_COLORS = {  # same order and meaning as `clues status`
    "used": "#2e7d32", "idle": "#4fc3f7", "powering_on": "#fbc02d", "draining": "#ffb74d",
    "powering_off": "#ff8a65", "off": "#bdbdbd", "on_error": "#d32f2f", "off_error": "#8e24aa",
    "unknown": "#6d4c41",
}  # fmt: skip
ACTION_COLORS = {"power_on": "#1976d2", "power_off": "#757575"}
ON_STATES = ("idle", "used")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> float:
    """`30m`, `2h`, `1d` (before now), an ISO time `2026-11-25T10:00`, or epoch seconds."""
    now = time.time() if now is None else now
    m = _DURATION_RE.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(
            f"--since {text!r}: use a duration (90s, 30m, 2h, 1d), "
            "an ISO time (2026-11-25T10:00) or epoch seconds"
        ) from None


@dataclass
class History:
    actions: Sequence[Row]
    transitions: Sequence[Row]
    now: float
    since: float | None = None
    source: str = ""
    nodes: Sequence[Row] = field(default_factory=list)  # current node rows, when known


def load_history(
    *, db: str | None = None, client: Any = None, since: float | None = None, limit: int = 10_000
) -> History:
    """History from a state database file, or from a running daemon through `client`."""
    if db is not None:
        from clues_py.store import Store

        with Store(db) as store:
            acts = store.actions(since=since, limit=limit)
            trans = store.transitions(since=since, limit=limit)
            nodes = [{"name": n.name, "state": str(n.state)} for n in store.load_nodes().values()]
        return History(acts, trans, time.time(), since, db, nodes)
    status = client.status()
    acts = client.actions(limit=limit, since=since)
    trans = client.transitions(limit=limit, since=since)
    now = float(status.get("now") or time.time())
    return History(acts, trans, now, since, client.address, status.get("nodes") or [])


# --------------------------------------------------------------------------- analysis


def state_timeline(h: History) -> tuple[list[float], dict[str, list[int]]]:
    """Times and, per state, how many nodes were in it from each time to the next."""
    trans = sorted(h.transitions, key=lambda t: (float(t["at"]), t.get("id", 0)))
    current: dict[str, str] = {}
    for t in trans:  # a node's state before the window is the `old` of its first transition
        current.setdefault(str(t["node"]), str(t["old"]))
    for n in h.nodes:
        current.setdefault(str(n.get("name")), str(n.get("state", "unknown")))
    start = h.since if h.since is not None else (float(trans[0]["at"]) if trans else h.now)
    times = [start]
    counts: dict[str, list[int]] = {s: [] for s in STATE_COLORS}

    def snapshot() -> None:
        c = Counter(current.values())
        for s in counts:
            counts[s].append(c.get(s, 0))

    snapshot()
    for t in trans:
        at = max(float(t["at"]), start)
        current[str(t["node"])] = str(t["new"])
        if at == times[-1]:
            for s in counts:
                counts[s].pop()
        else:
            times.append(at)
        snapshot()
    times.append(max(h.now, times[-1]))
    return times, {s: v for s, v in counts.items() if any(v)}


def boot_times(h: History) -> list[float]:
    """Seconds from entering powering_on to reaching idle/used, per completed boot."""
    started: dict[str, float] = {}
    out: list[float] = []
    for t in sorted(h.transitions, key=lambda t: (float(t["at"]), t.get("id", 0))):
        node, new = str(t["node"]), str(t["new"])
        if new == "powering_on":
            started[node] = float(t["at"])
        elif new in ON_STATES and node in started:
            out.append(float(t["at"]) - started.pop(node))
        elif new not in ("powering_on",):
            started.pop(node, None)
    return out


def _stats(values: Sequence[float]) -> dict[str, float]:
    v = sorted(values)
    p95 = v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]
    return {"n": len(v), "min": v[0], "median": statistics.median(v), "p95": p95, "max": v[-1]}


# --------------------------------------------------------------------------- formatting


def _t(at: Any) -> str:
    if at in (None, ""):
        return "-"
    return datetime.fromtimestamp(float(at)).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = max(0.0, seconds)
    if s < 60:
        return f"{s:.0f}s" if s >= 10 else f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _axis_time(at: float, span: float) -> str:
    fmt = "%H:%M:%S" if span < 600 else ("%H:%M" if span < 2 * 86400 else "%m-%d %H:%M")
    return datetime.fromtimestamp(at).astimezone().strftime(fmt)


# --------------------------------------------------------------------------- charts

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 900, 260, 48, 150, 12, 36


def _frame(title: str, t0: float, t1: float, ymax: int, body: str, legend: list[tuple[str, str]]) -> str:  # fmt: skip
    iw, ih = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    out = [f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {W} {H}" '
           f'width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg">']  # fmt: skip
    step = max(1, -(-ymax // 5))
    for y in range(0, ymax + 1, step):
        py = PAD_T + ih - ih * y / max(ymax, 1)
        out.append(
            f'<line x1="{PAD_L}" x2="{PAD_L + iw}" y1="{py:.1f}" y2="{py:.1f}" class="grid"/>'
        )
        out.append(
            f'<text x="{PAD_L - 6}" y="{py + 4:.1f}" class="tick" text-anchor="end">{y}</text>'
        )
    span = max(t1 - t0, 1e-9)
    for i in range(6):
        at = t0 + span * i / 5
        px = PAD_L + iw * i / 5
        out.append(f'<text x="{px:.1f}" y="{H - 12}" class="tick" text-anchor="middle">'
                   f"{_e(_axis_time(at, span))}</text>")  # fmt: skip
    out.append(body)
    for i, (label, color) in enumerate(legend):
        y = PAD_T + 6 + i * 18
        out.append(f'<rect x="{W - PAD_R + 14}" y="{y}" width="12" height="12" fill="{color}"/>'
                   f'<text x="{W - PAD_R + 32}" y="{y + 10}" class="tick">{_e(label)}</text>')  # fmt: skip
    out.append(f'<rect x="{PAD_L}" y="{PAD_T}" width="{iw}" height="{ih}" class="frame"/></svg>')
    return "\n".join(out)


def states_chart(h: History) -> str:
    """Stacked step areas: how many nodes were in each state over the window."""
    times, counts = state_timeline(h)
    if not counts:
        return '<p class="empty">No nodes and no transitions in this window.</p>'
    t0, t1 = times[0], times[-1]
    iw, ih = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    ymax = max(sum(c[i] for c in counts.values()) for i in range(len(times) - 1))
    ymax = max(ymax, 1)

    def px(t: float) -> float:
        return PAD_L + iw * (t - t0) / max(t1 - t0, 1e-9)

    def py(v: float) -> float:
        return PAD_T + ih - ih * v / ymax

    body, base = [], [0] * (len(times) - 1)
    for state, values in counts.items():  # STATE_COLORS order: busiest at the bottom
        top = [b + v for b, v in zip(base, values, strict=True)]
        upper = [f"{px(times[i]):.1f},{py(top[i]):.1f} {px(times[i + 1]):.1f},{py(top[i]):.1f}"
                 for i in range(len(top))]  # fmt: skip
        lower = [f"{px(times[i + 1]):.1f},{py(base[i]):.1f} {px(times[i]):.1f},{py(base[i]):.1f}"
                 for i in reversed(range(len(base)))]  # fmt: skip
        body.append(f'<polygon class="area" data-state="{state}" fill="{STATE_COLORS[state]}" '
                    f'points="{" ".join(upper + lower)}"><title>{state}</title></polygon>')  # fmt: skip
        base = top
    legend = [(s, STATE_COLORS[s]) for s in counts]
    return _frame("nodes by state over time", t0, t1, ymax, "\n".join(body), legend)


def actions_chart(h: History, buckets: int = 24) -> str:
    """Power-on and power-off actions per time bucket, side by side."""
    acts = [a for a in h.actions if str(a.get("kind")) in ACTION_COLORS]
    if not acts:
        return '<p class="empty">No power actions in this window.</p>'
    t0 = h.since if h.since is not None else min(float(a["at"]) for a in acts)
    t1 = max(h.now, max(float(a["at"]) for a in acts))
    width = max((t1 - t0) / buckets, 1e-9)
    count: dict[str, list[int]] = {k: [0] * buckets for k in ACTION_COLORS}
    for a in acts:
        i = min(buckets - 1, max(0, int((float(a["at"]) - t0) / width)))
        count[str(a["kind"])][i] += 1
    ymax = max(1, max(max(v) for v in count.values()))
    iw, ih = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    bw = iw / buckets / (len(count) + 1)
    body = []
    for k, (kind, values) in enumerate(count.items()):
        for i, v in enumerate(values):
            if not v:
                continue
            x = PAD_L + iw * i / buckets + bw * (k + 0.5)
            y = PAD_T + ih - ih * v / ymax
            body.append(f'<rect class="bar" data-kind="{kind}" x="{x:.1f}" y="{y:.1f}" '
                        f'width="{bw:.1f}" height="{PAD_T + ih - y:.1f}" fill="{ACTION_COLORS[kind]}">'
                        f"<title>{v} {kind} from {_e(_t(t0 + i * width))}</title></rect>")  # fmt: skip
    legend = [(k, c) for k, c in ACTION_COLORS.items()]
    return _frame("power actions over time", t0, t1, ymax, "\n".join(body), legend)


# --------------------------------------------------------------------------- page

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#212121}
h1{margin:0 0 4px} h2{margin:28px 0 8px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}
.meta{color:#616161} .cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #e0e0e0;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:22px} .card.bad b{color:#c62828}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eeeeee;vertical-align:top}
th{background:#fafafa} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{background:#ffebee} .empty{color:#757575;font-style:italic}
svg.chart{max-width:100%;height:auto} .grid{stroke:#eeeeee} .frame{fill:none;stroke:#9e9e9e}
.tick{font-size:11px;fill:#616161} .status-ok{color:#2e7d32} .status-failed{color:#c62828}
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], cls: str, row_cls: Sequence[str] = ()) -> str:  # fmt: skip
    if not rows:
        return '<p class="empty">None.</p>'
    head = "".join(f"<th>{_e(c)}</th>" for c in header)
    body = []
    for i, r in enumerate(rows):
        rc = f' class="{row_cls[i]}"' if i < len(row_cls) and row_cls[i] else ""
        body.append(f"<tr{rc}>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>")
    return (
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def render_report(h: History, title: str = "cluesd report") -> str:
    """The whole HTML page for `h`."""
    acts = sorted(h.actions, key=lambda a: (float(a["at"]), a.get("id", 0)), reverse=True)
    by = Counter((str(a.get("kind")), str(a.get("status"))) for a in acts)
    errors_t = [t for t in h.transitions if str(t.get("new")) in ("on_error", "off_error")]
    failed = [a for a in acts if a.get("status") == "failed" or a.get("error")]
    cards = [
        ("power on ok", by[("power_on", "ok")], False),
        ("power on failed", by[("power_on", "failed")], by[("power_on", "failed")] > 0),
        ("power off ok", by[("power_off", "ok")], False),
        ("power off failed", by[("power_off", "failed")], by[("power_off", "failed")] > 0),
        ("transitions", len(h.transitions), False),
        ("errors", len(failed) + len(errors_t), bool(failed or errors_t)),
    ]
    durations: dict[str, list[float]] = defaultdict(list)
    for a in acts:
        if a.get("finished_at") not in (None, "") and a.get("status") == "ok":
            durations[f"{a['kind']} action"].append(float(a["finished_at"]) - float(a["at"]))
    if boots := boot_times(h):
        durations["boot (powering_on → ready)"] = boots
    wait_rows = [[k, s["n"], _dur(s["min"]), _dur(s["median"]), _dur(s["p95"]), _dur(s["max"])]
                 for k, v in sorted(durations.items()) for s in [_stats(v)]]  # fmt: skip
    action_rows = [
        [_t(a["at"]), a.get("node", ""), a.get("kind", ""), a.get("status", ""),
         _dur(float(a["finished_at"]) - float(a["at"])) if a.get("finished_at") else "-",
         a.get("policy", ""), a.get("reason", ""), a.get("error", "")]
        for a in acts
    ]  # fmt: skip
    error_rows = [[_t(a["at"]), a.get("node", ""), f"{a.get('kind')} {a.get('status')}",
                   a.get("error") or a.get("reason", "")] for a in failed]  # fmt: skip
    error_rows += [[_t(t["at"]), t["node"], f"{t['old']} → {t['new']}", t.get("reason", "")]
                   for t in errors_t]  # fmt: skip
    error_rows.sort(key=lambda r: r[0], reverse=True)
    window = f"{_t(h.since)} – {_t(h.now)}" if h.since is not None else f"until {_t(h.now)}"
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Source {_e(h.source)} · {_e(window)} · generated {_e(_t(time.time()))}</p>',
        '<div class="cards">'
        + "".join(
            f'<div class="card{" bad" if bad else ""}"><b>{v}</b>{_e(k)}</div>'
            for k, v, bad in cards
        )
        + "</div>",  # fmt: skip
        '<h2 id="states">Nodes by state over time</h2>',
        states_chart(h),
        '<h2 id="power">Power actions</h2>',
        actions_chart(h),
        '<h2 id="waits">Waits</h2>',
        _table(["what", "count", "min", "median", "p95", "max"], wait_rows, "waits"),
        f'<h2 id="errors">Errors ({len(error_rows)})</h2>',
        _table(["time", "node", "what", "detail"], error_rows, "errors"),
        f'<h2 id="actions">Actions ({len(action_rows)})</h2>',
        _table(
            ["time", "node", "kind", "status", "took", "policy", "reason", "error"],
            action_rows,
            "actions",
            [str(a.get("status", "")) for a in acts],
        ),  # fmt: skip
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
