"""`reconcile.decide`: pure decisions over store nodes, owned instances and cluster nodes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from clues_py.contracts import OwnedInstance, PowerState
from clues_py.daemon.reconcile import (
    Adopt,
    Decisions,
    Resolution,
    Terminate,
    decide,
    resolve_intent,
)
from clues_py.model import ManagedNode, NodeState

BOOT = 60.0
ON, BOOTING, OFF = PowerState.ON, PowerState.BOOTING, PowerState.OFF


def node(name: str, state: NodeState = NodeState.OFF, pid: str = "", since: float = 0.0):
    return ManagedNode(name=name, template="wn", state=state, provider_id=pid, since=since)


def inst(pid: str, name: str, state: PowerState = ON) -> tuple[str, OwnedInstance]:
    return ("cloud", OwnedInstance(pid, name, "wn", state))


def run(
    nodes: Sequence[ManagedNode],
    instances: Sequence[tuple[str, OwnedInstance]],
    ages: Mapping[str, float] | None = None,
    cluster: Mapping[str, bool] | None = None,
    **kw: object,
) -> Decisions:
    return decide(
        nodes={n.name: n for n in nodes},
        power_of={"wn": "cloud"},
        instances=instances,
        ages=ages or {},
        cluster_nodes=cluster or {},
        boot_timeout=BOOT,
        **{"listed": {"cloud"}, **kw},  # type: ignore[arg-type]
    )


def test_everything_consistent_decides_nothing() -> None:
    d = run([node("wn-1", NodeState.IDLE, "i-1"), node("wn-2")], [inst("i-1", "wn-1")],
            cluster={"wn-1": True})  # fmt: skip
    assert d == Decisions()


def test_running_instance_of_an_off_node_that_is_ready_is_adopted() -> None:
    d = run([node("wn-1")], [inst("i-1", "wn-1")], ages={"i-1": 500}, cluster={"wn-1": True})
    assert d.adopt == (Adopt("wn-1", "i-1", d.adopt[0].reason),)
    assert "found by its tags" in d.adopt[0].reason
    assert d.terminate == ()


def test_young_instance_of_an_off_node_not_joined_yet_is_adopted_as_booting() -> None:
    d = run([node("wn-1")], [inst("i-1", "wn-1", BOOTING)], ages={"i-1": 5})
    assert [a.provider_id for a in d.adopt] == ["i-1"]
    assert "waiting for it to join" in d.adopt[0].reason
    assert d.terminate == ()


def test_instance_that_never_joined_after_boot_timeout_is_terminated() -> None:
    d = run([node("wn-1")], [inst("i-1", "wn-1")], ages={"i-1": BOOT})
    assert d.adopt == ()
    assert [(t.provider_id, t.node) for t in d.terminate] == [("i-1", "wn-1")]
    assert "without joining" in d.terminate[0].reason


def test_failed_boot_still_running_is_terminated_once_old() -> None:
    n = node("wn-1", NodeState.ON_ERROR, "i-1")
    assert run([n], [inst("i-1", "wn-1")], ages={"i-1": BOOT - 1}) == Decisions()
    d = run([n], [inst("i-1", "wn-1")], ages={"i-1": BOOT + 1})
    assert [t.provider_id for t in d.terminate] == ["i-1"]


def test_duplicates_keep_the_store_instance_and_terminate_the_others() -> None:
    d = run(
        [node("wn-1", NodeState.USED, "i-2")],
        [inst("i-1", "wn-1"), inst("i-2", "wn-1"), inst("i-3", "wn-1", BOOTING)],
        ages={"i-1": 900, "i-2": 10, "i-3": 1},
        cluster={"wn-1": True},
    )
    assert sorted(t.provider_id for t in d.terminate) == ["i-1", "i-3"]
    assert all("keeping i-2" in t.reason for t in d.terminate)
    assert d.adopt == ()


def test_duplicates_without_a_stored_id_keep_the_oldest_running_one() -> None:
    d = run(
        [node("wn-1", NodeState.POWERING_ON)],
        [inst("i-a", "wn-1", BOOTING), inst("i-b", "wn-1"), inst("i-c", "wn-1")],
        ages={"i-a": 100, "i-b": 20, "i-c": 30},
    )
    assert [a.provider_id for a in d.adopt] == ["i-c"]
    assert sorted(t.provider_id for t in d.terminate) == ["i-a", "i-b"]


def test_instance_for_an_unknown_node_name_is_terminated() -> None:
    d = run([node("wn-1")], [inst("i-9", "old-7")], ages={"i-9": 1})
    assert [(t.provider_id, t.node) for t in d.terminate] == [("i-9", "old-7")]
    assert "no template has" in d.terminate[0].reason


def test_instances_that_are_off_or_stopping_are_ignored() -> None:
    d = run([node("wn-1")], [inst("i-1", "wn-1", OFF), inst("i-2", "x", PowerState.STOPPING)],
            ages={"i-1": 999, "i-2": 999})  # fmt: skip
    assert d == Decisions()


def test_nodes_being_powered_off_are_left_to_the_fsm() -> None:
    for state in (NodeState.POWERING_OFF, NodeState.OFF_ERROR):
        d = run([node("wn-1", state, "i-1")], [inst("i-1", "wn-1")], ages={"i-1": 999})
        assert d == Decisions(), state


def test_busy_changed_or_unlisted_nodes_are_skipped() -> None:
    instances = [inst("i-1", "wn-1")]
    ages = {"i-1": 999.0}
    assert run([node("wn-1")], instances, ages, busy={"wn-1"}).skipped == ("wn-1",)
    changed = run([node("wn-1", since=50)], instances, ages, listed_at=40)
    assert changed.skipped == ("wn-1",) and changed.terminate == ()
    unlisted = decide(
        nodes={"wn-1": node("wn-1")},
        power_of={"wn": "cloud"},
        instances=instances,
        ages=ages,
        cluster_nodes={},
        boot_timeout=BOOT,
        listed=set(),
    )
    assert unlisted.terminate == () and unlisted.skipped == ("wn-1",)


def test_unmanaged_kubernetes_nodes_are_reported() -> None:
    d = run([node("wn-1")], [], cluster={"master": True, "edge-1": False, "wn-1": True})
    assert d.unmanaged == ("edge-1", "master")
    assert d.terminate == () and d.adopt == ()


def test_store_id_is_refreshed_when_the_tagged_instance_differs() -> None:
    d = run([node("wn-1", NodeState.IDLE, "i-old")], [inst("i-new", "wn-1")], {"i-new": 5},
            cluster={"wn-1": True})  # fmt: skip
    assert [(a.node, a.provider_id) for a in d.adopt] == [("wn-1", "i-new")]
    assert d.terminate == ()


def test_terminations_name_power_manager_and_are_deterministic() -> None:
    instances = [inst("i-2", "ghost"), inst("i-1", "ghost")]
    a = run([], instances, {"i-1": 1, "i-2": 1})
    b = run([], list(reversed(instances)), {"i-1": 1, "i-2": 1})
    assert a == b
    assert [t.power for t in a.terminate] == ["cloud", "cloud"]
    assert isinstance(a.terminate[0], Terminate)


def gave_up(name: str, state: NodeState, pid: str = "") -> ManagedNode:
    return node(name, state, pid).with_(attempts=3)


def test_instance_of_a_node_given_up_on_is_terminated_at_once() -> None:
    nodes = [gave_up("wn-1", NodeState.OFF_ERROR, "i-1"), gave_up("wn-2", NodeState.ON_ERROR)]
    d = run(nodes, [inst("i-1", "wn-1"), inst("i-2", "wn-2", BOOTING)], ages={"i-2": 1})
    assert [(t.node, t.provider_id) for t in d.terminate] == [("wn-1", "i-1"), ("wn-2", "i-2")]
    assert "off_error after 3 failed power-offs (given up until RESET)" in d.terminate[0].reason
    assert "on_error after 3 failed power-ons" in d.terminate[1].reason
    assert d.gone == () and d.adopt == ()


def test_a_given_up_node_still_serving_work_is_not_terminated() -> None:
    n = gave_up("wn-1", NodeState.OFF_ERROR, "i-1")
    busy = run([n], [inst("i-1", "wn-1")], cluster={"wn-1": True}, in_use={"wn-1"})
    assert busy.terminate == ()
    empty = run([n], [inst("i-1", "wn-1")], cluster={"wn-1": True})
    assert [t.provider_id for t in empty.terminate] == ["i-1"]


def test_not_given_up_yet_power_off_failures_are_left_to_the_retry() -> None:
    d = run([node("wn-1", NodeState.OFF_ERROR, "i-1").with_(attempts=1)], [inst("i-1", "wn-1")])
    assert d == Decisions()


def test_a_given_up_node_without_instance_returns_to_off() -> None:
    nodes = [gave_up("wn-1", NodeState.OFF_ERROR), gave_up("wn-2", NodeState.ON_ERROR),
             node("wn-3", NodeState.ON_ERROR).with_(attempts=1), gave_up("wn-4", NodeState.ON_ERROR)]  # fmt: skip
    instances = [inst("i-0", "wn-1", OFF), inst("i-4", "wn-4", PowerState.STOPPING)]
    d = run(nodes, instances)
    assert [g.node for g in d.gone] == ["wn-1", "wn-2"]  # wn-3 retries; wn-4 still stopping
    assert "no instance of wn-1 is left after giving up" in d.gone[0].reason


def test_gone_needs_a_listing_of_its_provider_and_a_settled_node() -> None:
    n = gave_up("wn-1", NodeState.OFF_ERROR)
    assert run([n], [], listed=set()).gone == ()
    assert run([n], [], busy={"wn-1"}).gone == ()
    assert run([n.with_(since=10.0)], [], listed_at=5.0).gone == ()


@pytest.mark.parametrize(
    ("state", "power", "resolution", "words"),
    [
        (NodeState.POWERING_ON, OFF, Resolution.REISSUE, "the power-on was never made"),
        (NodeState.POWERING_ON, BOOTING, Resolution.RESUME, "the power-on was made"),
        (NodeState.POWERING_ON, ON, Resolution.RESUME, "waiting for it to join"),
        (NodeState.POWERING_ON, PowerState.STOPPING, Resolution.ASK_AGAIN, "once it is off"),
        (NodeState.POWERING_OFF, ON, Resolution.REISSUE, "the power-off was never made"),
        (NodeState.POWERING_OFF, BOOTING, Resolution.REISSUE, "re-sending it"),
        (NodeState.POWERING_OFF, OFF, Resolution.RESUME, "the power-off was made"),
        (NodeState.POWERING_OFF, PowerState.STOPPING, Resolution.RESUME, "was made"),
        (NodeState.POWERING_OFF, PowerState.UNKNOWN, Resolution.ASK_AGAIN, "cannot say"),
        (NodeState.POWERING_ON, None, Resolution.ASK_AGAIN, "cannot say"),
    ],
)
def test_resolve_intent(
    state: NodeState, power: PowerState | None, resolution: Resolution, words: str
) -> None:
    got, why = resolve_intent(state, power)
    assert got == resolution and words in why
