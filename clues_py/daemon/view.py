"""The next `ClusterSnapshot`, kept between passes and updated from what changed.

The daemon tells `ClusterView` which managed nodes it changed (`touch`) and hands it the
backend's observation with its `Changes`; `snapshot()` then rebuilds only those parts:
the node tuple gets the touched entries (unchanged nodes stay the same objects, which is
how the planner's memo finds what changed), unmanaged nodes and learned DaemonSet overhead
follow the nodes whose observation changed (so do the arrivals the demand estimator
learns, `estimator.py`), and the demand carries a version and the
pods that entered or left since the previous snapshot. It also keeps when each piece of
demand was first seen and started waiting (explain, reaction time). A full rebuild follows
a relist, a reload or the periodic resync. Deciding anything is the planner's job; the
node states are the daemon's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from clues_py.contracts import Backend, Changes, Observation
from clues_py.daemon.estimator import DemandRecorder
from clues_py.daemon.learned import DaemonSetOverhead
from clues_py.model import (
    ClusterSnapshot,
    Demand,
    HiddenDemand,
    ManagedNode,
    NodeObservation,
    NodeTemplate,
)


def observe(backend: Backend, now: float) -> tuple[Observation, Changes]:
    """The backend's view and what changed in it; a backend that cannot say changed
    everything, and may change again any time (so the daemon looks again every tick)."""
    observe_changes = getattr(backend, "observe_changes", None)
    if observe_changes is None:
        return backend.observe(now), Changes(full=True, revisit_at=now)
    obs, changes = observe_changes(now)
    return obs, changes


class ClusterView:
    def __init__(
        self, nodes: Mapping[str, ManagedNode], templates: Mapping[str, NodeTemplate]
    ) -> None:
        self.names = sorted(nodes)
        self._pos = {n: i for i, n in enumerate(self.names)}
        self._templates = templates
        self._list: list[ManagedNode] = [nodes[n] for n in self.names]
        self._tuple: tuple[ManagedNode, ...] = tuple(self._list)
        self._touched: set[str] = set()
        self._version = 0
        self._unmanaged: dict[str, NodeObservation] = {}
        self._unmanaged_tuple: tuple[NodeObservation, ...] = ()
        self.ds_overhead = DaemonSetOverhead()
        # When work arrives per template (break-even power-off); the daemon feeds its needs.
        self.demand = DemandRecorder()
        self._admits = {t.name: (t.label_map, t.taints) for t in templates.values()}
        self._net: dict[str, NodeTemplate] = dict(templates)
        self._demand = Demand(version=0)
        self._hidden_keys: dict[str, float] = {}  # hidden key -> created
        # demand key -> when this daemon first saw it pending / when it started waiting
        self.first_seen: dict[str, float] = {}
        self.waiting_since: dict[str, float] = {}

    def touch(self, name: str) -> None:
        """Managed node `name` is not the object the last snapshot holds any more."""
        self._touched.add(name)

    def snapshot(
        self,
        now: float,
        nodes: Mapping[str, ManagedNode],
        obs: Observation,
        changes: Changes,
        *,
        last_scale_up: float,
        template_backoff: Mapping[str, float],
    ) -> ClusterSnapshot:
        full = changes.full
        touched = frozenset(self._touched & self._pos.keys())
        if touched:
            for name in touched:
                self._list[self._pos[name]] = nodes[name]
            self._tuple = tuple(self._list)
        self._touched.clear()
        self._version += 1
        seen = obs.nodes.keys() if full else changes.nodes
        self._follow_nodes(seen, obs, nodes)
        self._learn(now, nodes.keys() if full else seen, obs, changes, nodes)
        self._follow_demand(now, obs, changes)
        return ClusterSnapshot(
            now=now,
            nodes=self._tuple,
            templates=self._net,
            demand=self._demand,
            unmanaged=self._unmanaged_tuple,
            last_scale_up=last_scale_up,
            template_backoff=template_backoff,
            pdbs=obs.pdbs,
            demand_history=self.demand.history(),
            version=self._version,
            base=None if full else self._version - 1,
            changed=touched,
        )

    def _follow_nodes(
        self, names: Iterable[str], obs: Observation, nodes: Mapping[str, ManagedNode]
    ) -> None:
        learned, unmanaged = False, False
        for name in names:
            o = obs.nodes.get(name)
            node = nodes.get(name)
            if node is not None:
                if o is not None and self.ds_overhead.learn(node.template, o):
                    learned = True
                continue
            if o is not None and o.ready and not o.unschedulable:
                if self._unmanaged.get(name) is not o:
                    self._unmanaged[name] = o
                    unmanaged = True
            elif self._unmanaged.pop(name, None) is not None:
                unmanaged = True
        if learned:
            self._net = self.ds_overhead.net(self._templates)
        if unmanaged:
            self._unmanaged_tuple = tuple(self._unmanaged[n] for n in sorted(self._unmanaged))

    def _learn(
        self,
        now: float,
        seen: Iterable[str],
        obs: Observation,
        changes: Changes,
        nodes: Mapping[str, ManagedNode],
    ) -> None:
        """Arrivals: pods new on the managed nodes whose observation changed, and new
        pending pods (every node and pod after a relist)."""
        looked = {n: (nodes[n].template, obs.nodes.get(n)) for n in seen if n in nodes}
        pending = obs.pending if changes.full else changes.pending.values()
        fresh = [p for p in pending if p is not None]
        self.demand.observe(now, looked, fresh, self._admits)

    def _follow_demand(self, now: float, obs: Observation, changes: Changes) -> None:
        prev = self._demand
        if (
            obs.pending is prev.pods
            and obs.hidden is prev.hidden
            and obs.queues is prev.queues
            and obs.local_queues is prev.local_queues
            and obs.kueue == prev.kueue
        ):
            return
        v = (prev.version or 0) + 1
        kueue = (obs.queues, obs.local_queues, obs.kueue)
        if changes.full:
            self._demand = Demand(obs.pending, obs.hidden, *kueue, version=v)
            entered: Iterable[tuple[str, float]] = ((p.key, p.created) for p in obs.pending)
            self._restart_seen({p.key for p in obs.pending})
        else:
            self._demand = Demand(
                obs.pending, obs.hidden, *kueue, version=v, base=prev.version, delta=changes.pending
            )
            entered = [(k, p.created) for k, p in changes.pending.items() if p is not None]
            for k, p in changes.pending.items():
                if p is None:
                    self.first_seen.pop(k, None)
                    self.waiting_since.pop(k, None)
        self._enter(now, entered)

    def _enter(self, now: float, entered: Iterable[tuple[str, float]]) -> None:
        for key, created in entered:
            if key not in self.first_seen:
                self.first_seen[key] = now
                self.waiting_since[key] = created if 0 < created <= now else now

    def _restart_seen(self, pods: set[str]) -> None:
        keep = pods | self._hidden_keys.keys()
        for key in [k for k in self.first_seen if k not in keep]:
            del self.first_seen[key]
            self.waiting_since.pop(key, None)

    def follow_counted(
        self, now: float, hidden: Iterable[HiddenDemand], counted: Mapping[str, int]
    ) -> None:
        """After planning: hidden work the plan counted as demand waits from when it entered
        its current state (decision 0015); hidden work no longer counted is forgotten."""
        fresh = {h.key: h.since or h.created for h in hidden if h.key in counted}
        for key in self._hidden_keys.keys() - fresh.keys():
            self.first_seen.pop(key, None)
            self.waiting_since.pop(key, None)
        self._hidden_keys = fresh
        self._enter(now, fresh.items())

    def pending_since(self) -> Mapping[str, float]:
        """demand key -> first seen (a read-only view; copy it to keep it)."""
        return MappingProxyType(self.first_seen)
