"""Plugin loader tests.

Real entry points: the built-in ones of the installed clues-py, and a throw-away
distribution (a `*.dist-info` folder plus a module) put on `sys.path` in tmp_path, which
`importlib.metadata` discovers exactly as it would an installed third-party plugin.
"""

from __future__ import annotations

import enum
import importlib
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Literal

import pytest

from clues_py import plugins
from clues_py.config.load import ConfigError, PluginSpec, parse_config
from clues_py.contracts import PluginContext
from clues_py.plugins import (
    POLICIES,
    POWER,
    PluginLoadError,
    build_plugin_config,
    check_plugins,
    instantiate,
    load_class,
)

F = "/etc/clues/clues.yaml"


class Mode(enum.StrEnum):
    FAST = "fast"
    SAFE = "safe"


class Dummy:
    @dataclass(frozen=True)
    class Config:
        host: str  # required
        boot_seconds: float = 60.0
        retries: int = 3
        verbose: bool = False
        seed: int | None = None
        tags: tuple[str, ...] = ()
        env: dict[str, str] = field(default_factory=dict)
        mode: Mode = Mode.SAFE
        level: Literal["low", "high"] = "low"

        def __post_init__(self) -> None:
            if self.retries > 10:
                raise ValueError(f"retries {self.retries} is more than 10")

    def __init__(self, config: Config, context: PluginContext) -> None:
        self.config = config
        self.context = context


def spec(**options: object) -> PluginSpec:
    lines = {k: 10 + i for i, k in enumerate(options)}
    return PluginSpec("dummy", options, f"{F}:9", "d1", "power.d1", lines)


def test_builds_typed_config():
    cfg = build_plugin_config(
        Dummy,
        spec(host="h", boot_seconds=5, tags=["a", "b"], env={"X": "1"}, mode="fast", level="high"),
    )
    assert cfg == Dummy.Config(
        host="h", boot_seconds=5.0, tags=("a", "b"), env={"X": "1"}, mode=Mode.FAST, level="high"
    )
    assert isinstance(cfg.boot_seconds, float)
    assert build_plugin_config(Dummy, spec(host="h", seed=None)).seed is None


def test_unknown_option_suggests_with_line():
    with pytest.raises(ConfigError) as exc:
        build_plugin_config(Dummy, spec(host="h", boot_secs=5))
    assert str(exc.value) == (
        f"{F}:11: power.d1.boot_secs: unknown option (did you mean 'boot_seconds'?)"
    )
    with pytest.raises(ConfigError) as exc:
        build_plugin_config(Dummy, spec(host="h", zzz=1))
    assert str(exc.value).startswith(
        f"{F}:11: power.d1.zzz: unknown option (dummy options: host, boot_seconds,"
    )


def test_wrong_types_and_missing_required_all_reported():
    with pytest.raises(ConfigError) as exc:
        build_plugin_config(
            Dummy, spec(retries="3", verbose=1, seed=1.5, tags="a", mode="turbo", level="mid")
        )
    assert str(exc.value).splitlines() == [
        f"{F}:10: power.d1.retries: must be an integer, got '3'",
        f"{F}:11: power.d1.verbose: must be true or false, got 1",
        f"{F}:12: power.d1.seed: must be an integer or null, got 1.5",
        f"{F}:13: power.d1.tags: must be a list, got 'a'",
        f"{F}:14: power.d1.mode: must be one of 'fast', 'safe', got 'turbo'",
        f"{F}:15: power.d1.level: must be one of 'low', 'high', got 'mid'",
        f"{F}:9: power.d1.host: missing required option of dummy",
    ]


def test_post_init_error_is_a_config_error():
    with pytest.raises(ConfigError) as exc:
        build_plugin_config(Dummy, spec(host="h", retries=11))
    assert str(exc.value) == f"{F}:9: power.d1: retries 11 is more than 10"


def test_class_without_config_takes_no_options():
    class Bare:
        pass

    assert build_plugin_config(Bare, spec()) is None
    with pytest.raises(ConfigError, match=r"power.d1.x: unknown option \(dummy takes no options\)"):
        build_plugin_config(Bare, spec(x=1))


def test_builtin_entry_points_are_listed_and_unknown_kind_lists_them():
    assert "sim" in plugins.available(POWER)
    assert "kubernetes" in plugins.available(plugins.BACKENDS)
    with pytest.raises(PluginLoadError) as exc:
        load_class(POWER, "simm")
    assert "unknown power kind 'simm'; valid kinds: " in str(exc.value)
    assert "sim" in exc.value.valid and "(did you mean 'sim'?)" in str(exc.value)


def test_loads_builtin_sim_class():
    cls = load_class(POWER, "sim")
    assert cls.__name__ == "SimPowerManager" and load_class(POWER, "sim") is cls


def test_check_plugins_reports_bad_options_of_real_plugins():
    cfg = parse_config(
        textwrap.dedent(
            """\
            backend:
              kind: kubernetes
              in_clusterr: true
            power:
              sim:
                kind: sim
                boot_secs: 5
              other:
                kind: nosuch
            """
        ),
        F,
    )
    with pytest.raises(ConfigError) as exc:
        check_plugins(cfg)
    lines = str(exc.value).splitlines()
    assert lines[0] == f"{F}:3:3: backend.in_clusterr: unknown option (did you mean 'in_cluster'?)"
    assert (
        lines[1] == f"{F}:7:5: power.sim.boot_secs: unknown option (did you mean 'boot_seconds'?)"
    )
    assert lines[2].startswith(
        f"{F}:9:5: power.other.kind: unknown power kind 'nosuch'; valid kinds:"
    )
    assert len(lines) == 3


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """A real third-party plugin distribution visible on sys.path."""
    (tmp_path / "fakeplug.py").write_text(
        textwrap.dedent(
            """\
            from dataclasses import dataclass

            class Keep:
                @dataclass
                class Config:
                    count: int = 1

                def __init__(self, config, context):
                    self.config, self.context = config, context

            NOT_A_CLASS = 3
            """
        )
    )
    info = tmp_path / "fakeplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[clues_py.policies]\n"
        "keep = fakeplug:Keep\n"
        "broken = fakeplug_missing_module:Thing\n"
        "notclass = fakeplug:NOT_A_CLASS\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    sys.modules.pop("fakeplug", None)
    for key in [k for k in plugins._loaded if k[0] == POLICIES]:
        plugins._loaded.pop(key)


def test_third_party_entry_point_loads_lazily_and_instantiates(fake_dist):
    assert {"keep", "broken", "notclass"} <= set(plugins.available(POLICIES))
    assert "fakeplug" not in sys.modules  # listing kinds imports nothing
    ctx = PluginContext(cluster_name="c", instance="policies[0]")
    obj = instantiate(POLICIES, PluginSpec("keep", {"count": 4}, f"{F}:3", "policies[0]"), ctx)
    assert type(obj).__name__ == "Keep"
    assert obj.config.count == 4 and obj.context is ctx  # type: ignore[attr-defined]


def test_import_failure_names_the_entry_point(fake_dist):
    with pytest.raises(PluginLoadError) as exc:
        load_class(POLICIES, "broken")
    msg = str(exc.value)
    assert "'broken = fakeplug_missing_module:Thing'" in msg
    assert "ModuleNotFoundError" in msg and "fakeplug_missing_module" in msg
    with pytest.raises(PluginLoadError, match="is not a class"):
        load_class(POLICIES, "notclass")
    # Through instantiate it becomes a config error pointing at the section.
    with pytest.raises(ConfigError) as cexc:
        instantiate(
            POLICIES, PluginSpec("broken", {}, f"{F}:5", "policies[0]", "policies[0]"), None
        )  # type: ignore[arg-type]
    assert str(cexc.value).startswith(f"{F}:5: policies[0].kind: cannot load policies plugin")


def test_register_in_code():
    plugins.register(POWER, "dummy-test", Dummy)
    try:
        assert "dummy-test" in plugins.available(POWER)
        obj = instantiate(
            POWER,
            PluginSpec("dummy-test", {"host": "x"}, "<code>", "d"),
            PluginContext(cluster_name="c", instance="d"),
        )
        assert isinstance(obj, Dummy) and obj.config.host == "x"
    finally:
        plugins.unregister(POWER, "dummy-test")
    with pytest.raises(PluginLoadError):
        load_class(POWER, "dummy-test")
