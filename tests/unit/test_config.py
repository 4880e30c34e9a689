"""Config parsing and validation: exact `file:line: key: message (hint)` errors; nothing faked."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from clues_py.config.load import (
    Config,
    ConfigError,
    NodeNameError,
    config_from_dict,
    expand_node_names,
    load_config,
    merge_overrides,
    parse_config,
)

F = "/etc/clues/clues.yaml"
REPO = Path(__file__).resolve().parents[2]

GOOD = """\
cluster_name: test
power:
  sim:
    kind: sim
    url: http://127.0.0.1:1
templates:
  - name: wn
    power: sim
    nodes: wn-[1-3]
    cpu: 4
    memory: 8Gi
"""


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(textwrap.dedent(text), F)
    lines = str(exc.value).splitlines()
    assert lines == [str(e) for e in exc.value.errors]
    return lines


def with_template(**overrides: str) -> str:
    body = "\n".join(f"    {k}: {v}" for k, v in overrides.items())
    return GOOD + body + "\n"


def test_defaults_from_empty_file():
    cfg = parse_config("")
    assert cfg == Config(source="<string>")
    assert (cfg.idle_time, cfg.max_booting, cfg.daemon.listen) == (
        300.0,
        10,
        "unix:/run/clues/clues.sock",
    )
    assert cfg.backend.kind == "kubernetes"


def test_good_config_builds_templates_and_specs():
    cfg = parse_config(GOOD, F)
    (t,) = cfg.templates
    assert t.node_names == ("wn-1", "wn-2", "wn-3")
    assert (t.resources.cpu_millis, t.resources.memory_bytes, t.resources.pods) == (
        4000,
        8 << 30,
        110,
    )
    spec = cfg.power["sim"]
    assert (spec.kind, dict(spec.options), spec.instance, spec.path) == (
        "sim",
        {"url": "http://127.0.0.1:1"},
        "sim",
        "power.sim",
    )
    assert spec.where == f"{F}:4" and spec.file == F and spec.line == 4
    assert spec.lines == {"kind": 4, "url": 5}
    assert cfg.template_of("wn-2") is t and cfg.template_of("zz") is None
    assert cfg.template_map == {"wn": t}


def test_power_cycle_figures_of_a_template():
    (t,) = parse_config(
        with_template(boot_seconds=120, shutdown_seconds=20, boot_cost=0.02)
    ).templates
    assert (t.boot_seconds, t.shutdown_seconds, t.boot_cost) == (120.0, 20.0, 0.02)
    assert errors(with_template(boot_cost=-1)) == [
        f"{F}:12:16: templates[0].boot_cost: must be between 0 and 1000000, got -1"
    ]


def test_example_config_loads():
    cfg = load_config(REPO / "etc" / "clues.yaml")
    assert cfg.templates[0].node_names[0] == "wn-01"
    assert len(cfg.templates[0].node_names) == 10
    assert cfg.power["sim"].kind == "sim"


def test_unknown_key_suggests():
    assert errors("idle_tme: 3\n") == [
        f"{F}:1:1: idle_tme: unknown key (did you mean 'idle_time'?)"
    ]
    (line,) = errors("daemon:\n  zzz: 1\n")
    assert line.startswith(f"{F}:2:3: daemon.zzz: unknown key (valid keys: state_db, listen,")


def test_bad_quantity_has_line_and_hint():
    assert errors(GOOD.replace("memory: 8Gi", "memory: 8GB")) == [
        f"{F}:11:13: templates[0].memory: not a Kubernetes quantity: '8GB' (use e.g. 8Gi or 8G)"
    ]
    assert errors(GOOD.replace("cpu: 4", "cpu: four")) == [
        f"{F}:10:10: templates[0].cpu: not a Kubernetes quantity: 'four' (use e.g. 4 or 500m)"
    ]
    assert errors(GOOD.replace("cpu: 4", "cpu: 0")) == [
        f"{F}:10:10: templates[0].cpu: must be positive, got 0 (use e.g. 4 or 500m)"
    ]


def test_types_and_ranges():
    assert errors("idle_time: soon\n") == [f"{F}:1:12: idle_time: must be a number, got 'soon'"]
    assert errors("max_retries: 1.5\n") == [f"{F}:1:14: max_retries: must be an integer, got 1.5"]
    assert errors("min_nodes: true\n") == [f"{F}:1:12: min_nodes: must be an integer, got True"]
    assert errors("max_booting: 0\n") == [
        f"{F}:1:14: max_booting: must be between 1 and 100000, got 0"
    ]
    assert errors("idle_time: -1\n") == [
        f"{F}:1:12: idle_time: must be between 0 and 3153600000, got -1"
    ]
    assert errors("idle_time: null\n") == [f"{F}:1:12: idle_time: must be a number, got null"]
    assert errors("cluster_name: 12\n") == [
        f"{F}:1:15: cluster_name: must be a string, got 12 (quote it)"
    ]
    assert errors("cluster_name: My_Cluster\n") == [
        f"{F}:1:15: cluster_name: not valid: 'My_Cluster' "
        "(lowercase letters, digits and '-', at most 63 characters, e.g. clues)"
    ]
    assert errors("min_nodes: 3\nmax_nodes: 2\n") == [
        f"{F}:2:12: max_nodes: must be >= min_nodes (3)"
    ]
    assert errors("retry_backoff: 60\nretry_backoff_max: 10\n") == [
        f"{F}:2:20: retry_backoff_max: must be >= retry_backoff (60)"
    ]
    assert errors("daemon: 5\n") == [f"{F}:1:9: daemon: expected a mapping, got int 5"]
    assert parse_config("max_nodes: null\nidle_time: 7\n").idle_time == 7.0


def test_daemon_listen_and_log_level():
    hint = "(use HOST:PORT such as 127.0.0.1:8484, or unix:/run/clues/clues.sock)"
    assert errors("daemon:\n  listen: localhost\n") == [
        f"{F}:2:11: daemon.listen: not a listen address: 'localhost' {hint}"
    ]
    assert errors("daemon:\n  listen: 'h:99999'\n") == [
        f"{F}:2:11: daemon.listen: bad port in 'h:99999' {hint}"
    ]
    assert errors("daemon:\n  listen: unix:run/x.sock\n") == [
        f"{F}:2:11: daemon.listen: unix socket path must be absolute: 'unix:run/x.sock' {hint}"
    ]
    assert errors("daemon:\n  log_level: loud\n") == [
        f"{F}:2:14: daemon.log_level: unknown level 'loud' "
        "(use one of DEBUG, INFO, WARNING, ERROR, CRITICAL)"
    ]
    d = parse_config("daemon:\n  listen: unix:/run/c.sock\n  log_level: debug\n").daemon
    assert (d.listen, d.log_level) == ("unix:/run/c.sock", "DEBUG")
    # TCP needs a bearer token (issue 7): without daemon.token_file it is a config error.
    assert "needs daemon.token_file" in errors("daemon: {listen: '[::1]:0'}")[0]


def test_template_power_must_exist():
    assert errors(GOOD.replace("power: sim\n    nodes", "power: ipmi\n    nodes")) == [
        f"{F}:8:12: templates[0].power: no power instance named 'ipmi' "
        "(define it under power:, known instances: sim)"
    ]


def test_template_required_keys():
    assert errors(GOOD.replace("    cpu: 4\n", "")) == [
        f"{F}:7:5: templates[0].cpu: missing required key (use e.g. 4 or 500m)"
    ]
    assert errors("templates:\n  - name: x\n") == [
        f"{F}:2:5: templates[0].power: missing required key",
        f"{F}:2:5: templates[0].nodes: missing required key (e.g. nodes: wn-[1-10])",
        f"{F}:2:5: templates[0].cpu: missing required key (use e.g. 4 or 500m)",
        f"{F}:2:5: templates[0].memory: missing required key (use e.g. 8Gi or 8G)",
    ]


def test_duplicate_templates_and_nodes():
    text = (
        GOOD
        + "  - name: wn\n    power: sim\n    nodes: [wn-3, wn-4]\n    cpu: 1\n    memory: 1Gi\n"
    )
    assert errors(text) == [
        f"{F}:12:11: templates[1].name: duplicate template name 'wn'",
        f"{F}:14:12: templates[1].nodes: node 'wn-3' is also in template 'wn'",
    ]
    assert errors(GOOD.replace("wn-[1-3]", "'wn-1,wn-1'")) == [
        f"{F}:9:12: templates[0].nodes: node 'wn-1' is listed twice"
    ]


def test_taints_and_labels():
    text = with_template(
        labels="{zone: 1, ok: 'x'}", taints="[{key: gpu, effect: NoScheduled}, {value: v}]"
    )
    assert errors(text) == [
        f"{F}:12:20: templates[0].labels.zone: label values must be strings, got 1 (quote it: '1')",
        f"{F}:13:33: templates[0].taints[0].effect: unknown taint effect 'NoScheduled' "
        "(use one of NoSchedule, PreferNoSchedule, NoExecute)",
        f"{F}:13:47: templates[0].taints[1].key: missing required key",
    ]
    cfg = parse_config(with_template(labels="{zone: a}", taints="[{key: g, value: v}]"))
    (t,) = cfg.templates
    assert t.labels == (("zone", "a"),)
    assert (t.taints[0].key, t.taints[0].value, t.taints[0].effect) == ("g", "v", "NoSchedule")


def test_min_max_count():
    assert errors(with_template(min_count="2", max_count="1")) == [
        f"{F}:13:16: templates[0].max_count: must be >= min_count (2)"
    ]
    assert errors(with_template(min_count="4")) == [
        f"{F}:12:16: templates[0].min_count: 4 is more than the 3 nodes"
    ]


def test_many_errors_reported_together_in_file_order():
    text = """\
    idle_tme: 3
    max_booting: 0
    idle_time: 1
    idle_time: 2
    templates:
      - name: wn
        power: nope
        nodes: wn-[5-1]
        cpu: 4
        memory: 8GB
    """
    lines = errors(text)
    assert lines == [
        f"{F}:1:1: idle_tme: unknown key (did you mean 'idle_time'?)",
        f"{F}:2:14: max_booting: must be between 1 and 100000, got 0",
        f"{F}:4:1: idle_time: duplicate key (remove one of them)",
        f"{F}:7:12: templates[0].power: no power instance named 'nope' "
        "(define it under power:, known instances: none)",
        f"{F}:8:12: templates[0].nodes: range [5-1] in 'wn-[5-1]' goes backwards",
        f"{F}:10:13: templates[0].memory: not a Kubernetes quantity: '8GB' (use e.g. 8Gi or 8G)",
    ]


def test_yaml_syntax_error_has_line():
    (line,) = errors("a: 1\nb: [1, 2\nc: 3\n")
    assert line.startswith(f"{F}:") and "invalid YAML" in line


def test_plugin_sections():
    cfg = parse_config(
        "backend:\n  kind: kubernetes\n  in_cluster: true\npolicies: [idle, {kind: keep-free, count: 2}]\n",
        F,
    )
    assert dict(cfg.backend.options) == {"in_cluster": True}
    assert [p.kind for p in cfg.policies] == ["idle", "keep-free"]
    assert cfg.policies[1].path == "policies[1]" and cfg.policies[1].lines["count"] == 4
    assert errors("power:\n  a:\n    url: x\n") == [
        f"{F}:3:5: power.a.kind: missing or empty plugin kind"
    ]
    assert errors("expanders: cheapest\n") == [
        f"{F}:1:12: expanders: expected a list of plugins, got 'cheapest'"
    ]


def test_load_config_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml:0: cannot read config"):
        load_config(tmp_path / "nope.yaml")


def test_config_from_dict_and_overrides():
    base = {
        "idle_time": 300,
        "daemon": {"tick": 5, "workers": 2},
        "power": {"s": {"kind": "sim"}},
        "templates": [
            {"name": "a", "power": "s", "nodes": "n-[1-2]", "cpu": "500m", "memory": 1e9}
        ],
    }
    merged = merge_overrides(base, {"idle_time": 60, "daemon": {"tick": 1}})
    assert merged["daemon"] == {"tick": 1, "workers": 2} and base["daemon"]["tick"] == 5
    cfg = config_from_dict(merged)
    assert (cfg.idle_time, cfg.daemon.tick, cfg.daemon.workers) == (60.0, 1.0, 2)
    assert cfg.templates[0].resources.cpu_millis == 500
    with pytest.raises(ConfigError) as exc:
        config_from_dict({"idle_time": "x", "max_booting": 0})
    assert str(exc.value).splitlines() == [
        "<dict>:0: idle_time: must be a number, got 'x'",
        "<dict>:0: max_booting: must be between 1 and 100000, got 0",
    ]


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("wn-[1-3]", ["wn-1", "wn-2", "wn-3"]),
        ("wn-[01-10]", [f"wn-{i:02d}" for i in range(1, 11)]),
        ("wn-[8-10]", ["wn-8", "wn-9", "wn-10"]),
        ("a,b", ["a", "b"]),
        ("gpu-[1-2].lan, cpu", ["gpu-1.lan", "gpu-2.lan", "cpu"]),
        ("single", ["single"]),
    ],
)
def test_expand_node_names(pattern, names):
    assert expand_node_names(pattern) == names


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("wn-[3-1]", "goes backwards"),
        ("wn-[a-b]", "is not a valid node name or pattern"),
        ("wn-[1-2]-[1-2]", "only one [a-b] range"),
        ("a,,b", "empty name"),
        ("WN-1", "is not a valid node name"),
        ("n-[1-1000000]", "more than 100000 names"),
    ],
)
def test_expand_node_names_errors(pattern, message):
    with pytest.raises(NodeNameError, match=message.replace("[", r"\[")):
        expand_node_names(pattern)


def test_node_list_form_and_bad_entries():
    cfg = parse_config(GOOD.replace("wn-[1-3]", "[wn-a, 'wn-[1-2]']"))
    assert cfg.templates[0].node_names == ("wn-a", "wn-1", "wn-2")
    assert errors(GOOD.replace("wn-[1-3]", "[wn-a, 7]")) == [
        f"{F}:9:19: templates[0].nodes[1]: must be a node name or pattern, got 7 (quote it)"
    ]
