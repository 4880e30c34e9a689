"""Configs built to hurt, and values that broke the daemon: each is refused at its
file:line:col with a message and no traceback (issue 15's accepted-but-broken mutants)."""

from __future__ import annotations

import pytest

from clues_py.config.load import MAX_DEPTH, ConfigError, decode, parse_config

F = "c.yaml"
BASE = """\
power:
  sim: {kind: sim, url: 'http://127.0.0.1:1'}
templates:
  - name: wn
    power: sim
    nodes: wn-[1-3]
    cpu: 4
    memory: 8Gi
"""


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, F)
    return [str(e) for e in exc.value.errors]


def one(text: str) -> str:
    (msg,) = errors(text)
    return msg


def test_numbers_have_ranges() -> None:
    # 1e10 s overflowed the loop's wait while the API kept saying synced.
    assert one("daemon:\n  tick: 10000000000\n") == (
        f"{F}:2:9: daemon.tick: must be between 0.01 and 3600, got 10000000000"
    )
    assert one("pending_grace: -1\n").startswith(f"{F}:1:16: pending_grace: must be between 0")
    assert one("max_retries: " + "9" * 400 + "\n").startswith(
        f"{F}:1:14: max_retries: must be between 0 and 1000, got 9999"
    )
    # At 0 every drain was given up on the next tick, before its step reported: no scale-down.
    assert (
        one("drain_timeout: 0\n") == f"{F}:1:16: drain_timeout: must be between 1 and 604800, got 0"
    )
    assert one("idle_time: .inf\n") == f"{F}:1:12: idle_time: must be a finite number, got inf"


def test_exponent_without_dot_is_text_in_yaml_with_a_hint() -> None:
    assert one("daemon:\n  tick: 1e10\n") == (
        f"{F}:2:9: daemon.tick: must be a number, got '1e10' "
        "(YAML reads 1e3 as text: write 1000 or 1.0e+3)"
    )


def test_huge_quantities() -> None:
    msg = one(BASE.replace("cpu: 4", 'cpu: "1e400"'))
    assert msg.startswith(f"{F}:7:10: templates[0].cpu: not a Kubernetes quantity") or (
        "too large" in msg
    )
    assert one(BASE.replace("memory: 8Gi", "memory: 100Ei")).startswith(
        f"{F}:8:13: templates[0].memory: '100Ei' is too large (must be <= "
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("''", "must not be empty"),
        ("'w n'", "not valid: 'w n'"),
        ("x" * 10_000, "longer than 63 characters (10000)"),
    ],
)
def test_template_names(name: str, message: str) -> None:
    msg = one(BASE.replace("name: wn", f"name: {name}"))
    assert msg.startswith(f"{F}:4:11: templates[0].name: {message}")
    assert len(msg) < 300  # a 10,000-character name is not quoted back whole


def test_nodes_must_name_at_least_one() -> None:
    assert one(BASE.replace("nodes: wn-[1-3]", "nodes: []")) == (
        f"{F}:6:12: templates[0].nodes: no node names (give at least one, e.g. nodes: wn-[1-10])"
    )


def test_label_and_taint_syntax() -> None:
    text = BASE + (
        "    labels: {'bad key!': x, 'example.com/ok': 'v', ok: 'not ok!'}\n"
        "    taints: [{key: 'a b', value: '-x', effect: NoSchedule}]\n"
    )
    msgs = errors(text)
    assert msgs[0].startswith(f"{F}:9:14: templates[0].labels.bad key!: not a valid key")
    assert msgs[1].startswith(f"{F}:9:56: templates[0].labels.ok: not a valid label value")
    assert msgs[2].startswith(f"{F}:10:20: templates[0].taints[0].key: not a valid key: 'a b'")
    assert msgs[3].startswith(f"{F}:10:34: templates[0].taints[0].value: not a valid label")
    assert len(msgs) == 4


def test_names_of_power_instances_and_cluster() -> None:
    assert one("power:\n  'bad name': {kind: sim}\n").startswith(
        f"{F}:2:3: power.bad name: not a valid power instance name"
    )
    assert one("cluster_name: " + "a" * 64 + "\n") == (
        f"{F}:1:15: cluster_name: longer than 63 characters (64) "
        "(lowercase letters, digits and '-', at most 63 characters, e.g. clues)"
    )


def test_state_db_must_not_be_empty() -> None:
    assert one("daemon:\n  state_db: ''\n") == (
        f"{F}:2:13: daemon.state_db: must not be empty (a file path)"
    )


def test_deep_nesting_fails_fast_with_a_place() -> None:
    for text in ("x: " + "[" * 100_000, "x: " + "{a: " * 50_000, "x:\n" + "".join(
        " " * (2 * i) + "- \n" for i in range(200)
    )):  # fmt: skip
        msg = one(text)
        assert f"invalid YAML: nested deeper than {MAX_DEPTH} levels" in msg
        assert msg.startswith(f"{F}:") and not msg.startswith(f"{F}:0")


def test_billion_laughs_fails_fast() -> None:
    text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        text += f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    msg = one(text)
    assert "expanded through aliases" in msg and msg.startswith(f"{F}:")


def test_small_aliases_are_fine() -> None:
    text = BASE.replace("    cpu: 4\n", "    cpu: &c 4\n") + (
        "  - {name: w2, power: sim, nodes: w2-1, cpu: *c, memory: 1Gi}\n"
    )
    assert parse_config(text, F).templates[1].resources.cpu_millis == 4000


def test_values_yaml_cannot_build() -> None:
    assert one("idle_time: " + "1" * 5000 + "\n") == (
        f"{F}:1:12: invalid YAML: cannot read this value: a number with too many digits"
    )
    assert one("x: !!timestamp 2020-13-45\n").startswith(f"{F}:1:4: invalid YAML: cannot read")
    assert one("x: !!python/object:os.system {}\n").startswith(f"{F}:1:4: invalid YAML:")


def test_encoding_errors_name_line_and_column() -> None:
    with pytest.raises(ConfigError) as exc:
        decode(b"cluster_name: ok\nidle_time: 3\x80\n", F)
    assert str(exc.value) == (
        f"{F}:2:13: not UTF-8 text: byte 0x80 cannot be decoded (save the file as UTF-8)"
    )
    assert decode("idle_time: 3\n".encode("utf-16"), F) == "idle_time: 3\n"
    assert decode(b"\xef\xbb\xbfidle_time: 3\n", F) == "idle_time: 3\n"
    assert one("cluster_name: ok\nx: a\x00b\n") == (
        f"{F}:2:5: invalid YAML: unacceptable character #x0000 "
        "(remove it; a config is plain UTF-8 text)"
    )


def test_too_large_a_file() -> None:
    assert one("#" * (2 << 20)).startswith(f"{F}:1:1: larger than")


def test_the_count_of_problems_not_shown_comes_last() -> None:
    found = errors(BASE + "".join(f"zz{i}: 1\n" for i in range(500)))
    assert "more problems not shown" in found[-1]
    assert all("more problems" not in e for e in found[:-1])
    assert found[0].startswith(f"{F}:9:1: zz0: unknown key")
