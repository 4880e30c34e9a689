"""Redaction by key and by value shape, on 49 common secret names (tests/secret_names.py):
`clues config show`, log lines, API bodies and action errors (which become Events)."""

from __future__ import annotations

import logging

import pytest
import yaml

from clues_py.api.guard import encode
from clues_py.config.load import parse_config
from clues_py.redact import (
    MASK,
    SCRUBBER,
    Scrubber,
    config_secrets,
    effective_config,
    is_secret_key,
    scrub_shapes,
)
from tests.secret_names import SECRETS, SHAPES


def _config() -> str:
    env = yaml.safe_dump({"env": SECRETS}, default_flow_style=False, width=1 << 16)
    indented = "".join(f"    {line}\n" for line in env.splitlines())
    return (
        "power:\n  cmd:\n    kind: command\n    on_command: /bin/true\n"
        "    off_command: /bin/true\n" + indented
    )


def test_at_least_31_names_are_secret_by_key() -> None:
    named = [k for k in SECRETS if is_secret_key(k)]
    assert len(named) >= 31
    assert set(SECRETS) - set(named) == {"AWS_ACCESS_KEY_ID"}  # an id: caught by its shape


def test_references_and_ordinary_keys_are_not_secret() -> None:
    for key in ("token_file", "key_env", "credentials_file", "password_file", "password_env",
                "auth_url", "key_name", "key_pair", "kind", "url", "server_url", "namespace",
                "listen", "on_command", "nodes", "labels", "tick", "region", "host"):  # fmt: skip
        assert not is_secret_key(key), key


def test_config_show_masks_every_name() -> None:
    shown = yaml.safe_dump(effective_config(parse_config(_config(), "c.yaml")))
    env = yaml.safe_load(shown)["power"]["cmd"]["env"]
    for name, value in SECRETS.items():
        assert value not in shown, name
        assert MASK in env[name], name


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_config_values_are_scrubbed_from_logs_and_answers(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    scrubber = Scrubber()
    scrubber.add(config_secrets(parse_config(_config(), "c.yaml")))
    value = SECRETS[name]
    caplog.handler.addFilter(scrubber)
    try:
        logging.getLogger("test.redact").warning("power on failed: %s said %s", name, value)
    finally:
        caplog.handler.removeFilter(scrubber)
    assert value not in caplog.text and MASK in caplog.text
    assert value not in scrubber.scrub(f'{{"error": "{value}"}}')


@pytest.mark.parametrize("what", sorted(SHAPES))
def test_shapes_are_masked_without_knowing_the_value(what: str) -> None:
    secret = SHAPES[what]
    line = f"login failed ({secret}) at node wn-1"
    for clean in (scrub_shapes(line), SCRUBBER.scrub(line), encode({"error": line}).decode()):
        assert MASK in clean and "node wn-1" in clean
        kept = secret.split("=")[0] if what == "pair" else secret.split("@")[-1]
        assert secret not in clean and (what not in ("pair", "url with password") or kept in clean)


def test_ordinary_text_is_left_alone() -> None:
    for text in (
        "wn-1: powering_on -> idle (Ready after 12 s)",
        "GET http://127.0.0.1:6443/api/v1/nodes?watch=true failed",
        "taint key gpu=true:NoSchedule; label node-role.kubernetes.io/worker",
        "token file /etc/clues/token has mode 0644",
        "the Bearer scheme is required",
        "unix:/run/clues/clues.sock",
    ):
        assert scrub_shapes(text) == text
