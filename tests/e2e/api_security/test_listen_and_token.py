"""Where and how the API listens: a 0660 Unix socket by default, TCP only with a 0600 bearer
token file (config errors name file:line otherwise), 401 without the token except /healthz,
and the CLI's default address following the daemon's."""

from __future__ import annotations

import http.client
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from clues_py.api.client import ApiClient
from clues_py.cli.main import DEFAULT_CLI_ADDRESS, main
from clues_py.config.load import ConfigError, DaemonConfig, config_from_dict, parse_config
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import base_config

from .test_openapi_fuzz import TOKEN, write_token

pytestmark = pytest.mark.e2e


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "clues.yaml")
    return [str(e) for e in info.value.errors]


def test_default_listen_is_a_unix_socket_and_the_cli_follows() -> None:
    assert DaemonConfig().listen == "unix:/run/clues/clues.sock" == DEFAULT_CLI_ADDRESS
    result = CliRunner(env={"CLUES_ADDRESS": None, "CLUES_CONFIG": None}).invoke(main, ["status"])
    assert result.exit_code == 3
    assert "unix:/run/clues/clues.sock" in result.stderr


def test_tcp_without_token_file_is_a_config_error_at_the_listen_line() -> None:
    errors = _errors("cluster_name: c\ndaemon:\n  tick: 1\n  listen: 0.0.0.0:8484\n")
    assert errors == [
        "clues.yaml:4:11: daemon.listen: TCP listener 0.0.0.0:8484 needs daemon.token_file "
        "(set token_file to a 0600 file holding a random token, "
        "or listen on unix:/run/clues/clues.sock)"
    ]


def test_token_file_must_exist_and_be_0600(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("abc\n")
    token.chmod(0o644)
    text = f"daemon:\n  listen: 127.0.0.1:8484\n  token_file: {token}\n"
    assert _errors(text) == [
        f"clues.yaml:3:15: daemon.token_file: token file {token} has mode 0644; it must be 0600 "
        "(chmod 600 it; it is a secret)"
    ]
    token.chmod(0o600)
    assert parse_config(text).daemon.token_file == str(token)
    missing = tmp_path / "absent"
    (msg,) = _errors(f"daemon:\n  listen: unix:/x.sock\n  token_file: {missing}\n")
    assert msg.startswith(f"clues.yaml:3:15: daemon.token_file: cannot read token file {missing}")


def _get(address: str, path: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_tcp_requests_need_the_bearer_token_except_healthz(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    raw = base_config(sandbox, tmp_path)
    raw["daemon"].update(
        listen="127.0.0.1:0", token_file=str(write_token(tmp_path / "t")), metrics_listen=None
    )
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        addr = service.address
        assert _get(addr, "/healthz") == (200, {"ok": True})
        for path in ("/v1/status", "/v1/nodes", "/v1/openapi.json", "/v1/actions", "/nope"):
            code, body = _get(addr, path)
            assert code == 401 and "token" in str(body["error"]), path
            assert _get(addr, path, "wrong-token")[0] == 401
        code, doc = _get(addr, "/v1/openapi.json", TOKEN)
        assert code == 200 and doc["openapi"].startswith("3.")
        assert _get(addr, "/v1/status", TOKEN)[1]["leader"] is True
        assert ApiClient(addr, token=TOKEN).nodes()
    finally:
        service.stop()


def test_unix_socket_is_0660_and_needs_no_token(sandbox: Sandbox, tmp_path: Path) -> None:
    raw = base_config(sandbox, tmp_path)
    raw["daemon"]["metrics_listen"] = None
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        path = service.address.removeprefix("unix:")
        mode = os.stat(path).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
        assert ApiClient(service.address).status()["cluster"] == "e2e"
    finally:
        service.stop()
    assert not os.path.exists(path)
