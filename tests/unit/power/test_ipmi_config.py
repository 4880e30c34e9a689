"""`ipmi` settings: per-node over defaults, password sources, clear errors (no BMC needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clues_py.contracts import PluginContext, PluginError
from plugins.power.ipmi import BMC, IPMIPowerManager

CTX = PluginContext("lab", "ipmi")


def _pm(tmp_path: Path, **cfg: object) -> IPMIPowerManager:
    fake = tmp_path / "ipmitool"  # only has to exist on PATH-like lookup
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    cfg.setdefault("ipmitool", str(fake))
    return IPMIPowerManager(IPMIPowerManager.Config(**cfg), CTX)  # type: ignore[arg-type]


def test_node_settings_override_defaults_and_node_pattern(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("x")
    pm = _pm(
        tmp_path,
        defaults=BMC(host="{node}-bmc.lab", user="root", password_file=str(pw)),
        nodes={"wn-2": BMC(host="10.0.0.2", port=6230, user="admin")},
    )
    one = pm._bmc("wn-1")
    assert (one.host, one.port, one.user) == ("wn-1-bmc.lab", 623, "root")
    two = pm._bmc("wn-2")
    assert (two.host, two.port, two.user, two.password_file) == (
        "10.0.0.2",
        6230,
        "admin",
        str(pw),
    )


def test_missing_password_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"power.ipmi.nodes.wn-1.password_file: .* missing"):
        _pm(tmp_path, nodes={"wn-1": BMC(host="h", user="u", password_file="/nonexistent")})


def test_unset_password_env_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_BMC_PW", raising=False)
    with pytest.raises(PluginError, match="NO_SUCH_BMC_PW is not set"):
        _pm(tmp_path, nodes={"wn-1": BMC(host="h", user="u", password_env="NO_SUCH_BMC_PW")})


def test_no_password_source_at_all(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="no password_file or password_env"):
        _pm(tmp_path, nodes={"wn-1": BMC(host="h", user="u")})


def test_node_without_host_fails_when_used(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("x")
    pm = _pm(tmp_path, defaults=BMC(user="u", password_file=str(pw)))
    with pytest.raises(PluginError, match="no BMC address for node wn-9"):
        pm._bmc("wn-9")


def test_missing_ipmitool_says_which_package(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="package `ipmitool`"):
        _pm(tmp_path, ipmitool="/nonexistent/ipmitool")
    assert shutil.which("/nonexistent/ipmitool") is None
