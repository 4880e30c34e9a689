"""The `hooks:` section of the YAML config: shorthand, defaults and file:line errors."""

from __future__ import annotations

import pytest

from clues_py.config.load import ConfigError, HookConfig, parse_config


def test_hooks_section_with_shorthands_and_defaults() -> None:
    cfg = parse_config(
        "hooks:\n"
        "  pre_power_off: {command: /usr/local/bin/may-stop, timeout: 10}\n"
        "  on_idle: [logger, -t, clues, idle]\n"
        "  on_error: notify-admins --urgent\n"
        "  post_power_on: {command: 'echo $CLUES_NODE >> /tmp/x', shell: true}\n"
    )
    assert cfg.hooks == {
        "pre_power_off": HookConfig("/usr/local/bin/may-stop", timeout=10.0),
        "on_idle": HookConfig(("logger", "-t", "clues", "idle")),
        "on_error": HookConfig("notify-admins --urgent"),
        "post_power_on": HookConfig("echo $CLUES_NODE >> /tmp/x", shell=True),
    }
    assert parse_config("cluster_name: x\n").hooks == {}


def test_hooks_errors_name_file_line_and_key() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(
            "hooks:\n"
            "  pre_power_of: x\n"
            "  on_idle: {command: x, cancel_on_failure: false}\n"
            "  on_used: {command: '', timeout: 0}\n"
            '  on_error: "notify \'unbalanced"\n',
            "clues.yaml",
        )
    text = str(err.value)
    assert "clues.yaml:2:3: hooks.pre_power_of: unknown key (did you mean 'pre_power_off'?)" in text
    assert (
        "clues.yaml:3:25: hooks.on_idle.cancel_on_failure: only pre_power_on and pre_power_off"
        in text
    )
    assert "clues.yaml:4:13: hooks.on_used.command: expected a command" in text
    assert "clues.yaml:5:13: hooks.on_error.command: cannot split" in text
