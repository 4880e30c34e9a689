"""`clues config migrate`: original CLUES 2 samples -> clues-py YAML that config check accepts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from clues_py.cli.main import main
from clues_py.config.load import ConfigError, load_config, parse_config
from clues_py.config.migrate.convert import migrate
from clues_py.config.migrate.nodes import compress_names, memory_bytes
from clues_py.config.migrate.sources import OriginalConfig, SourceError, read_ini

SAMPLES = Path(__file__).parent / "samples"
ALL = sorted(p.name for p in SAMPLES.iterdir() if (p / "clues2.cfg").is_file())


def _plugin_problems(cfg_text: str, source: str) -> list[str]:
    """Option errors against the real plugins' Config dataclasses (as `config check` does)."""
    from clues_py.plugins import check_plugins

    try:
        check_plugins(parse_config(cfg_text, source))
    except ConfigError as exc:
        return [str(e) for e in exc.errors]
    return []


@pytest.mark.parametrize("sample", ALL)
def test_every_sample_migrates_to_a_config_that_validates(sample: str, tmp_path: Path) -> None:
    result = migrate(SAMPLES / sample / "clues2.cfg")
    out = tmp_path / "clues.yaml"
    out.write_text(result.to_yaml())
    cfg = load_config(out)
    assert cfg.templates, "every sample has nodes"
    assert set(cfg.power) == {t.power for t in cfg.templates}
    assert _plugin_problems(out.read_text(), str(out)) == []


def test_ipmi_sample_maps_timing_nodes_and_hosts() -> None:
    r = migrate(SAMPLES / "k8s-ipmi" / "clues2.cfg")
    d = r.data
    assert (d["idle_time"], d["boot_timeout"], d["shutdown_timeout"]) == (900, 600, 240)
    assert (d["max_booting"], d["min_nodes"], d["max_retries"], d["retry_backoff"]) == (2, 1, 3, 60)
    assert d["daemon"] == {"log_level": "INFO", "log_file": "/var/log/clues2/clues2.log", "tick": 5}
    cfg = parse_config(r.to_yaml())
    by_name = {t.name: t for t in cfg.templates}
    gpu, wn = by_name["gpu"], by_name["wn"]
    assert gpu.node_names == ("gpu-1", "gpu-2")
    assert (gpu.resources.cpu_millis, gpu.resources.memory_bytes, gpu.resources.gpus) == (
        32000,
        128 << 30,
        4,
    )
    assert dict(gpu.labels) == {"accelerator": "nvidia-a100"}
    # Host-file nodes without a vnode entry get KUBERNETES_NODE_SLOTS/MEMORY; wn-08 is disabled.
    assert wn.node_names == tuple(f"wn-0{i}" for i in range(1, 8))
    assert (wn.resources.cpu_millis, wn.resources.memory_bytes) == (8000, 16 << 30)
    ipmi = d["power"]["ipmi"]
    assert ipmi["nodes"]["wn-03"] == {"host": "10.0.1.3"} and "wn-08" not in ipmi["nodes"]
    # -I/-U/-f of IPMI_CMDLINE_POWON become ipmitool options; "power soft" keeps soft_off.
    assert ipmi["interface"] == "lanplus" and "soft_off" not in ipmi
    assert ipmi["defaults"] == {"user": "clues", "password_file": "/etc/clues2/ipmi.pass"}
    assert d["templates"][1]["nodes"] == "wn-[01-07]"


def _entries(sample: str) -> list[tuple[str, int, str]]:
    conf = OriginalConfig(main="")
    base = SAMPLES / sample
    for f in [base / "clues2.cfg", *sorted((base / "conf.d").glob("*.cfg"))]:
        if f.is_file():
            read_ini(f, conf)
    return [(e.file, e.line, e.key) for e in conf.entries()]


@pytest.mark.parametrize("sample", ALL)
def test_nothing_is_dropped_silently(sample: str) -> None:
    """Every option is either mapped to a clues-py key or reported with its file:line."""
    mapped = {
        "CONFIG_DIR", "LRMS_CLASS", "POWERMANAGER_CLASS", "LOG_LEVEL", "LOG_FILE",
        "PERIOD_LIFECYCLE", "MAX_WAIT_POWERON", "MAX_WAIT_POWEROFF", "IDLE_TIME",
        "RETRIES_POWER_ON", "MAX_BOOTING_NODES", "SCHEDULER_CLASSES", "KUBERNETES_NODE_MEMORY",
        "KUBERNETES_NODE_SLOTS", "KUBERNETES_NODE_PODS", "COOLDOWN_NODES", "TIMEOUT_COMMANDS",
        "IPMI_HOSTS_FILE", "WOL_HOSTS_FILE", "COMMANDLINE_HOSTS_FILE", "COMMANDLINE_CMDLINE_POWON",
        "COMMANDLINE_CMDLINE_POWOFF", "WOL_CMDLINE_POWOFF", "IM_VIRTUAL_CLUSTER_REST_API", "EXTRA_NODES_FREE",
        "IM_VIRTUAL_CLUSTER_AUTH_DATA_FILE", "WORKING_FOLDER", "TIMEOUT_COMMAND",
    }  # fmt: skip
    r = migrate(SAMPLES / sample / "clues2.cfg")
    reported = {(f.file, f.line) for f in r.findings}
    for file, line, key in _entries(sample):
        if key not in mapped:
            assert (file, line) in reported, f"{file}:{line} {key} dropped silently"


def test_im_sample_reports_what_the_original_ignored_and_keeps_secrets_out() -> None:
    r = migrate(SAMPLES / "k8s-im" / "clues2.cfg")
    text = r.to_yaml()
    findings = [str(f) for f in r.findings]
    sched = str(SAMPLES / "k8s-im" / "conf.d" / "schedulers.cfg")
    assert any(f.startswith(f"{sched}:3: IDLE_TIME: not migrated") for f in findings)
    assert r.data["idle_time"] == 300  # from [scheduling], as the original read it
    assert any("MAX_WAIT_POWERON" in f and "only from [monitoring]" in f for f in findings)
    assert any("sgx" in f and "wn5.localdomain" in f for f in findings)
    assert any("1024 bytes" in f for f in findings)
    assert "eyJhbGciOiJSUzI1NiJ9" not in text  # KUBERNETES_TOKEN is reported, never copied
    assert r.data["power"]["im"] == {
        "kind": "im",
        "url": "https://im.egi.eu/im",
        "auth_file": "/usr/local/ec3/auth.dat",
    }
    # MAX_BOOTING_NODES=0 meant "no limit": every node may boot at once.
    assert r.data["max_booting"] == 6


def test_scheduler_list_without_idle_off_spells_out_policies() -> None:
    r = migrate(SAMPLES / "k8s-wol" / "clues2.cfg")
    kinds = [p if isinstance(p, str) else p["kind"] for p in r.data["policies"]]
    assert kinds == ["scale_up", "min_nodes", "limits"]
    assert r.data["power"]["wol"]["kind"] == "wol"
    assert r.data["templates"][0]["nodes"] == "node[1-3]"


def test_hooks_are_emitted_or_reported() -> None:
    r = migrate(SAMPLES / "k8s-ipmi" / "clues2.cfg")
    hook_findings = [f for f in r.findings if f.key in ("POST_POWERON", "OFFERR")]
    assert len(hook_findings) == 2
    if "hooks" in r.data:
        assert r.data["hooks"]["post_power_on"]["command"] == "/etc/clues2/scripts/notify_admin"
        assert r.data["hooks"]["on_error"] == {
            "command": "/usr/local/bin/clues-offerr",
            "timeout": 180,
        }
        assert parse_config(r.to_yaml()).hooks["on_error"].timeout == 180
    else:
        assert all(f.dropped for f in hook_findings)


def test_commandline_address_lookup_really_runs(tmp_path: Path) -> None:
    (tmp_path / "clues2.cfg").write_text(
        "[general]\nLRMS_CLASS=cluesplugins.kubernetes\n"
        "POWERMANAGER_CLASS=cluesplugins.commandline\n"
        "[COMMANDLINE]\nCOMMANDLINE_HOSTS_FILE=ssh.hosts\n"
        "COMMANDLINE_CMDLINE_POWON=echo on %%h %%a\nCOMMANDLINE_CMDLINE_POWOFF=echo off %%h\n"
    )
    (tmp_path / "ssh.hosts").write_text(
        "# addr name\n192.168.10.11 compute-1\n10.0.0.2 compute-2\n"
    )
    opts = migrate(tmp_path / "clues2.cfg").data["power"]["command"]
    assert opts["shell"] is True and opts["off_command"] == "echo off {node}"
    cmd = opts["on_command"].replace("{node}", "compute-2")
    out = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "on compute-2 10.0.0.2"


def test_configparser_semantics(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "clues2.cfg").write_text(
        "[general]\nconfig_dir = conf.d\nLRMS_CLASS=cluesplugins.kubernetes\n"
        "POWERMANAGER_CLASS=cluesplugins.commandline\n[scheduling]\nIDLE_TIME=100\n"
    )
    (tmp_path / "conf.d" / "b.cfg").write_text(
        "[scheduling]\nIDLE_TIME: 700   # comment\n[COMMANDLINE]\n"
        "COMMANDLINE_CMDLINE_POWON=poweron\n  %%h\nCOMMANDLINE_CMDLINE_POWOFF=off %%h\n"
    )
    (tmp_path / "kubernetes_vnodes.info").write_text("a-1\na-2\n")
    r = migrate(tmp_path / "clues2.cfg")
    assert r.data["idle_time"] == 700  # a later file wins, key case ignored, comment cut
    assert r.data["power"]["command"]["on_command"] == "poweron\n{node}"
    assert any("IDLE_TIME" in str(f) and "overridden by" in str(f) for f in r.findings)


@pytest.mark.parametrize(
    ("files", "where", "what"),
    [
        ({"clues2.cfg": "[general]\nLRMS_CLASS\n"}, "clues2.cfg:2", "cannot parse"),
        ({"clues2.cfg": "IDLE_TIME=5\n"}, "clues2.cfg:1", "before any [section]"),
        ({"clues2.cfg": "[scheduling]\nIDLE_TIME=soon\n"}, "clues2.cfg:2", "not a number"),
        (
            {"clues2.cfg": "[general]\nPOWERMANAGER_CLASS=cluesplugins.ipmi\n"},
            "ipmi.hosts",
            "not found",
        ),
        (
            {
                "clues2.cfg": "[general]\nPOWERMANAGER_CLASS=cluesplugins.wol\n",
                "wol.hosts": "aa:bb:cc:dd:ee:ff n1\naa:bb:cc:dd:ee:00\n",
            },
            "wol.hosts:2",
            "expected 'ADDRESS NAME'",
        ),
        (
            {"clues2.cfg": "[general]\n", "kubernetes_vnodes.info": '[\n {"name": "a",}\n]'},
            "kubernetes_vnodes.info:2",
            "invalid JSON",
        ),
    ],
)
def test_bad_input_names_file_and_line(
    tmp_path: Path, files: dict[str, str], where: str, what: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(SourceError) as err:
        migrate(tmp_path / "clues2.cfg")
    assert f"{tmp_path}/{where}" in str(err.value) and what in str(err.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.cfg: no such file"):
        migrate(tmp_path / "nope.cfg")


def test_compress_names_round_trips() -> None:
    assert compress_names(["wn-1", "wn-2", "wn-3"]) == "wn-[1-3]"
    assert compress_names(["wn-01", "wn-02", "wn-05", "x"]) == ["wn-[01-02]", "wn-05", "x"]
    assert compress_names(["n9", "n10", "n11"]) == "n[9-11]"
    assert compress_names(["a.example", "b.example"]) == ["a.example", "b.example"]


def test_memory_is_read_like_the_original_plugin() -> None:
    assert memory_bytes("1 GB") == 1 << 30
    assert memory_bytes("16Gi") == 16 << 30
    assert memory_bytes("4096Mi") == 4 << 30
    assert memory_bytes("2g") == 2 << 30
    assert memory_bytes("1024") == 1024  # bare numbers are bytes in the original
    assert memory_bytes(512) == 512


def test_cli_writes_yaml_and_lists_findings(tmp_path: Path) -> None:
    src = tmp_path / "etc"
    shutil.copytree(SAMPLES / "k8s-ipmi", src)
    out = tmp_path / "clues.yaml"
    res = CliRunner().invoke(main, ["config", "migrate", str(src / "clues2.cfg"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert f"{src}/clues2.cfg:17: CLUES_PORT: not migrated" in res.stderr
    assert "migrated: 2 templates, 9 nodes, power ipmi" in res.stderr
    assert yaml.safe_load(out.read_text())["idle_time"] == 900
    # The migrated file names paths of the original machine: check the file itself.
    check = CliRunner().invoke(main, ["config", "check", "--portable", str(out)])
    assert check.exit_code == 0, check.output


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    (tmp_path / "clues2.cfg").write_text("[general]\nbroken line\n")
    res = CliRunner().invoke(main, ["config", "migrate", str(tmp_path / "clues2.cfg")])
    assert res.exit_code == 2
    assert f"{tmp_path}/clues2.cfg:2: cannot parse" in res.stderr
