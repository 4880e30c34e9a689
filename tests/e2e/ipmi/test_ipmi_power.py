"""The `ipmi` power manager against ipmi_sim: on, soft off, forced off, status, bad credentials."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from clues_py.contracts import PluginContext, PluginError, PowerState
from clues_py.model import ManagedNode, NodeState, NodeTemplate, Resources
from plugins.power.ipmi import BMC, IPMIPowerManager

from .conftest import PASSWORD, USER, Bmc

TEMPLATE = NodeTemplate(name="metal", resources=Resources(4000, 8 << 30), power="ipmi")


def _node(name: str = "wn-1") -> ManagedNode:
    return ManagedNode(name=name, template="metal", state=NodeState.OFF, since=0.0)


def _manager(bmc: Bmc, **overrides: object) -> IPMIPowerManager:
    node = BMC(host="127.0.0.1", port=bmc.port, password_file=str(bmc.password_file))
    kwargs: dict[str, object] = {
        "nodes": {"wn-1": node},
        "defaults": BMC(user=USER),
        "soft_timeout": 2.0,
        "poll_interval": 0.1,
        "retries": 1,
        "retry_timeout": 1,
        **overrides,
    }
    cfg = IPMIPowerManager.Config(**kwargs)  # type: ignore[arg-type]
    return IPMIPowerManager(cfg, PluginContext("e2e", "ipmi", {"metal": TEMPLATE}))


def test_power_on_then_soft_off(bmc: Bmc) -> None:
    pm = _manager(bmc)
    assert pm.describe(_node()) == PowerState.OFF
    pid = pm.power_on(_node(), TEMPLATE)
    assert pid == f"ipmi://127.0.0.1:{bmc.port}"
    assert bmc.power == "1"
    assert "Chassis Power is on" in bmc.ipmitool("chassis", "power", "status")
    assert pm.describe(_node()) == PowerState.ON
    pm.power_off(_node())
    assert bmc.power == "0"
    assert pm.describe(_node()) == PowerState.OFF
    # A soft shutdown was asked for and honoured: no forced power-off.
    calls = bmc.calls()
    assert "0x20 set shutdown 1" in calls
    assert "0x20 set power 0" not in calls


def test_soft_off_that_hangs_is_forced_after_the_timeout(
    bmc: Bmc, caplog: pytest.LogCaptureFixture
) -> None:
    bmc.set_power("1")
    bmc.ignore_soft()
    pm = _manager(bmc, soft_timeout=0.5)
    with caplog.at_level(logging.WARNING, logger="clues.power.ipmi"):
        pm.power_off(_node())
    assert bmc.power == "0"
    calls = bmc.calls()
    assert calls.index("0x20 set shutdown 1") < calls.index("0x20 set power 0")
    assert "forcing power off" in caplog.text


def test_hard_off_when_soft_off_is_disabled(bmc: Bmc) -> None:
    bmc.set_power("1")
    _manager(bmc, soft_off=False).power_off(_node())
    assert bmc.power == "0"
    assert "0x20 set shutdown 1" not in bmc.calls()


def test_password_from_environment(bmc: Bmc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BMC_PASS_TEST", PASSWORD)
    node = BMC(host="127.0.0.1", port=bmc.port, password_env="BMC_PASS_TEST")
    pm = _manager(bmc, nodes={"wn-1": node})
    pm.power_on(_node(), TEMPLATE)
    assert bmc.power == "1"


def test_wrong_password_is_a_clear_error_without_the_password(
    bmc: Bmc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "not-the-Password-42"
    monkeypatch.setenv("BMC_PASS_WRONG", wrong)
    node = BMC(host="127.0.0.1", port=bmc.port, password_env="BMC_PASS_WRONG")
    pm = _manager(bmc, nodes={"wn-1": node})
    with pytest.raises(PluginError) as err:
        pm.power_on(_node(), TEMPLATE)
    msg = str(err.value)
    assert f"127.0.0.1:{bmc.port}" in msg
    assert "wn-1" in msg
    assert "password" in msg  # the hint names what to check
    assert wrong not in msg and PASSWORD not in msg
    assert bmc.power == "0"


def test_unreachable_bmc_fails_within_the_retry_budget(bmc: Bmc) -> None:
    node = BMC(host="127.0.0.1", port=1, password_file=str(bmc.password_file))
    pm = _manager(bmc, nodes={"wn-1": node})
    with pytest.raises(PluginError, match="127.0.0.1:1"):
        pm.describe(_node())
