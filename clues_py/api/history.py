"""History queries of the local API: actions and transitions, filtered by node, time and kind.

Pure glue over `DaemonControl` (no HTTP): `app.py` validates the query parameters and calls
`history`; what is stored, and for how long, is the daemon's store's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clues_py.api import MAX_LIMIT, DaemonControl


def history(
    control: DaemonControl,
    resource: str,
    node: str | None,
    limit: int,
    since: float | None,
    kind: Sequence[str],
) -> list[dict[str, Any]]:
    """Actions (by `kind`) or transitions (by new state), newest first, filtered.

    `kind` holds comma lists (the parameter may repeat). With filters the daemon's store is
    asked directly when it has one (SQL `since`); otherwise the newest MAX_LIMIT rows are
    filtered here, which is enough for history that the daemon prunes.
    """
    kinds = frozenset(k for v in kind for k in v.split(",") if k)
    fetch = control.actions if resource == "actions" else control.transitions
    if since is None and not kinds:
        return fetch(node, limit)
    want = MAX_LIMIT if kinds else limit
    store_fetch = getattr(getattr(control, "store", None), resource, None)
    if callable(store_fetch):
        rows = store_fetch(node=node, since=since, limit=want)
    else:
        rows = [r for r in fetch(node, want) if since is None or float(r.get("at", 0)) >= since]
    if kinds:
        field = "kind" if resource == "actions" else "new"
        rows = [r for r in rows if str(r.get(field)) in kinds]
    return list(rows[:limit])
