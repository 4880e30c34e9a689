"""Property tests over random snapshots: the planner's safety rules always hold."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clues_py.model import ActionKind, DisruptionBudget, NodeState, Resources, to_int
from clues_py.planner import plan
from tests.factories import make_hidden, make_node, make_pod, make_snapshot, make_template
from tests.unit.planner.helpers import run

S = NodeState
ON_OR_BOOTING = {S.POWERING_ON, S.IDLE, S.USED, S.DRAINING, S.POWERING_OFF, S.UNKNOWN}

templates_st = st.lists(
    st.builds(
        lambda i, cpu, mem, gpus, zone, max_count: make_template(
            f"t{i}", str(cpu), f"{mem}Gi", gpus=gpus, labels={"zone": zone}, max_count=max_count
        ),
        st.integers(0, 1000),
        st.integers(2, 8),
        st.integers(4, 16),
        st.sampled_from([0, 0, 1]),
        st.sampled_from(["a", "b"]),
        st.one_of(st.none(), st.integers(0, 4)),
    ),
    min_size=0,
    max_size=3,
    unique_by=lambda t: t.name,
)
pod_st = st.tuples(
    st.sampled_from([1, 1, 2, 3, 4, 10]),  # cpu
    st.sampled_from([1, 2, 4, 8, 20]),  # GiB
    st.sampled_from([0, 0, 0, 0, 0, 1]),  # gpus
    st.sampled_from([None, None, None, "a", "b"]),  # zone selector
    st.sampled_from(["work", "work", "ds"]),
)


@st.composite
def snapshots(draw):
    templates = draw(templates_st)
    names = [t.name for t in templates] or ["ghost"]
    nodes = []
    for i in range(draw(st.integers(0, 12))):
        state = draw(st.sampled_from([S.OFF] * 5 + [S.IDLE] * 3 + list(S)))
        pods = [
            make_pod(f"r{i}-{j}", str(c), f"{m}Gi", gpus=0, daemonset=kind == "ds")
            for j, (c, m, _, _, kind) in enumerate(draw(st.lists(pod_st, max_size=3)))
        ]
        nodes.append(
            make_node(
                f"n{i}",
                draw(st.sampled_from(names)),
                state,
                pods=pods if state in (S.IDLE, S.USED, S.DRAINING) else [],
                since=draw(st.sampled_from([0.0, 900.0, 990.0])),
                enabled=draw(st.sampled_from([True, True, True, False])),
                retry_at=draw(st.sampled_from([0.0, 0.0, 5000.0])),
            )
        )
    pending = [
        make_pod(f"p{k}", str(c), f"{m}Gi", gpus=g, selector={"zone": z} if z else None)
        for k, (c, m, g, z, _) in enumerate(draw(st.lists(pod_st, max_size=15)))
    ]
    return make_snapshot(nodes, templates, pending=pending, now=1000.0)


settings_st = st.fixed_dictionaries(
    {
        "max_booting": st.integers(0, 4),
        "max_nodes": st.one_of(st.none(), st.integers(0, 8)),
        "min_nodes": st.integers(0, 3),
        "idle_time": st.sampled_from([0, 50, 300]),
    }
)


def fits_some_template(pod, snap) -> bool:
    probe = Resources(pod.requests.cpu_millis, pod.requests.memory_bytes, pod.requests.gpus, 0)
    return any(
        pod.placement.why_not(t.label_map, t.taints) is None and probe.fits(t.resources)
        for t in snap.templates.values()
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=snapshots(), cfg=settings_st)
def test_planner_safety_properties(snap, cfg) -> None:
    p = run(snap, **cfg)
    assert p == run(snap, **cfg), "same snapshot, same plan"
    by_name = {n.name: n for n in snap.nodes}
    acted = [a.node for a in p.actions]
    assert len(acted) == len(set(acted)), "at most one action per node"
    power_ons = [a for a in p.actions if a.kind is ActionKind.POWER_ON]
    for a in p.actions:
        node = by_name[a.node]
        assert a.reason and a.policy
        assert node.enabled, "disabled nodes are never acted on"
        if a.kind is ActionKind.POWER_OFF:
            assert node.state is S.IDLE and not node.workload_pods
        else:
            assert node.state is S.OFF and node.retry_at <= snap.now
            assert node.template in snap.templates
    booting = sum(1 for n in snap.nodes if n.state is S.POWERING_ON)
    assert len(power_ons) <= max(0, cfg["max_booting"] - booting)
    if cfg["max_nodes"] is not None:
        on = sum(1 for n in snap.nodes if n.state in ON_OR_BOOTING)
        assert len(power_ons) <= max(0, cfg["max_nodes"] - on)
    for t in snap.templates.values():
        if t.max_count is not None:
            not_off = sum(1 for n in snap.nodes if n.template == t.name and n.state is not S.OFF)
            started = sum(1 for a in power_ons if a.template == t.name)
            assert started == 0 or not_off + started <= t.max_count
    pods_served = {k for a in power_ons for k in a.pods}
    for pod in snap.demand.pods:
        if not fits_some_template(pod, snap):
            assert pod.key not in pods_served
            assert pod.key in p.unplaceable
    for a in power_ons:  # what a node was opened for fits its template
        t = snap.templates[a.template]
        need = sum(
            (pod.requests for pod in snap.demand.pods if pod.key in a.pods), start=Resources()
        )
        assert need.fits(
            Resources(t.resources.cpu_millis, t.resources.memory_bytes, t.resources.gpus, 110)
        )


# --------------------------------------------------------------------------- full pipeline


def _pipeline(limits: dict, consolidate: bool, keep_free: int):
    from plugins.policies.consolidation import Consolidation
    from plugins.policies.idle_off import IdleOff
    from plugins.policies.keep_free import KeepFree
    from plugins.policies.limits import Limits
    from plugins.policies.min_nodes import MinNodes
    from plugins.policies.pack_down import PackDown
    from plugins.policies.scale_up import ScaleUp

    out = [ScaleUp()]
    if keep_free:
        out.append(KeepFree(KeepFree.Config(nodes=keep_free)))
    out += [
        MinNodes(MinNodes.Config(1)),
        PackDown(PackDown.Config(quiet=60)),
        IdleOff(IdleOff.Config(idle_time=50)),
    ]
    if consolidate:
        out.append(Consolidation(Consolidation.Config(delay_after_scale_up=0)))
    return [*out, Limits(Limits.Config(**limits))]


limits_st = st.fixed_dictionaries(
    {
        "max_booting": st.one_of(st.none(), st.integers(0, 4)),
        "max_nodes": st.one_of(st.none(), st.integers(0, 8)),
        "max_cores": st.one_of(st.none(), st.sampled_from([0, 4, 10, 24])),
        "max_memory": st.one_of(st.none(), st.sampled_from(["8Gi", "40Gi"])),
        "max_cost_per_hour": st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.5])),
    }
)


def _totals(snap, nodes_on):
    cpu = mem = 0
    cost = 0.0
    for n in nodes_on:
        t = snap.templates.get(n.template)
        if t is not None:
            cpu += t.resources.cpu_millis
            mem += t.resources.memory_bytes
            cost += t.cost_per_hour
    return len(nodes_on), cpu, mem, cost


def _servable(r, placement, snap, gpu_rule: bool = False) -> bool:
    """Some template admits and holds it (with `gpu_rule`, GPU templates only for GPU work)."""
    probe = Resources(r.cpu_millis, r.memory_bytes, r.gpus, 0)
    return any(
        placement.why_not(t.label_map, t.taints) is None
        and probe.fits(t.resources)
        and (r.gpus or not t.resources.gpus or not gpu_rule)
        for t in snap.templates.values()
    )


def check_plan(snap, p, limits: dict) -> None:
    from clues_py.planner.drainability import DrainContext, check_node

    by_name = {n.name: n for n in snap.nodes}
    power_ons = [a for a in p.actions if a.kind is ActionKind.POWER_ON]
    for a in p.actions:
        node = by_name[a.node]
        assert a.reason and a.policy and node.enabled
        if a.kind is ActionKind.POWER_OFF:
            if a.policy == "consolidation":
                assert node.state is S.USED
                assert check_node(node.observed.pods, DrainContext.of(snap.pdbs)).ok
            else:
                assert node.state is S.IDLE and not node.workload_pods, (
                    "never power off a node running non-DaemonSet pods"
                )
    if power_ons:
        before = [n for n in snap.nodes if n.state in ON_OR_BOOTING]
        after = before + [by_name[a.node] for a in power_ons]
        n_after, cpu, mem, cost = _totals(snap, after)
        booting = sum(1 for n in snap.nodes if n.state is S.POWERING_ON) + len(power_ons)
        if limits["max_booting"] is not None:
            assert booting <= limits["max_booting"]
        if limits["max_nodes"] is not None:
            assert n_after <= limits["max_nodes"]
        if limits["max_cores"] is not None:
            assert cpu <= limits["max_cores"] * 1000
        if limits["max_memory"] is not None:
            assert mem <= to_int(limits["max_memory"])
        if limits["max_cost_per_hour"] is not None:
            assert cost <= limits["max_cost_per_hour"] + 1e-9
    served = {k for a in power_ons for k in a.pods}
    demand = {p.key: (p.requests, p.placement) for p in snap.demand.pods}
    demand |= {h.key: (h.per_pod, h.placement) for h in snap.demand.hidden}
    for a in power_ons:
        if a.policy == "scale_up":  # opened for at least one unit only this template can hold
            assert any(_servable(*demand[k], snap, gpu_rule=True) for k in a.pods)
    for pod in snap.demand.pods:
        if not _servable(pod.requests, pod.placement, snap):
            assert pod.key not in served and pod.key in p.unplaceable
    for h in snap.demand.hidden:
        if h.kind == "Job" or (h.kind == "Workload" and not h.reserved):
            # Admission rules (decision 0010): a Workload without reserved quota, or a
            # suspended Job, never causes a power-on; it is held, with the reason.
            assert h.key not in served and h.key in p.held
        elif h.count > 0 and not _servable(h.per_pod, h.placement, snap):
            # unplaceable, or not demand at all (stale, counted as its request)
            assert h.key not in served and (h.key in p.unplaceable or h.key in p.held)


@st.composite
def rich_snapshots(draw):
    """`snapshots()` plus hidden work (Workloads with and without reserved quota, suspended
    Jobs with and without a queue), costs, owners, protections and PDBs."""
    snap = draw(snapshots())
    templates = {
        n: replace(t, cost_per_hour=draw(st.sampled_from([0.0, 0.5, 1.0])))
        for n, t in snap.templates.items()
    }
    hidden = [
        make_hidden(
            f"j{i}",
            count,
            str(cpu),
            f"{mem}Gi",
            gpus=g,
            kind=kind,
            reserved=reserved,
            queue="q" if kind == "Job" and reserved else "",
        )
        for i, (cpu, mem, g, count, kind, reserved) in enumerate(
            draw(
                st.lists(
                    st.tuples(
                        st.sampled_from([1, 2, 12]),
                        st.sampled_from([1, 4, 64]),
                        st.sampled_from([0, 0, 1]),
                        st.integers(0, 5),
                        st.sampled_from(["Workload", "Workload", "Job"]),
                        st.booleans(),
                    ),
                    max_size=4,
                )
            )
        )
    ]
    nodes = []
    for n in snap.nodes:
        if n.observed is not None and n.observed.pods:
            pods = tuple(
                replace(
                    p,
                    labels=(("app", draw(st.sampled_from(["a", "b"]))),),
                    owner_kind=draw(st.sampled_from(["ReplicaSet", "ReplicaSet", "Job", ""])),
                    protected=draw(st.sampled_from([False, False, False, True])),
                )
                for p in n.observed.pods
            )
            n = n.with_(observed=replace(n.observed, pods=pods))
        nodes.append(n)
    pdbs = tuple(
        DisruptionBudget("default", f"pdb-{app}", (("app", app),), (), draw(st.integers(0, 2)))
        for app in draw(st.lists(st.sampled_from(["a", "b"]), unique=True))
    )
    return replace(
        snap,
        nodes=tuple(nodes),
        templates=templates,
        demand=replace(snap.demand, hidden=tuple(hidden)),
        pdbs=pdbs,
        last_scale_up=draw(st.sampled_from([float("-inf"), 990.0])),
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    snap=rich_snapshots(),
    limits=limits_st,
    consolidate=st.booleans(),
    keep_free=st.integers(0, 2),
)
def test_full_pipeline_safety(snap, limits, consolidate, keep_free) -> None:
    pipeline = _pipeline(limits, consolidate, keep_free)
    p = plan(snap, pipeline)
    assert p == plan(snap, pipeline), "same snapshot, same plan"
    check_plan(snap, p, limits)


def _step(snap, p, event: int, now: float):
    """Apply a plan as the daemon would (instantly) and one random cluster event."""
    acted = {a.node: a for a in p.actions}
    nodes = []
    for n in snap.nodes:
        a = acted.get(n.name)
        if a is not None and a.kind is ActionKind.POWER_ON:
            n = n.with_(state=S.POWERING_ON, since=now)
        elif a is not None:
            n = n.with_(state=S.OFF, since=now, observed=None)
        elif event == 0 and n.state is S.POWERING_ON:  # a booting node comes up
            t = snap.templates.get(n.template)
            n = make_node(
                n.name, n.template, S.IDLE, since=now, cpu=format_cpu(t), mem=format_mem(t)
            )
        elif event == 1 and n.state is S.USED and n.observed is not None:  # its work ends
            ds = tuple(q for q in n.observed.pods if q.daemonset)
            n = n.with_(state=S.IDLE, since=now, observed=replace(n.observed, pods=ds))
        nodes.append(n)
    pending = snap.demand.pods if event != 2 else snap.demand.pods[1:]
    if event == 3:
        pending = (*pending, make_pod(f"late-{now:.0f}", "2", "2Gi"))
    return replace(
        snap,
        now=now,
        nodes=tuple(nodes),
        demand=replace(snap.demand, pods=tuple(pending)),
        last_scale_up=now
        if any(a.kind is ActionKind.POWER_ON for a in p.actions)
        else snap.last_scale_up,
    )


def format_cpu(t) -> str:
    return f"{t.resources.cpu_millis}m" if t else "4"


def format_mem(t) -> str:
    return str(t.resources.memory_bytes) if t else "8Gi"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    snap=rich_snapshots(),
    limits=limits_st,
    consolidate=st.booleans(),
    events=st.lists(st.integers(0, 4), min_size=1, max_size=6),
)
def test_event_sequences_keep_the_safety_rules(snap, limits, consolidate, events) -> None:
    pipeline = _pipeline(limits, consolidate, 1)
    now = snap.now
    for event in events:
        p = plan(snap, pipeline)
        check_plan(snap, p, limits)
        now += 60
        snap = _step(snap, p, event, now)


@st.composite
def kueue_snapshots(draw):
    """`snapshots()` plus Kueue work: Workloads with and without reserved quota, their Jobs,
    ProvisioningRequests for some of the reserved ones, at random ages and request states."""
    snap = draw(snapshots())
    hidden = []
    for i in range(draw(st.integers(0, 5))):
        reserved = draw(st.booleans())
        count = draw(st.integers(1, 6))
        cpu = str(draw(st.sampled_from([1, 2, 4])))
        since = draw(st.sampled_from([100.0, 900.0, 990.0]))
        name = f"wl{i}"
        hidden.append(make_hidden(f"job{i}", count, cpu, "1Gi", kind="Job", queue="q"))
        hidden.append(
            make_hidden(
                name,
                count,
                cpu,
                "1Gi",
                reserved=reserved,
                since=since,
                queue="q",
                owner=f"default/job{i}",
                message="" if reserved else "no quota",
            )
        )
        if reserved and draw(st.booleans()):
            provisioned = draw(st.booleans())
            conditions = (("Provisioned", "True", "CapacityIsFound"),) if provisioned else ()
            hidden.append(
                make_hidden(
                    f"{name}-prov-1",
                    count,
                    cpu,
                    "1Gi",
                    kind="ProvisioningRequest",
                    owner=f"default/{name}",
                    conditions=conditions,
                    provisioned_at=980.0 if provisioned else 0.0,
                    request_class=draw(
                        st.sampled_from(
                            [
                                "check-capacity.autoscaling.x-k8s.io",
                                "best-effort-atomic-scale-up.autoscaling.x-k8s.io",
                            ]
                        )
                    ),
                )
            )
    return replace(snap, demand=replace(snap.demand, hidden=tuple(hidden), kueue=True))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=kueue_snapshots(), limits=limits_st, keep_free=st.integers(0, 1))
def test_no_power_on_is_caused_by_a_workload_without_reserved_quota(snap, limits, keep_free):
    p = plan(snap, _pipeline(limits, False, keep_free))
    unreserved = {h.key for h in snap.demand.hidden if h.kind == "Workload" and not h.reserved}
    jobs = {h.key for h in snap.demand.hidden if h.kind == "Job"}
    for a in p.actions:
        if a.kind is ActionKind.POWER_ON:
            assert not (set(a.pods) & (unreserved | jobs)), a
    assert not (set(p.counted) & (unreserved | jobs))
    for key in unreserved | jobs:
        assert key in p.held  # and `clues explain` can say why
    check_plan(snap, p, limits)


# --------------------------------------------------------------------------- break-even


def _history(draw, now: float):
    """A demand history (arrivals, needs) ending near `now`, from a few gap sizes."""
    from clues_py.forecast import DemandHistory, Events

    def events():
        gaps = draw(st.lists(st.sampled_from([1.0, 5.0, 30.0, 90.0, 400.0]), max_size=6))
        t = now - draw(st.sampled_from([0.0, 10.0, 200.0, 2000.0]))
        times = [t]
        for g in gaps:
            times.append(times[-1] - g)
        times.reverse()
        return Events(tuple(times), tuple(draw(st.integers(1, 3)) for _ in times))

    return DemandHistory(events(), events())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    snap=rich_snapshots(),
    data=st.data(),
    limits=limits_st,
    consolidate=st.booleans(),
    keep_free=st.integers(0, 1),
    events=st.lists(st.tuples(st.integers(0, 4), st.sampled_from([5.0, 20.0, 60.0])),
                    min_size=2, max_size=6),
)  # fmt: skip
def test_no_power_cycle_within_break_even_for_demand_already_visible(
    snap, data, limits, consolidate, keep_free, events
) -> None:
    """A node powered off is not powered on again within its break-even time for demand
    that was already pending, and fitted on it, when it went off (it should have stayed on)."""
    from clues_py.planner.breakeven import break_even_seconds
    from clues_py.planner.room import free_room

    pipeline = _pipeline(limits, consolidate, keep_free)
    history = {t: _history(data.draw, snap.now) for t in sorted(snap.templates)}
    snap = replace(snap, demand_history=history)
    went_off: dict[str, tuple[float, set[str]]] = {}
    for event, dt in events:
        p = plan(snap, pipeline)
        check_plan(snap, p, limits)
        by_name = {n.name: n for n in snap.nodes}
        for a in p.actions:
            if a.kind is ActionKind.POWER_OFF:
                obs = by_name[a.node].observed
                room = free_room(obs) if obs is not None else Resources()
                labels, taints = (dict(obs.labels), obs.taints) if obs else ({}, ())
                demand = [(q.key, q.requests, q.placement) for q in snap.demand.pods]
                demand += [(h.key, h.per_pod, h.placement) for h in snap.demand.hidden]
                fitted = {
                    key
                    for key, req, placement in demand
                    if (req if req.pods else req + Resources(pods=1)).fits(room)
                    and placement.why_not(labels, taints) is None
                }
                went_off[a.node] = (snap.now, fitted)
            elif a.pods and a.node in went_off:
                t_off, seen = went_off[a.node]
                cycle = break_even_seconds(snap.templates[a.template])
                assert snap.now - t_off >= cycle or not set(a.pods) <= seen, (
                    f"{a.node} off at {t_off} and on at {snap.now} for {a.pods}, "
                    "all pending when it went off"
                )
        snap = _step(snap, p, event, snap.now + dt)
