"""The PowerManager contract, run against every registered power manager harness."""

from __future__ import annotations

import pytest

from clues_py.contracts import NotImplementedByPlugin, PluginError, PowerState
from tests.tools import wait_for

from .conftest import PowerHarness

LIVE = (PowerState.ON, PowerState.BOOTING)


def test_power_on_returns_an_id_and_describe_reflects_it(harness: PowerHarness) -> None:
    node = harness.node("wn-1")
    assert harness.pm.describe(node) == PowerState.OFF
    pid = harness.pm.power_on(node, harness.template)
    assert isinstance(pid, str) and pid
    assert harness.pm.describe(node.with_(provider_id=pid)) in LIVE
    wait_for(lambda: harness.pm.describe(node.with_(provider_id=pid)) == PowerState.ON)


def test_power_off_is_idempotent_and_describe_reports_off(harness: PowerHarness) -> None:
    node = harness.node("wn-2")
    node = node.with_(provider_id=harness.pm.power_on(node, harness.template))
    harness.pm.power_off(node)
    wait_for(lambda: harness.pm.describe(node) == PowerState.OFF)
    harness.pm.power_off(node)  # already off: no error
    harness.pm.power_off(harness.node("wn-never-on"))
    assert harness.pm.describe(node) == PowerState.OFF


def test_list_owned_is_optional_but_honest(harness: PowerHarness) -> None:
    if harness.lists_instances:
        assert isinstance(harness.pm.list_owned(), list)
    else:
        with pytest.raises(NotImplementedByPlugin) as info:
            harness.pm.list_owned()
        assert str(info.value)


def test_list_owned_returns_only_our_tagged_instances(listing_harness: PowerHarness) -> None:
    # Managers of fixed machines are checked to say NotImplementedByPlugin instead
    # (test_list_owned_is_optional_but_honest).
    harness = listing_harness
    ours = harness.node("wn-3")
    theirs = harness.node("wn-4")
    pid = harness.pm.power_on(ours, harness.template)
    harness.other_cluster.power_on(theirs, harness.template)
    owned = harness.pm.list_owned()
    assert [(o.provider_id, o.node_name, o.template) for o in owned] == [(pid, "wn-3", "wn")]
    assert owned[0].state in LIVE
    assert {o.node_name for o in harness.other_cluster.list_owned()} == {"wn-4"}
    harness.pm.power_off(ours.with_(provider_id=pid))
    harness.other_cluster.power_off(theirs)
    wait_for(lambda: all(o.state not in LIVE for o in harness.pm.list_owned()))


def test_power_on_twice_does_not_create_a_second_instance(harness: PowerHarness) -> None:
    node = harness.node("wn-5")
    first = harness.pm.power_on(node, harness.template)
    second = harness.pm.power_on(node, harness.template)
    assert first == second
    if harness.lists_instances:
        assert [o.provider_id for o in harness.pm.list_owned() if o.state in LIVE] == [first]
    else:
        assert harness.pm.describe(node.with_(provider_id=first)) in LIVE
    harness.pm.power_off(node)


def test_failures_are_plugin_errors_with_a_message(harness: PowerHarness) -> None:
    with pytest.raises(PluginError) as info:
        harness.broken.power_on(harness.node("wn-6"), harness.template)
    assert str(info.value)
    if not harness.lists_instances:
        assert harness.pm.describe(harness.node("wn-6")) == PowerState.OFF
        return
    assert harness.pm.list_owned() == [] or all(
        o.node_name != "wn-6" for o in harness.pm.list_owned()
    )
