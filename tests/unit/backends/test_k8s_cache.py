"""ClusterCache: indexes, per-version conversion reuse, pending rules and relist diffs."""

from __future__ import annotations

import pytest
from k8s_objects import T0_EPOCH, job, node, pod

from plugins.backends.k8s_cache import ClusterCache


def cache_with(*nodes: dict, pods: tuple = (), jobs: tuple = ()) -> ClusterCache:
    c = ClusterCache(pending_grace=5.0)
    c.replace_nodes(list(nodes))
    c.replace_pods(list(pods))
    c.replace_jobs(list(jobs))
    return c


def test_nodes_carry_their_non_terminal_pods() -> None:
    c = cache_with(
        node("n1"),
        node("n2"),
        pods=(
            pod("a", node="n1", phase="Running"),
            pod("b", node="n1", phase="Succeeded"),
            pod("c", node="n2", phase="Running", owner=("DaemonSet", "ds")),
        ),
    )
    obs = c.observe(T0_EPOCH)
    assert [p.name for p in obs.nodes["n1"].pods] == ["a"]
    assert [p.name for p in obs.nodes["n2"].pods] == ["c"]
    assert obs.nodes["n2"].workload_pods == ()
    assert obs.pending == ()


def test_pending_needs_unschedulable_or_grace() -> None:
    c = cache_with(
        node("n1"),
        pods=(
            pod("fresh"),
            pod("marked", unschedulable=True),
            pod("gone", unschedulable=True, deleting=True),
            pod("bound", node="n1"),
        ),
    )
    assert [p.name for p in c.observe(T0_EPOCH + 1).pending] == ["marked"]
    assert [p.name for p in c.observe(T0_EPOCH + 6).pending] == ["fresh", "marked"]


def test_events_move_pods_between_indexes() -> None:
    c = cache_with(node("n1"), pods=(pod("p", unschedulable=True),))
    assert [p.name for p in c.observe(T0_EPOCH).pending] == ["p"]
    assert c.apply_pod("MODIFIED", pod("p", node="n1", phase="Running", rv="2"))
    obs = c.observe(T0_EPOCH)
    assert obs.pending == () and [p.name for p in obs.nodes["n1"].pods] == ["p"]
    assert c.apply_pod("DELETED", pod("p", node="n1", rv="3"))
    assert c.observe(T0_EPOCH).nodes["n1"].pods == ()
    assert not c.apply_pod("DELETED", pod("p", rv="4"))


def test_same_resource_version_is_not_reconverted() -> None:
    c = cache_with(node("n1"), pods=(pod("p", node="n1"),))
    before = c.pod("default/p")
    assert not c.apply_pod("MODIFIED", pod("p", node="n1"))
    assert c.pod("default/p") is before
    assert not c.replace_pods([pod("p", node="n1")])
    assert c.pod("default/p") is before
    assert c.apply_pod("MODIFIED", pod("p", node="n1", rv="2", cpu="1"))
    assert c.pod("default/p").info.requests.cpu_millis == 1000


def test_node_observation_is_reused_until_something_changes() -> None:
    c = cache_with(node("n1"), node("n2"), pods=(pod("p", node="n1"),))
    first = c.observe(T0_EPOCH)
    second = c.observe(T0_EPOCH)
    assert second.nodes["n1"] is first.nodes["n1"]
    c.apply_pod("ADDED", pod("q", node="n1", rv="5"))
    third = c.observe(T0_EPOCH)
    assert third.nodes["n1"] is not first.nodes["n1"]
    assert third.nodes["n2"] is first.nodes["n2"]
    assert c.apply_node("MODIFIED", node("n2", rv="2", unschedulable=True))
    assert c.observe(T0_EPOCH).nodes["n2"].unschedulable


def test_relist_reports_and_applies_differences() -> None:
    c = cache_with(node("n1"), node("n2"), pods=(pod("a", node="n1"), pod("b", node="n2")))
    assert not c.replace_nodes([node("n1"), node("n2")])
    assert c.replace_nodes([node("n1")])
    assert c.replace_pods([pod("a", node="n1"), pod("c", unschedulable=True)])
    obs = c.observe(T0_EPOCH)
    assert set(obs.nodes) == {"n1"}
    assert [p.name for p in obs.pending] == ["c"]
    assert c.pod("default/b") is None
    assert c.apply_node("DELETED", node("n1"))
    assert c.observe(T0_EPOCH).nodes == {}


def test_jobs_become_hidden_demand_and_leave_when_resumed() -> None:
    c = cache_with(jobs=(job("a"), job("b", suspend=False)))
    assert [h.name for h in c.observe(T0_EPOCH).hidden] == ["a"]
    assert c.apply_job("ADDED", job("c", rv="2"))
    assert [h.name for h in c.observe(T0_EPOCH).hidden] == ["a", "c"]
    assert c.apply_job("MODIFIED", job("a", suspend=False, rv="3"))
    assert not c.apply_job("MODIFIED", job("a", suspend=False, rv="3"))
    assert c.apply_job("DELETED", job("c", rv="4"))
    assert c.observe(T0_EPOCH).hidden == ()


def test_malformed_objects_are_skipped_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    c = cache_with(node("n1"), pods=(pod("good", node="n1"), pod("bad", cpu="lots")))
    assert c.pod("default/bad") is None and c.pod("default/good") is not None
    assert "default/bad" in caplog.text and "lots" in caplog.text
    # A later bad version of a known pod removes the stale one instead of keeping it.
    assert c.apply_pod("MODIFIED", pod("good", node="n1", rv="2", memory="much"))
    assert c.pod("default/good") is None
    assert c.apply_node("MODIFIED", node("n1", rv="2", cpu="x"))
    assert c.observe(T0_EPOCH).nodes == {}
    bad_job = job("j", rv="9")
    bad_job["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "?"
    assert not c.apply_job("ADDED", bad_job)
