"""Secrets never leave cluesd: a run with a fake BMC password and 49 common secrets (handed to
a power script that prints them on failure, with secrets of known shapes found nowhere in the
config) and an API token; grep the daemon's log (DEBUG), every API answer, the Kubernetes
Events it wrote and `clues config show` for them."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from clues_py.api.client import ApiClient
from clues_py.cli.main import main
from clues_py.redact import MASK, Scrubber, is_secret_key, redact_tree
from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import base_config, pod_manifest, write_config
from tests.secret_names import SECRETS, SHAPES
from tests.tools import command, wait_for, wait_started

from .test_openapi_fuzz import TOKEN, write_token

pytestmark = pytest.mark.e2e

PASSWORD = "bmc-Pa55w0rd-FAKE-7f3a"


def _config(sandbox: Sandbox, tmp: Path) -> Path:
    script = tmp / "power_on.sh"
    # The script leaks every secret it was given, and secrets found nowhere in the config.
    leaks = "".join(f'echo "{n}=${n}" >&2\n' for n in SECRETS)
    leaks += "".join(f"echo '{v}' >&2\n" for v in SHAPES.values())
    script.write_text(
        '#!/bin/sh\necho "login failed for admin:$BMC_PASSWORD" >&2\n' + leaks + "exit 1\n"
    )
    script.chmod(0o755)
    cfg = base_config(sandbox, tmp, max_retries=0)
    cfg["daemon"].update(
        listen="127.0.0.1:0",
        token_file=str(write_token(tmp / "token")),
        metrics_listen=None,
        log_level="DEBUG",
        log_file=str(tmp / "cluesd.log"),
    )
    cfg["power"]["bmc"] = {
        "kind": "command",
        "on_command": str(script),
        "off_command": "/bin/true",
        "env": {"BMC_PASSWORD": PASSWORD, **SECRETS},
    }
    cfg["templates"][0]["power"] = "bmc"
    return write_config(tmp / "clues.yaml", cfg)


def test_no_secret_in_logs_api_events_or_config_show(sandbox: Sandbox, tmp_path: Path) -> None:
    path = _config(sandbox, tmp_path)
    proc = subprocess.Popen([*command("cluesd"), "-c", str(path)])
    try:
        log = tmp_path / "cluesd.log"
        address = wait_started(
            proc,
            lambda: (
                log.exists()
                and (line := [x for x in log.read_text().splitlines() if "API listening on" in x])
                and line[0].split("API listening on ")[1].split()[0]
            ),
            "cluesd up",
            log,
        )
        api = ApiClient(address, token=TOKEN)
        sandbox.store.create("pods", pod_manifest("p0"), "default")
        failed = wait_for(lambda: [a for a in api.actions() if a["status"] == "failed"])
        assert "login failed" in failed[0]["error"]  # the failure is reported...
        outputs = [
            json.dumps(x)
            for x in (api.status(), api.nodes(), api.actions(), api.transitions(), api.health())
        ]
        outputs.append(json.dumps(api._request("GET", "/v1/openapi.json")))
        node_events = lambda: sandbox.store.list("events", "default")[0]  # noqa: E731
        wait_for(lambda: any(e["reason"] == "PowerOnFailed" for e in node_events()))
        events = [e["message"] for e in node_events()]
        assert any("login failed" in m for m in events)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    shown = CliRunner().invoke(main, ["config", "show", str(path)])
    assert shown.exit_code == 0, shown.output
    text = log.read_text()
    assert "login failed" in text  # ...and logged, without the password
    for where, blob in {
        "log": text,
        "api": "\n".join(outputs),
        "events": "\n".join(events),
        "config show": shown.output,
    }.items():
        assert PASSWORD not in blob, where
        assert TOKEN not in blob, where
        for name, value in (*SECRETS.items(), *SHAPES.items()):
            assert value not in blob, (where, name)
    effective = yaml.safe_load(shown.output)
    assert effective["power"]["bmc"]["env"]["BMC_PASSWORD"] == MASK
    assert effective["daemon"]["token_file"] == str(tmp_path / "token")  # a path, not a secret
    assert effective["templates"][0]["power"] == "bmc"


def test_redaction_rules() -> None:
    for key in ("password", "secret_key", "apiToken", "BMC_PASSWORD", "credentials", "auth"):
        assert is_secret_key(key), key
    for key in ("token_file", "key_env", "credentials_file", "auth_url", "key_name", "kind"):
        assert not is_secret_key(key), key
    tree = {"taints": [{"key": "gpu", "value": "x"}], "driver_args": {"key": "AKIA123456"}}
    assert redact_tree(tree) == {
        "taints": [{"key": "gpu", "value": "x"}],
        "driver_args": {"key": MASK},
    }


def test_scrubber_masks_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    scrubber = Scrubber()
    scrubber.add(["hunter2-secret", "abc"])  # too short to mask safely: ignored
    logger = logging.getLogger("test.scrub")
    caplog.handler.addFilter(scrubber)
    try:
        logger.warning("connecting with %s", "hunter2-secret and abc")
        try:
            raise RuntimeError("bad password hunter2-secret")
        except RuntimeError:
            logger.exception("failed")
    finally:
        caplog.handler.removeFilter(scrubber)
    assert "hunter2-secret" not in caplog.text
    assert f"connecting with {MASK} and abc" in caplog.text
    assert f"bad password {MASK}" in caplog.text
