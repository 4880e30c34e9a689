"""Incremental planning (a `PlanMemo` kept across passes, snapshots carrying change hints)
gives exactly the plan that planning from scratch gives, over random event sequences.

Each example starts from a random cluster and applies random events the way the daemon
does: a changed node is a new `ManagedNode` object and unchanged ones keep theirs, the
snapshot names the changed nodes (`version`/`base`/`changed`) and the demand its delta
(`Demand.version`/`base`/`delta`). After every event the plan of the memo-carrying planner
is compared with `plan()` from scratch on an equal snapshot without hints, with freshly
built policies. Sometimes the hints are left out (the memo must then diff by identity) or
point to a snapshot the memo never saw (it must rebuild). Nothing is faked.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clues_py.config.load import PluginSpec
from clues_py.contracts import PluginContext
from clues_py.daemon.pipeline import default_chain
from clues_py.forecast import DemandHistory, Events
from clues_py.model import (
    ClusterSnapshot,
    Demand,
    DisruptionBudget,
    HiddenDemand,
    ManagedNode,
    NodeState,
    Plan,
    PodInfo,
    Taint,
)
from clues_py.planner import PlanMemo, plan
from clues_py.planner.admission import BEST_EFFORT_ATOMIC
from clues_py.planner.reasons import changed, gone
from clues_py.plugins import POLICIES, instantiate
from tests.factories import (
    make_hidden,
    make_node,
    make_observation,
    make_pod,
    make_template,
)

S = NodeState
TEMPLATES = {
    t.name: t
    for t in (
        make_template("small", "4", "8Gi", count=6, cost=0.5, labels={"zone": "a"}),
        make_template("big", "16", "64Gi", count=4, cost=2.0, max_count=3),
        make_template(
            "gpu", "8", "32Gi", gpus=2, count=2, labels={"zone": "b"}, taints=[Taint("gpu", "true")]
        ),
    )  # fmt: skip
}
NAMES = sorted(n for t in TEMPLATES.values() for n in t.node_names)
TEMPLATE_OF = {n: t.name for t in TEMPLATES.values() for n in t.node_names}


def policies(grace: float, extra: bool) -> list[Any]:
    """A pipeline using every built-in policy that reads the node index or the bins."""
    ctx = PluginContext("test", "planner")
    specs: list[tuple[str, dict[str, Any]]] = [
        ("scale_up", {"pending_grace": grace}),
        ("min_nodes", {"min_nodes": 2}),
    ]
    if extra:
        specs += [("keep_free", {"nodes": 1}), ("consolidation", {"delay_after_scale_up": 50}),
                  ("pack_down", {"quiet": 40})]  # fmt: skip
    specs += [("idle_off", {"idle_time": 60, "scale_down_delay": 30}),
              ("limits", {"max_booting": 3, "max_nodes": 9})]  # fmt: skip
    out = [instantiate(POLICIES, PluginSpec(k, o, "test", k), ctx) for k, o in specs]
    chain = default_chain(ctx)
    for p in out:
        if hasattr(p, "chain"):
            p.chain = chain
    return out


pod_shape = st.tuples(
    st.sampled_from(["500m", "1", "2", "3", "6", "12", "20"]),
    st.sampled_from(["1Gi", "2Gi", "6Gi", "30Gi"]),
    st.sampled_from([0, 0, 0, 1]),
    st.sampled_from([None, None, "a", "b", "c"]),
)


def pod_from(name: str, shape: tuple[str, str, int, str | None], created: float) -> PodInfo:
    cpu, mem, gpus, zone = shape
    return make_pod(name, cpu, mem, gpus=gpus, selector={"zone": zone} if zone else None,
                    created=created)  # fmt: skip


def node_from(draw: st.DrawFn, name: str, now: float) -> ManagedNode:
    state = draw(st.sampled_from([S.OFF] * 4 + [S.IDLE, S.USED, S.USED, S.POWERING_ON] + list(S)))
    busy = state in (S.USED, S.DRAINING) or (state is S.IDLE and draw(st.booleans()))
    pods = [make_pod(f"{name}-r{j}", "1", "2Gi", daemonset=not busy or j == 0)
            for j in range(draw(st.integers(0, 3)))]  # fmt: skip
    return make_node(
        name,
        TEMPLATE_OF[name],
        state,
        pods=pods if state in (S.IDLE, S.USED, S.DRAINING) else [],
        ready=draw(st.sampled_from([None, None, None, False]))
        if state in (S.IDLE, S.USED)
        else None,
        unschedulable=draw(st.sampled_from([None, None, True])) if state is S.USED else None,
        since=now - draw(st.sampled_from([0.0, 20.0, 70.0, 500.0])),
        last_used=now - draw(st.sampled_from([0.0, 10.0, 100.0])),
        enabled=draw(st.sampled_from([True] * 5 + [False])),
        attempts=draw(st.integers(0, 2)),
        retry_at=now + draw(st.sampled_from([-10.0, -10.0, 15.0])),
    )


class Cluster:
    """The planner's inputs as the daemon keeps them between passes."""

    def __init__(self, nodes: dict[str, ManagedNode], now: float) -> None:
        self.nodes = nodes
        self.now = now
        self.pods: dict[str, PodInfo] = {}
        self.hidden: tuple[HiddenDemand, ...] = ()
        self.unmanaged = (make_observation("master", cpu="8", mem="16Gi"),)
        self.backoff: dict[str, float] = {}
        self.last_scale_up = float("-inf")
        self.pdbs: tuple[DisruptionBudget, ...] = ()
        self.history: dict[str, DemandHistory] = {}
        self.version = 0
        self.changed: set[str] = set()
        self.delta: dict[str, PodInfo | None] = {}
        self.nodes_tuple = tuple(nodes[n] for n in NAMES)
        self.demand = Demand(version=0)

    def set_node(self, node: ManagedNode) -> None:
        self.nodes[node.name] = node
        self.changed.add(node.name)

    def snapshots(self, hints: str) -> tuple[ClusterSnapshot, ClusterSnapshot]:
        """(the daemon's snapshot with hints, an equal one built from scratch)."""
        if self.changed:
            self.nodes_tuple = tuple(self.nodes[n] for n in NAMES)
        pods = tuple(sorted(self.pods.values(), key=lambda p: (p.created, p.namespace, p.name)))
        v = self.version + 1
        if pods != self.demand.pods or self.hidden != self.demand.hidden:
            base = self.demand.version if hints == "hints" else 999
            self.demand = Demand(pods, self.hidden, version=v, base=base, delta=self.delta)
        common: dict[str, Any] = dict(
            now=self.now,
            templates=TEMPLATES,
            unmanaged=self.unmanaged,
            last_scale_up=self.last_scale_up,
            template_backoff=dict(self.backoff),
            pdbs=self.pdbs,
            demand_history=dict(self.history),
        )
        inc = ClusterSnapshot(
            nodes=self.nodes_tuple,
            demand=self.demand,
            **common,
            **(
                dict(version=v, base=self.version, changed=frozenset(self.changed))
                if hints == "hints"
                else {}
            ),  # fmt: skip
        )
        scratch = ClusterSnapshot(
            nodes=tuple(self.nodes[n] for n in NAMES), demand=Demand(pods, self.hidden), **common
        )
        self.version, self.changed, self.delta = v, set(), {}
        return inc, scratch


@st.composite
def clusters(draw: st.DrawFn) -> Cluster:
    now = 1000.0
    c = Cluster({n: node_from(draw, n, now) for n in NAMES}, now)
    for k, shape in enumerate(draw(st.lists(pod_shape, max_size=12))):
        p = pod_from(f"p{k}", shape, now - draw(st.sampled_from([1.0, 40.0, 400.0])))
        c.pods[p.key] = p
    return c


events = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "node",
                "node",
                "node",
                "pod+",
                "pod+",
                "pod-",
                "hidden",
                "time",
                "backoff",
                "scaleup",
                "unmanaged",
                "pdb",
                "history",
            ]  # fmt: skip
        ),
        st.integers(0, 10**6),
    ),
    min_size=1,
    max_size=14,
)


PROVISIONED = (("Accepted", "True", "Accepted"), ("Provisioned", "True", "CapacityIsFound"))


def hidden_from(i: int, seed: int, now: float) -> HiddenDemand:
    """Hidden work of every admission verdict: a Workload holding quota (young, counted or
    past hidden_demand_timeout), a booked ProvisioningRequest, an atomic one, a paused Job."""
    count, age = 1 + (seed >> i) % 4, (0.0, 10.0, 100.0, 700.0)[(seed >> (i + 2)) % 4]
    kind = (seed >> (i + 4)) % 4
    if kind == 1:
        return make_hidden(f"pr{i}", count, "2", "2Gi", kind="ProvisioningRequest",
                           request_class=BEST_EFFORT_ATOMIC, conditions=PROVISIONED,
                           provisioned_at=now - age, created=now - age - 5)  # fmt: skip
    if kind == 2:
        return make_hidden(f"pa{i}", count, "6", "8Gi", kind="ProvisioningRequest",
                           request_class=BEST_EFFORT_ATOMIC, created=now - age)  # fmt: skip
    if kind == 3:
        return make_hidden(f"j{i}", count, "2", "4Gi", kind="Job", created=now - age)
    return make_hidden(f"w{i}", count, "2", "4Gi", created=now - age)


def apply_event(c: Cluster, draw: st.DrawFn, kind: str, seed: int) -> None:
    if kind == "node":
        name = NAMES[seed % len(NAMES)]
        c.set_node(node_from(draw, name, c.now))
    elif kind == "pod+":
        p = pod_from(f"q{seed}", draw(pod_shape), c.now - draw(st.sampled_from([0.0, 2.0, 99.0])))
        c.pods[p.key] = p
        c.delta[p.key] = p
    elif kind == "pod-" and c.pods:
        key = sorted(c.pods)[seed % len(c.pods)]
        del c.pods[key]
        c.delta[key] = None
    elif kind == "hidden":
        c.hidden = tuple(hidden_from(i, seed, c.now) for i in range(seed % 4))
    elif kind == "time":
        c.now += draw(st.sampled_from([1.0, 5.0, 30.0, 61.0]))
    elif kind == "backoff":
        c.backoff = {"small": c.now + 20} if seed % 2 else {}
    elif kind == "scaleup":
        c.last_scale_up = c.now - draw(st.sampled_from([0.0, 40.0, 100.0]))
    elif kind == "unmanaged":
        c.unmanaged = (make_observation("master", cpu=str(4 + seed % 8), mem="16Gi",
                                        unschedulable=seed % 5 == 0),)  # fmt: skip
    elif kind == "history":  # break-even holds (idle_off) and quiet demand (pack_down)
        times = tuple(sorted(c.now - 7.0 * ((seed >> i) % 50) for i in range(seed % 6)))
        c.history = {"small": DemandHistory(Events(times, (1,) * len(times)),
                                            Events(times[::2], (1,) * len(times[::2])))}  # fmt: skip
    elif kind == "pdb":
        c.pdbs = (DisruptionBudget("default", "b", disruptions_allowed=seed % 2),)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    cluster=clusters(),
    steps=events,
    grace=st.sampled_from([0.0, 0.0, 30.0]),
    extra=st.booleans(),
    hints=st.sampled_from(["hints", "hints", "hints", "none", "stale"]),
    data=st.data(),
)
def test_incremental_plans_equal_from_scratch_plans(
    cluster: Cluster, steps: list[tuple[str, int]], grace: float, extra: bool, hints: str,
    data: st.DataObject,
) -> None:  # fmt: skip
    memo = PlanMemo()
    kept = policies(grace, extra)  # the daemon keeps its policies across passes too
    before: Plan | None = None
    for i, (kind, seed) in enumerate([("start", 0), *steps]):
        if kind != "start":
            apply_event(cluster, data.draw, kind, seed)
        inc, scratch = cluster.snapshots(hints if i else "none")
        if hints == "stale" and i:
            inc = replace(inc, base=-1)  # a base the memo never saw: it must not trust it
        got = plan(inc, kept, memo)
        assert got == plan(scratch, policies(grace, extra))
        if before is not None:  # what the recorder and the Events writer see change
            assert_same_changes(got, before)
        before = got


def assert_same_changes(new: Plan, old: Plan) -> None:
    """`reasons.changed`/`gone` (shared chunks skipped by identity) say what plain dicts say."""
    for field in ("unplaceable", "decided_by", "kept", "held"):
        a, b = getattr(new, field), getattr(old, field)
        da, db = dict(a), dict(b)
        assert changed(a, b) == {k for k, _ in da.items() - db.items()}, field
        assert gone(a, b) == db.keys() - da.keys(), field
