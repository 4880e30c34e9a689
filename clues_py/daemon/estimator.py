"""The demand estimator: learns, per template, when work arrives and when nodes are needed.

The daemon feeds a `DemandRecorder` every observation (`observe`: new workload pods
are arrivals, and how long each waited since its creation is its job's wait) and
subscribes it to its event bus (`on_event`: a need is an IDLE node taking work, or a
power-on for pending pods; a release is a USED node turning IDLE). `history()` gives
the planner
the immutable `clues_py.forecast.DemandHistory` per template for its snapshot; what
the planner makes of it is `clues_py.planner.breakeven`'s business. Pure: no I/O, no
clock (every call gets its time), bounded memory, incremental (a node whose
observation did not change is not looked at). Not persisted: after a restart the
planner falls back to its safe rule until it has seen new demand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from clues_py.daemon.bus import ActionStarted, TransitionEvent
from clues_py.forecast import DemandHistory, Events
from clues_py.model import ActionKind, NodeObservation, NodeState, PodInfo, Taint

__all__ = ["DemandRecorder"]

# Events closer together than this are one (one pass, one burst of watch events).
MERGE_SECONDS = 1.0
# A pod counted as an arrival is not counted again for this long (pending, then bound).
_REMEMBER_SECONDS = 3600.0


class _Series:
    """Instants and counts, the newest `max_events`, in two lists: a snapshot's tuples are
    C-level copies (of a list, seven times faster than of a deque)."""

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self.times: list[float] = []
        self.counts: list[int] = []
        self.cached: Events | None = None

    def add(self, at: float, count: int) -> None:
        times = self.times
        if times and 0 <= at - times[-1] <= MERGE_SECONDS:
            self.counts[-1] += count
        else:
            times.append(at)
            self.counts.append(count)
            if len(times) > self.max_events:  # the oldest goes, as from a full deque
                del times[0]
                del self.counts[0]
        self.cached = None

    def value(self) -> Events:
        if self.cached is None:
            self.cached = Events(tuple(self.times), tuple(self.counts))
        return self.cached


class _Waits:
    """The newest jobs' waits, one per owner (its slowest pod), oldest first."""

    def __init__(self, max_jobs: int) -> None:
        self.max_jobs = max_jobs
        # A plain dict (insertion order), not an OrderedDict: after a few thousand evictions
        # copying an OrderedDict's values took ten times as long, on every snapshot.
        self.by_owner: dict[str, float] = {}
        self.cached: tuple[float, ...] | None = ()

    def add(self, owner: str, seconds: float) -> None:
        w = self.by_owner
        if seconds > w.get(owner, -1.0):
            w[owner] = seconds
        if len(w) > self.max_jobs:
            del w[next(iter(w))]
        self.cached = None

    def value(self) -> tuple[float, ...]:
        if self.cached is None:
            self.cached = tuple(self.by_owner.values())
        return self.cached


class DemandRecorder:
    """Collects arrivals, needs and releases per template; keeps the newest `max_events` of each."""

    def __init__(self, max_events: int = 512) -> None:
        if max_events < 2:
            raise ValueError(f"max_events must be >= 2, got {max_events}")
        self.max_events = max_events
        self._arrivals: dict[str, _Series] = {}
        self._needs: dict[str, _Series] = {}
        self._releases: dict[str, _Series] = {}
        self._waits: dict[str, _Waits] = {}
        self._since: float | None = None  # the first observation: waits are known after it
        self._seen: dict[str, float] = {}  # pod key -> when it was counted
        self._pruned = float("-inf")
        # node -> the observation last looked at, and its workload pod keys
        self._last_obs: dict[str, NodeObservation | None] = {}
        self._on_node: dict[str, frozenset[str]] = {}
        self._booting_for_demand: set[str] = set()  # its first work is not a second need
        self._history: dict[str, DemandHistory] | None = None  # until the next change

    def _series(self, table: dict[str, _Series], template: str) -> _Series:
        s = table.get(template)
        if s is None:
            s = table[template] = _Series(self.max_events)
        return s

    def record_need(self, template: str, at: float, count: int = 1) -> None:
        """`count` more nodes of `template` were needed at `at`."""
        if count > 0:
            self._series(self._needs, template).add(at, count)
            self._history = None

    def on_event(self, event: object) -> None:
        """Needs from the daemon's bus: a power-on for pending pods, or an IDLE node turning
        USED (not when it is the node just booted for that same work); releases: a USED
        node turning IDLE."""
        if isinstance(event, ActionStarted):
            a = event.action
            if a.kind is ActionKind.POWER_ON and a.pods:
                self.record_need(a.template, event.at)
                self._booting_for_demand.add(a.node)
        elif isinstance(event, TransitionEvent) and event.old != event.new:
            name = event.node.name
            if event.new is NodeState.USED and name in self._booting_for_demand:
                self._booting_for_demand.discard(name)
            elif event.new is NodeState.USED and event.old is NodeState.IDLE:
                self.record_need(event.node.template, event.at)
            elif event.new not in (NodeState.POWERING_ON, NodeState.IDLE):
                self._booting_for_demand.discard(name)
            if event.new is NodeState.IDLE and event.old is NodeState.USED:
                self._series(self._releases, event.node.template).add(event.at, 1)
                self._history = None

    def record_arrival(self, template: str, at: float, count: int = 1) -> None:
        """`count` new workload pods arrived for `template` at `at`."""
        if count > 0:
            self._series(self._arrivals, template).add(at, count)
            self._history = None

    def observe(
        self,
        now: float,
        nodes: Mapping[str, tuple[str, NodeObservation | None]],
        pending: Iterable[PodInfo],
        admits: Mapping[str, tuple[Mapping[str, str], tuple[Taint, ...]]],
    ) -> None:
        """Count the workload pods not seen before as arrivals.

        `nodes`: managed node -> (its template, what the cluster shows of it); a pod new on
        one counts for its template. A pending pod counts for every template in `admits`
        (name -> labels, taints) that would take it, and not again once it is bound.
        Only nodes whose observation changed since the last call are looked at.
        """
        new: dict[str, int] = {}
        if self._since is None:
            self._since = now
        since = max(self._since, 1e-9)  # a pod with no creation time (0) says nothing
        for name, (template, obs) in nodes.items():
            if obs is self._last_obs.get(name, False):
                continue
            self._last_obs[name] = obs
            by_key = {p.key: p for p in obs.workload_pods} if obs is not None else {}
            keys = frozenset(by_key)
            fresh = keys - self._on_node.get(name, frozenset())
            self._on_node[name] = keys
            if not fresh:
                continue
            for key, pod in by_key.items():  # in the observation's order: deterministic
                if key not in fresh:
                    continue
                if pod.created >= since:  # older pods' waits were not watched
                    waits = self._waits.get(template)
                    if waits is None:
                        waits = self._waits[template] = _Waits(self.max_events)
                    waits.add(pod.owner_key, max(0.0, now - pod.created))
                    self._history = None
                if key not in self._seen:
                    self._seen[key] = now
                    new[template] = new.get(template, 0) + 1
        for pod in pending:
            if pod.key in self._seen:
                continue
            self._seen[pod.key] = now
            for name, (labels, taints) in admits.items():
                if pod.placement.why_not(labels, taints) is None:
                    new[name] = new.get(name, 0) + 1
        for name, count in sorted(new.items()):
            self.record_arrival(name, now, count)
        if now - self._pruned > _REMEMBER_SECONDS / 4:
            # Only pending -> bound needs the memory; it is short.
            self._pruned = now
            cutoff = now - _REMEMBER_SECONDS
            self._seen = {k: t for k, t in self._seen.items() if t >= cutoff}

    def history(self) -> Mapping[str, DemandHistory]:
        """template -> its history (the same read-only mapping until something changes)."""
        if self._history is not None:
            return self._history
        names = set(self._arrivals) | set(self._needs) | set(self._releases) | set(self._waits)
        empty, no_waits = _Series(2), _Waits(2)
        self._history = {
            n: DemandHistory(
                self._arrivals.get(n, empty).value(),
                self._needs.get(n, empty).value(),
                self._releases.get(n, empty).value(),
                self._waits.get(n, no_waits).value(),
            )
            for n in sorted(names)
        }
        return self._history
