"""The lifecycle table, exhaustively: every (state, fact) pair either has an asserted
transition or is asserted to be a no-op. Pure: virtual `now`, nothing faked."""

from __future__ import annotations

import dataclasses
import random

import pytest

from clues_py.lifecycle import TABLE, Fact, FactKind, Timeouts, advance, backoff, retry_due
from clues_py.model import ManagedNode, NodeState
from tests.factories import make_node, make_observation, make_pod

S = NodeState
K = FactKind
T = Timeouts()
NOW = 11_000.0  # every timeout and retry delay of the canonical nodes has passed

# OBSERVED is split by what the cluster shows; the other kinds carry detail "boom".
OBS_VARIANTS = {
    "ready_idle": make_observation("n"),
    "ready_busy": make_observation("n", pods=[make_pod("job-1")]),
    "notready": make_observation("n", ready=False),
    "missing": None,
}
VARIANTS = [f"observed:{v}" for v in OBS_VARIANTS] + [k.value for k in K if k is not K.OBSERVED]


def fact_for(variant: str) -> Fact:
    if variant.startswith("observed:"):
        return Fact(K.OBSERVED, observation=OBS_VARIANTS[variant.split(":", 1)[1]])
    return Fact(K(variant), detail="boom")


def canonical(state: NodeState) -> ManagedNode:
    """One failed attempt behind it, in its state since t=1000, last Ready at t=1000."""
    common = dict(since=1000.0, attempts=1, retry_at=1100.0, seen_ready_at=1000.0)
    if state in (S.OFF, S.POWERING_ON, S.ON_ERROR):
        return make_node("n", "wn", state, **common)
    if state == S.UNKNOWN:
        return make_node("n", "wn", state, ready=False, **common)
    pods = [make_pod("job-0")] if state == S.USED else []
    return make_node("n", "wn", state, observed=True, pods=pods, **common)


# (state, variant) -> (new state, reason fragment, changed). Missing pairs are no-ops.
EXPECTED: dict[tuple[NodeState, str], tuple[NodeState, str, bool]] = {
    (S.OFF, "power_on_sent"): (S.POWERING_ON, "power-on sent: boom", True),
    (S.OFF, "power_on_failed"): (S.ON_ERROR, "power-on failed: boom (attempt 2 of 3", True),
    (S.OFF, "observed:ready_idle"): (S.IDLE, "appeared without us: adopted", True),
    (S.OFF, "observed:ready_busy"): (S.USED, "appeared without us: adopted (1 workload pod)", True),
    (S.OFF, "provider_on"): (S.POWERING_ON, "did not start it", True),
    (S.POWERING_ON, "observed:ready_idle"): (S.IDLE, "Ready after 10000 s", True),
    (S.POWERING_ON, "observed:ready_busy"): (S.USED, "Ready after", True),
    (S.POWERING_ON, "power_on_failed"): (S.ON_ERROR, "power-on failed: boom", True),
    (S.POWERING_ON, "tick"): (S.ON_ERROR, "not Ready after 600 s", True),
    (S.POWERING_ON, "intent_resumed"): (S.POWERING_ON, "after a restart: boom", True),
    (S.ON_ERROR, "tick"): (S.OFF, "eligible again", True),
    (S.ON_ERROR, "observed:ready_idle"): (S.IDLE, "late boot: recovered", True),
    (S.ON_ERROR, "observed:ready_busy"): (S.USED, "late boot: recovered", True),
    (S.ON_ERROR, "power_off_sent"): (S.ON_ERROR, "clean-up power-off", False),
    (S.IDLE, "observed:ready_busy"): (S.USED, "running 1 workload pod", True),
    (S.IDLE, "observed:notready"): (S.UNKNOWN, "NotReady for 10000 s >= unknown_grace 60 s", True),
    (S.IDLE, "observed:missing"): (S.UNKNOWN, "missing from the cluster for 10000 s", True),
    (S.IDLE, "drain_started"): (S.DRAINING, "drain started: boom", True),
    (S.IDLE, "power_off_failed"): (S.OFF_ERROR, "power-off failed: boom", True),
    (S.IDLE, "provider_off"): (S.IDLE, "shows it Ready; ignored", False),
    (S.USED, "observed:ready_idle"): (S.IDLE, "no workload pods left", True),
    (S.USED, "observed:notready"): (S.UNKNOWN, "NotReady for", True),
    (S.USED, "observed:missing"): (S.UNKNOWN, "missing from the cluster", True),
    (S.USED, "drain_started"): (S.DRAINING, "drain started", True),
    (S.USED, "provider_off"): (S.USED, "ignored", False),
    (S.DRAINING, "drain_aborted"): (S.IDLE, "drain aborted: boom", True),
    (S.DRAINING, "tick"): (S.IDLE, "drain not finished after 300 s", True),
    (S.DRAINING, "power_off_sent"): (S.POWERING_OFF, "power-off sent", True),
    (S.DRAINING, "power_off_failed"): (S.OFF_ERROR, "power-off failed", True),
    (S.DRAINING, "provider_off"): (S.DRAINING, "ignored", False),
    (S.POWERING_OFF, "observed:missing"): (S.OFF, "node gone from the cluster", True),
    (S.POWERING_OFF, "provider_off"): (S.OFF, "provider reports it off", True),
    (S.POWERING_OFF, "tick"): (S.OFF_ERROR, "still present after 300 s", True),
    (S.POWERING_OFF, "intent_resumed"): (S.POWERING_OFF, "after a restart: boom", True),
    (S.POWERING_OFF, "power_off_failed"): (S.OFF_ERROR, "power-off failed: boom", True),
    (S.OFF_ERROR, "observed:missing"): (S.OFF, "node gone", True),
    (S.OFF_ERROR, "provider_off"): (S.OFF, "provider reports it off", True),
    (S.OFF_ERROR, "power_off_sent"): (S.POWERING_OFF, "power-off sent", True),
    (S.OFF_ERROR, "power_off_failed"): (S.OFF_ERROR, "attempt 2 of 3", True),
    (S.OFF_ERROR, "tick"): (S.OFF_ERROR, "power-off retry due", False),
    (S.UNKNOWN, "observed:ready_idle"): (S.IDLE, "Ready again", True),
    (S.UNKNOWN, "observed:ready_busy"): (S.USED, "Ready again (1 workload pod)", True),
    (S.UNKNOWN, "provider_off"): (S.OFF, "provider reports it off", True),
    (S.UNKNOWN, "power_off_failed"): (S.OFF_ERROR, "power-off failed", True),
}
# Operator verbs apply everywhere: RESET lands on OFF unless the node is Ready.
_RESET_TO = {S.IDLE: S.IDLE, S.USED: S.USED, S.DRAINING: S.IDLE, S.POWERING_OFF: S.IDLE}
_RESET_TO |= {S.OFF_ERROR: S.IDLE}
for _s in S:
    EXPECTED[(_s, "reset")] = (_RESET_TO.get(_s, S.OFF), "reset by operator", True)
    EXPECTED[(_s, "disable")] = (_s, "disabled by operator", True)


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_state_fact_pair(state: NodeState, variant: str) -> None:
    node = canonical(state)
    fact = fact_for(variant)
    tr = advance(node, fact, NOW, T)
    assert tr.old == state
    assert tr.reason, "every outcome carries a reason"
    expected = EXPECTED.get((state, variant))
    if expected is None:
        assert tr.new == state and not tr.changed
        if fact.kind is K.OBSERVED:  # only bookkeeping may change
            assert tr.node.with_(observed=None, seen_ready_at=0.0, last_used=0.0) == node.with_(
                observed=None, seen_ready_at=0.0, last_used=0.0
            )
        else:
            assert tr.node == node
        return
    new_state, fragment, changed = expected
    assert (tr.new, tr.node.state) == (new_state, new_state)
    assert fragment in tr.reason
    assert tr.changed is changed
    rule = TABLE[(state, fact.kind)]
    assert new_state in rule.targets


def test_expectations_cover_the_table() -> None:
    """Every table entry is exercised by some expectation (no untested rule)."""
    covered = {(s, fact_for(v).kind) for (s, v) in EXPECTED}
    covered |= {(s, K.ENABLE) for s in S}  # tested below: canonical nodes are enabled
    # Tested below: the canonical nodes have not given up (one attempt behind them).
    covered |= {(S.ON_ERROR, K.PROVIDER_GONE), (S.OFF_ERROR, K.PROVIDER_GONE)}
    assert set(TABLE) <= covered | {(s, K.TICK) for s in (S.IDLE, S.USED)}


def test_enable_toggles_only_enabled() -> None:
    node = canonical(S.IDLE).with_(enabled=False)
    tr = advance(node, Fact(K.ENABLE), NOW, T)
    assert tr.changed and tr.node.enabled and tr.new == S.IDLE and tr.node.since == node.since
    assert not advance(tr.node, Fact(K.ENABLE), NOW, T).changed


def test_boot_timeout_boundary() -> None:
    node = make_node("n", state=S.POWERING_ON, since=100.0)
    assert not advance(node, Fact(K.TICK), 100.0 + T.boot - 1, T).changed
    tr = advance(node, Fact(K.TICK), 100.0 + T.boot, T)
    assert tr.new == S.ON_ERROR
    assert tr.node.attempts == 1 and tr.node.retry_at == 100.0 + T.boot + 30
    assert tr.node.last_error == "not Ready after 600 s"


def test_power_on_success_resets_attempts_and_error() -> None:
    node = make_node("n", state=S.POWERING_ON, since=0.0, attempts=2, last_error="x")
    tr = advance(node, Fact(K.OBSERVED, observation=make_observation("n")), 50.0, T)
    assert tr.new == S.IDLE
    assert (tr.node.attempts, tr.node.last_error, tr.node.since) == (0, "", 50.0)
    assert tr.node.seen_ready_at == 50.0


def test_powering_on_ignores_not_ready_registration() -> None:
    node = make_node("n", state=S.POWERING_ON, since=0.0)
    obs = make_observation("n", ready=False)
    tr = advance(node, Fact(K.OBSERVED, observation=obs), 10.0, T)
    assert tr.new == S.POWERING_ON and not tr.changed and tr.node.observed == obs


def test_backoff_grows_and_caps() -> None:
    assert backoff(0, T) == 0
    assert [backoff(a, T) for a in range(1, 8)] == [30, 60, 120, 240, 480, 900, 900]
    assert backoff(10_000, T) == 900


def test_gives_up_after_max_retries_until_reset() -> None:
    node = make_node("n", state=S.OFF)
    now = 0.0
    for attempt in range(1, T.max_retries + 1):
        node = advance(node, Fact(K.POWER_ON_SENT), now, T).node
        now += T.boot
        tr = advance(node, Fact(K.TICK), now, T)
        assert tr.new == S.ON_ERROR and tr.node.attempts == attempt
        node = tr.node
        if attempt < T.max_retries:
            assert retry_due(node, node.retry_at, T)
            early = advance(node, Fact(K.TICK), node.retry_at - 1, T)
            assert early.new == S.ON_ERROR and not early.changed
            now = node.retry_at
            node = advance(node, Fact(K.TICK), now, T).node
            assert node.state == S.OFF
    assert "giving up until RESET" in tr.reason
    later = advance(node, Fact(K.TICK), now + 10**6, T)
    assert later.new == S.ON_ERROR and not later.changed
    assert "gave up after 3 failed power-ons" in later.reason
    assert not retry_due(node, now + 10**6, T)
    reset = advance(node, Fact(K.RESET), now + 10**6, T)
    assert reset.new == S.OFF and reset.node.attempts == 0 and reset.node.last_error == ""


def test_off_error_gives_up_and_retries_through_powering_off() -> None:
    node = make_node("n", state=S.POWERING_OFF, since=0.0, observed=True)
    tr = advance(node, Fact(K.TICK), T.shutdown, T)
    assert tr.new == S.OFF_ERROR and tr.node.attempts == 1
    retried = advance(tr.node, Fact(K.POWER_OFF_SENT), tr.node.retry_at, T)
    assert retried.new == S.POWERING_OFF and retried.node.attempts == 1
    gone = advance(retried.node, Fact(K.OBSERVED, observation=None), tr.node.retry_at + 5, T)
    assert gone.new == S.OFF and gone.node.attempts == 0
    stuck = make_node("n", state=S.OFF_ERROR, attempts=3, retry_at=0.0, observed=True)
    tick = advance(stuck, Fact(K.TICK), 10**6, T)
    assert tick.new == S.OFF_ERROR and "gave up after 3 failed power-offs" in tick.reason


def test_unknown_grace() -> None:
    node = make_node("n", state=S.IDLE, seen_ready_at=500.0)
    notready = Fact(K.OBSERVED, observation=make_observation("n", ready=False))
    tr = advance(node, notready, 500.0 + T.unknown_grace - 1, T)
    assert tr.new == S.IDLE and not tr.changed and tr.node.seen_ready_at == 500.0
    assert advance(tr.node, Fact(K.TICK), 500.0 + T.unknown_grace - 1, T).new == S.IDLE
    assert advance(tr.node, Fact(K.TICK), 500.0 + T.unknown_grace, T).new == S.UNKNOWN
    back = advance(
        tr.node.with_(state=S.UNKNOWN), Fact(K.OBSERVED, observation=make_observation("n")), 900, T
    )
    assert back.new == S.IDLE


def test_provider_off_on_not_ready_used_node_is_off() -> None:
    node = make_node("n", state=S.USED, ready=False)
    tr = advance(node, Fact(K.PROVIDER_OFF), 10.0, T)
    assert tr.new == S.OFF and "unexpectedly" in tr.reason


def test_observed_bookkeeping_tracks_use() -> None:
    node = make_node("n", state=S.USED, pods=[make_pod("a")], last_used=0.0)
    busy = make_observation("n", pods=[make_pod("a")])
    tr = advance(node, Fact(K.OBSERVED, observation=busy), 70.0, T)
    assert not tr.changed and tr.node.last_used == 70.0 and tr.node.seen_ready_at == 70.0
    tr = advance(tr.node, Fact(K.OBSERVED, observation=make_observation("n")), 90.0, T)
    assert tr.new == S.IDLE and tr.node.last_used == 70.0 and tr.node.since == 90.0


def test_daemonset_pods_do_not_make_a_node_used() -> None:
    obs = make_observation("n", pods=[make_pod("ds", daemonset=True), make_pod("m", mirror=True)])
    tr = advance(make_node("n", state=S.OFF), Fact(K.OBSERVED, observation=obs), 1.0, T)
    assert tr.new == S.IDLE and tr.node.last_used == 0.0


def test_intent_resumed_restarts_the_timeout_without_counting_an_attempt() -> None:
    node = make_node("n", state=S.POWERING_ON, since=0.0, attempts=1)
    tr = advance(node, Fact(K.INTENT_RESUMED, "re-sending"), 700.0, T)
    assert (tr.new, tr.node.since, tr.node.attempts) == (S.POWERING_ON, 700.0, 1)
    assert not advance(tr.node, Fact(K.TICK), 700.0 + T.boot - 1, T).changed


@pytest.mark.parametrize("state", [S.ON_ERROR, S.OFF_ERROR])
def test_a_given_up_node_whose_instance_is_gone_returns_to_off(state: NodeState) -> None:
    node = make_node("n", state=state, since=0.0, attempts=T.max_retries, last_error="x")
    tr = advance(node, Fact(K.PROVIDER_GONE, "reconcile"), 50.0, T)
    assert (tr.new, tr.node.attempts, tr.node.since) == (S.OFF, 0, 50.0)
    assert "given up, and no instance of it is left" in tr.reason
    # Not given up yet: the retry owns it; Ready: the cluster says it runs after all.
    assert not advance(node.with_(attempts=1), Fact(K.PROVIDER_GONE), 50.0, T).changed
    ready = make_node("n", state=state, attempts=T.max_retries, observed=True)
    assert not advance(ready, Fact(K.PROVIDER_GONE), 50.0, T).changed


def test_a_fact_that_records_nothing_returns_the_node_itself() -> None:
    # A full pass applies every node's unchanged observation again: an OFF node (nothing to
    # record) must come back as the same object, so the daemon has nothing to store or re-plan.
    off = make_node("n", "wn", S.OFF)
    assert advance(off, Fact(K.OBSERVED, observation=None), NOW, T).node is off
    obs = make_observation("n", pods=[make_pod("job-1")])
    used = advance(make_node("n", "wn", S.USED), Fact(K.OBSERVED, observation=obs), NOW, T).node
    assert (used.observed, used.seen_ready_at, used.last_used) == (obs, NOW, NOW)
    assert advance(used, Fact(K.OBSERVED, observation=obs), NOW, T).node is used
    later = advance(used, Fact(K.OBSERVED, observation=obs), NOW + 5, T).node
    assert (later.seen_ready_at, later.last_used) == (NOW + 5, NOW + 5)


def test_with_is_dataclasses_replace() -> None:
    node = make_node("n", "wn", S.IDLE)
    rng = random.Random(3)
    values = {
        "state": list(S), "since": [0.0, 5.5], "enabled": [True, False], "attempts": [0, 3],
        "retry_at": [1.0], "provider_id": ["i-1"], "last_used": [2.0], "last_error": ["x"],
        "observed": [None, make_observation("n")], "seen_ready_at": [9.0], "name": ["m"],
        "template": ["t2"],
    }  # fmt: skip
    assert set(values) == {f.name for f in dataclasses.fields(ManagedNode)}
    for _ in range(200):
        changes = {k: rng.choice(v) for k, v in values.items() if rng.random() < 0.3}
        assert node.with_(**changes) == dataclasses.replace(node, **changes)
        node = node.with_(**changes)
    with pytest.raises(TypeError, match="no field"):
        node.with_(colour="blue")
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.with_(since=1.0).since = 2.0  # type: ignore[misc]
