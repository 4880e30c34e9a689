"""ClusterCache: indexes, per-version conversion reuse, pending rules and relist diffs."""

from __future__ import annotations

import pytest
from k8s_objects import T0_EPOCH, job, node, pod

from plugins.backends.k8s_cache import ClusterCache


def cache_with(*nodes: dict, pods: tuple = (), jobs: tuple = ()) -> ClusterCache:
    c = ClusterCache(pending_grace=5.0)
    c.replace_nodes(list(nodes))
    c.replace_pods(list(pods))
    c.hidden_handlers("jobs")[0](list(jobs))
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
    assert c.hidden_handlers("jobs")[1]("ADDED", job("c", rv="2"))
    assert [h.name for h in c.observe(T0_EPOCH).hidden] == ["a", "c"]
    assert c.hidden_handlers("jobs")[1]("MODIFIED", job("a", suspend=False, rv="3"))
    assert not c.hidden_handlers("jobs")[1]("MODIFIED", job("a", suspend=False, rv="3"))
    assert c.hidden_handlers("jobs")[1]("DELETED", job("c", rv="4"))
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
    assert not c.hidden_handlers("jobs")[1]("ADDED", bad_job)


def test_observe_changes_journals_nodes_and_demand() -> None:
    c = cache_with(node("n1"), node("n2"), pods=(pod("a", node="n1"), pod("w", unschedulable=True)))
    obs, ch = c.observe_changes(T0_EPOCH)
    assert ch.full  # the first call: everything is new
    obs, ch = c.observe_changes(T0_EPOCH)
    assert not ch.full and ch.nodes == frozenset() and dict(ch.pending) == {} and not ch.other
    c.apply_pod("ADDED", pod("b", node="n2", rv="2"))
    c.apply_pod("ADDED", pod("fresh", rv="3"))  # not marked: demand once its grace is over
    obs2, ch = c.observe_changes(T0_EPOCH + 1)
    assert ch.nodes == {"n2"} and dict(ch.pending) == {}
    assert obs2.nodes["n1"] is obs.nodes["n1"] and obs2.pending is obs.pending
    obs3, ch = c.observe_changes(T0_EPOCH + 6)
    assert ch.nodes == frozenset() and list(ch.pending) == ["default/fresh"]
    assert [p.name for p in obs3.pending] == ["fresh", "w"]
    c.apply_pod("MODIFIED", pod("w", node="n1", phase="Running", rv="4"))  # bound: not demand
    c.apply_node("DELETED", node("n2"))
    c.hidden_handlers("jobs")[1]("ADDED", job("j", rv="5"))
    obs4, ch = c.observe_changes(T0_EPOCH + 7)
    assert ch.nodes == {"n1", "n2"} and dict(ch.pending) == {"default/w": None} and ch.other
    assert set(obs4.nodes) == {"n1"} and [p.name for p in obs4.pending] == ["fresh"]
    assert [h.name for h in obs4.hidden] == ["j"]


def test_a_relist_that_changes_pods_is_a_full_change() -> None:
    c = cache_with(node("n1"), pods=(pod("a", node="n1"), pod("w", unschedulable=True)))
    c.observe_changes(T0_EPOCH)
    assert not c.replace_pods([pod("a", node="n1"), pod("w", unschedulable=True)])
    assert not c.observe_changes(T0_EPOCH)[1].full
    assert c.replace_pods([pod("a", node="n1"), pod("v", unschedulable=True)])
    obs, ch = c.observe_changes(T0_EPOCH)
    assert ch.full and dict(ch.pending).keys() == {"default/w", "default/v"}
    assert ch.pending["default/w"] is None and [p.name for p in obs.pending] == ["v"]


def test_pending_stays_sorted_by_creation_then_name() -> None:
    c = cache_with(node("n1"))
    for name, created in (("c", "2026-01-01T00:00:03Z"), ("a", "2026-01-01T00:00:03Z"),
                          ("z", "2026-01-01T00:00:01Z")):  # fmt: skip
        c.apply_pod("ADDED", pod(name, unschedulable=True, created=created))
    assert [p.name for p in c.observe(T0_EPOCH + 10).pending] == ["z", "a", "c"]
    c.apply_pod("DELETED", pod("a"))
    assert [p.name for p in c.observe(T0_EPOCH + 10).pending] == ["z", "c"]
    # Time going back (another caller's clock) re-applies the grace rule from scratch.
    c.apply_pod("ADDED", pod("young", created="2026-01-01T00:00:08Z", rv="9"))
    assert [p.name for p in c.observe(T0_EPOCH + 20).pending] == ["z", "c", "young"]
    assert [p.name for p in c.observe(T0_EPOCH + 10).pending] == ["z", "c"]
