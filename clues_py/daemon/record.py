"""Decision records for `clues explain`, written off the loop, only when a decision changes.

`DecisionRecorder` subscribes to the bus; for each plan it only keeps a reference (the
loop never waits for it). Its thread compares the newest plan with the last one it
recorded, with dict-sized set operations, and writes the decisions that changed in one
store transaction. Plans that arrive while it writes are coalesced: it always records the
latest, so a burst of passes costs one diff. Inline (the simulator's daemon) it records
each plan in the publishing thread instead: no thread to wake per pass. A reason that differs only in its numbers
("idle 37 s < idle_time 300 s" -> "idle 38 s ...") is the same decision and is not
written again. Reasons that no template can ever satisfy are logged once per reason, with
a count, not once per pod. What the decisions are is the planner's business; reading them
back is `control.py`'s.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping

from clues_py.daemon.bus import Bus, PlanEvent
from clues_py.model import Plan
from clues_py.planner.packing import never_fits
from clues_py.planner.reasons import changed, gone
from clues_py.store import Store

log = logging.getLogger("clues.daemon")

# Decisions written per plan at most (a burst of 100,000 pods spreads over several plans),
# and per transaction (the loop's own writes wait for the store meanwhile).
MAX_DECISIONS_PER_BATCH = 20_000
ROWS_PER_TRANSACTION = 500
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _among(keys: set[str], reasons: Mapping[str, str]) -> Iterable[str]:
    # A few keys: looked up (a chunked map is not merged for them); many: a set operation.
    return [k for k in keys if k in reasons] if len(keys) < 256 else keys & reasons.keys()


def plan_decisions(plan: Plan, keys: set[str] | None = None) -> dict[str, str]:
    """key -> "policy: reason" for every demand unit and node the plan says something of
    (only `keys`, when given)."""
    by = plan.decided_by
    unplaceable, kept = plan.unplaceable, plan.kept
    out: dict[str, str] = {}
    for k in unplaceable if keys is None else _among(keys, unplaceable):
        out[k] = f"{by.get(k, 'planner')}: {unplaceable[k]}"
    for k in plan.held if keys is None else keys & plan.held.keys():
        out[k] = f"{by.get(k, 'planner')}: not demand: {plan.held[k]}"
    for n in kept if keys is None else {k[5:] for k in keys if k.startswith("node:")} & kept.keys():
        out[f"node:{n}"] = f"{by.get(n, 'planner')}: kept: {kept[n]}"
    for a in plan.actions:
        if keys is None or f"node:{a.node}" in keys:
            out[f"node:{a.node}"] = f"{a.policy}: {a.kind.value}: {a.reason}"
        for k in a.pods:
            if keys is None or k in keys:
                out[k] = f"{a.policy}: {a.kind.value} {a.node} ({a.template}) for it"
    return out


class DecisionRecorder:
    def __init__(self, bus: Bus, store: Store, *, inline: bool = False) -> None:
        self._store = store
        self._cond = threading.Condition()
        self._latest: PlanEvent | None = None
        self._busy = False
        self._stopped = False
        self._recorded = Plan()
        self._written: dict[str, str] = {}  # key -> the decision last written, numbers masked
        self._deferred: set[str] = set()  # changed keys left for the next plan (over the cap)
        self._warned: set[str] = set()
        self.batches = 0
        self._thread: threading.Thread | None = None
        if not inline:
            self._thread = threading.Thread(target=self._run, name="clues-decisions", daemon=True)
            self._thread.start()
        bus.subscribe(self.on_event)

    def on_event(self, event: object) -> None:
        if isinstance(event, PlanEvent):
            if self._thread is None:
                self._record_logged(event)
                return
            with self._cond:
                self._latest = event
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every plan seen so far is recorded (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._latest is None and not self._busy, timeout)

    def stop(self) -> None:
        self.flush()
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    def _record_logged(self, event: PlanEvent) -> None:
        try:
            self.record(event.at, event.plan)
        except Exception:
            log.exception("recording decisions failed")

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._latest is not None or self._stopped)
                if self._latest is None:
                    return
                event, self._latest, self._busy = self._latest, None, True
            try:
                self._record_logged(event)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def record(self, at: float, plan: Plan) -> int:
        """Write what `plan` decides differently from the plan recorded before; returns
        how many decisions were written."""
        old = self._recorded
        keys = changed(plan.unplaceable, old.unplaceable) | changed(plan.held, old.held)
        keys |= {f"node:{n}" for n in changed(plan.kept, old.kept)}
        by_changed = changed(plan.decided_by, old.decided_by)
        keys |= {k for k in by_changed if k in plan.unplaceable or k in plan.held}
        keys |= {f"node:{n}" for n in by_changed if n in plan.kept}
        if plan.actions != old.actions:
            for a in (*plan.actions, *old.actions):
                keys.add(f"node:{a.node}")
                keys.update(a.pods)
        keys |= self._deferred
        current = plan_decisions(plan, keys)
        rows: list[tuple[str, str]] = []
        self._deferred = set()
        for key, reason in current.items():
            masked = _NUMBER.sub("#", reason)
            if self._written.get(key) == masked:
                continue
            if len(rows) >= MAX_DECISIONS_PER_BATCH:
                self._deferred.add(key)
                continue
            self._written[key] = masked
            rows.append((key, reason))
        left = gone(plan.unplaceable, old.unplaceable) | gone(plan.held, old.held)
        left |= {f"node:{n}" for n in gone(plan.kept, old.kept)}
        for key in left - current.keys():
            self._written.pop(key, None)  # decided again later: recorded again
        for i in range(0, len(rows), ROWS_PER_TRANSACTION):
            with self._store.batch():
                for key, reason in rows[i : i + ROWS_PER_TRANSACTION]:
                    self._store.add_decision(at, key, reason)
        self._warn(rows, plan.warnings)
        self._recorded = plan
        self.batches += 1
        return len(rows)

    def _warn(self, rows: list[tuple[str, str]], warnings: Mapping[str, str]) -> None:
        hopeless: dict[str, tuple[str, list[str]]] = {}
        for key, reason in rows:
            if never_fits(reason):
                hopeless.setdefault(_NUMBER.sub("#", reason), (reason, []))[1].append(key)
            elif key in warnings:  # hidden work that stopped holding nodes, failed requests
                log.warning("%s: %s", key, warnings[key])
        if len(self._warned) > 10_000:
            self._warned.clear()
        for masked, (reason, keys) in hopeless.items():
            if masked not in self._warned:
                self._warned.add(masked)
                more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
                log.warning("unplaceable %s%s: %s", keys[0], more, reason)
