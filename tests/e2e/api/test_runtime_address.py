"""`clues` finds a running `clues demo` through the per-user runtime file (cli/runtime.py).

Real API server on a Unix socket (the daemon behind it is the API tests' FakeControl); the
runtime folder is the test's own (tests/conftest.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from clues_py.api.server import ApiServer
from clues_py.cli import runtime
from clues_py.cli.main import main

pytestmark = pytest.mark.e2e
NO_ADDRESS = {"CLUES_ADDRESS": None, "CLUES_CONFIG": None, "CLUES_TOKEN_FILE": None}


def status() -> int:
    return CliRunner(env=NO_ADDRESS).invoke(main, ["status", "--json"]).exit_code


def test_status_finds_the_published_address_and_forgets_it_after(
    unix_server: ApiServer, private_runtime_dir: Path
) -> None:
    assert status() == 3  # nothing published: the default address, where nobody listens
    path = runtime.publish(unix_server.address)
    assert path == private_runtime_dir / "clues" / "address"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert status() == 0
    runtime.withdraw("unix:/some/other/demo.sock")  # not ours: left alone
    assert status() == 0
    runtime.withdraw(unix_server.address)
    assert not path.exists() and status() == 3


def test_address_and_config_win_over_the_published_one(
    unix_server: ApiServer, tmp_path: Path
) -> None:
    runtime.publish(unix_server.address)
    gone = f"unix:{tmp_path / 'nobody.sock'}"
    result = CliRunner(env={**NO_ADDRESS, "CLUES_ADDRESS": gone}).invoke(main, ["status"])
    assert result.exit_code == 3 and "nobody.sock" in result.stderr
    cfg = tmp_path / "clues.yaml"
    cfg.write_text(f"daemon: {{listen: '{gone}'}}\n")
    result = CliRunner(env=NO_ADDRESS).invoke(main, ["--config", str(cfg), "status"])
    assert result.exit_code == 3 and "nobody.sock" in result.stderr


def test_a_stale_or_untrusted_file_is_ignored(unix_server: ApiServer, tmp_path: Path) -> None:
    path = runtime.publish(f"unix:{tmp_path / 'killed-demo.sock'}")  # its socket is gone
    assert path is not None and runtime.published() is None
    runtime.publish(unix_server.address)
    assert runtime.published() == unix_server.address
    os.chmod(path.parent, 0o777)  # anyone could have planted it
    try:
        assert runtime.published() is None
        assert runtime.publish(unix_server.address) is None
    finally:
        os.chmod(path.parent, 0o700)
