"""Property tests over random snapshots: the planner's safety rules always hold."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clues_py.model import ActionKind, NodeState, Resources
from tests.factories import make_node, make_pod, make_snapshot, make_template
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
