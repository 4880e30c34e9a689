"""The demand estimator: arrivals and needs per template, bounded, merged, incremental."""

from __future__ import annotations

import pytest

from clues_py.daemon.bus import TransitionEvent
from clues_py.daemon.estimator import DemandRecorder
from clues_py.forecast import DemandHistory, Events
from clues_py.model import NodeState
from tests.factories import make_node, make_observation, make_pod

ADMITS = {"wn": ({}, ()), "gpu": ({"gpu": "yes"}, ())}


def test_needs_are_recorded_per_template_oldest_first() -> None:
    r = DemandRecorder()
    r.record_need("wn", 10.0)
    r.record_need("gpu", 12.0, 2)
    r.record_need("wn", 50.0, 3)
    h = r.history()
    assert h["wn"].needs == Events((10.0, 50.0), (1, 3))
    assert h["gpu"].needs.last == 12.0 and len(h["gpu"].needs) == 1
    assert Events().last == float("-inf") and DemandHistory().arrivals == Events()


def test_events_within_a_second_are_one() -> None:
    r = DemandRecorder()
    for t in (100.0, 100.0, 100.4, 101.0):
        r.record_need("wn", t)
    r.record_need("wn", 103.0)
    assert r.history()["wn"].needs == Events((100.0, 103.0), (4, 1))


def test_memory_is_bounded_and_history_is_a_value() -> None:
    r = DemandRecorder(max_events=3)
    for i in range(10):
        r.record_arrival("wn", i * 10.0)
    before = r.history()["wn"].arrivals
    assert before.times == (70.0, 80.0, 90.0)
    r.record_arrival("wn", 200.0)
    assert before.times == (70.0, 80.0, 90.0)  # a snapshot never changes under the planner
    assert r.history()["wn"].arrivals.times == (80.0, 90.0, 200.0)
    r.record_arrival("wn", 300.0, 0)  # nothing arrived: nothing recorded
    assert len(r.history()["wn"].arrivals) == 3
    assert r.history() is r.history()  # kept until something changes
    kept = r.history()
    r.record_need("wn", 400.0)
    assert r.history() is not kept and r.history()["wn"].needs.last == 400.0
    assert kept["wn"].needs == Events()
    with pytest.raises(ValueError, match="max_events"):
        DemandRecorder(max_events=1)


def test_new_pods_on_a_node_arrive_for_its_template() -> None:
    r = DemandRecorder()
    a = make_observation("wn-1", pods=[make_pod("a"), make_pod("ds", daemonset=True)])
    r.observe(10.0, {"wn-1": ("wn", a)}, (), ADMITS)
    r.observe(20.0, {"wn-1": ("wn", a)}, (), ADMITS)  # same observation: not looked at again
    b = make_observation("wn-1", pods=[make_pod("a"), make_pod("b"), make_pod("c")])
    r.observe(30.0, {"wn-1": ("wn", b), "wn-2": ("wn", None)}, (), ADMITS)
    assert r.history()["wn"].arrivals == Events((10.0, 30.0), (1, 2))


def test_a_pending_pod_arrives_once_for_each_template_that_takes_it() -> None:
    r = DemandRecorder()
    p = make_pod("p")
    r.observe(10.0, {}, [p, make_pod("g", selector={"gpu": "yes"})], ADMITS)
    r.observe(70.0, {"wn-1": ("wn", make_observation("wn-1", pods=[p]))}, (), ADMITS)
    h = r.history()
    assert h["wn"].arrivals == Events((10.0,), (1,)), "bound later: not a second arrival"
    assert h["gpu"].arrivals == Events((10.0,), (2,))


def test_a_node_freed_is_a_release() -> None:
    r = DemandRecorder()
    used, idle = make_node("wn-1", "wn", NodeState.USED), make_node("wn-1", "wn", NodeState.IDLE)
    r.on_event(TransitionEvent(100.0, idle, NodeState.USED, NodeState.IDLE, "work done"))
    r.on_event(TransitionEvent(200.0, used, NodeState.IDLE, NodeState.USED, "work"))
    r.on_event(TransitionEvent(300.0, idle, NodeState.POWERING_ON, NodeState.IDLE, "booted"))
    h = r.history()["wn"]
    assert h.releases == Events((100.0,), (1,)), "only a USED node turning IDLE is one"
    assert h.needs == Events((200.0,), (1,))


def test_a_job_waits_as_long_as_its_slowest_pod_and_the_window_is_bounded() -> None:
    r = DemandRecorder(max_events=3)
    # Pods already running at the first observation (a restart): their waits are unknown.
    old = make_observation("wn-0", pods=[make_pod("old", created=10.0)])
    r.observe(50.0, {"wn-0": ("wn", old)}, (), ADMITS)
    assert r.history()["wn"].waits == ()
    job = [make_pod(f"j-{i}", owner_name="j", created=100.0) for i in range(2)]
    r.observe(130.0, {"wn-1": ("wn", make_observation("wn-1", pods=job[:1]))}, (), ADMITS)
    assert r.history()["wn"].waits == (30.0,)
    # Its second pod starts on another node 60 s after the job was created: one job, 60 s.
    r.observe(160.0, {"wn-2": ("wn", make_observation("wn-2", pods=job[1:]))}, (), ADMITS)
    assert r.history()["wn"].waits == (60.0,)
    # Pods with no creation time (0) say nothing; the oldest jobs leave the window.
    for i, name in enumerate(("a", "b", "c", "none")):
        pod = make_pod(name, created=0.0 if name == "none" else 200.0)
        r.observe(200.0 + i, {f"x-{i}": ("wn", make_observation(f"x-{i}", pods=[pod]))}, (), ADMITS)
    assert r.history()["wn"].waits == (0.0, 1.0, 2.0)
    before = r.history()["wn"].waits
    assert r.history()["wn"].waits is before  # unchanged: the same value, not rebuilt
