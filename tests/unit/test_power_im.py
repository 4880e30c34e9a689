"""`im` power manager, the parts without a server: RADL templating, state mapping, auth
header, provider ids and configuration errors (the IM server tests are in tests/e2e/im)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clues_py.contracts import PluginContext, PluginError, PowerState
from clues_py.model import NodeTemplate, Resources
from plugins.power.im import (
    IMPowerManager,
    auth_header,
    parse_provider_id,
    render_recipe,
    state_of,
)

RECIPE = """network public (outbound = 'yes')
system {node_name} (
    cpu.count >= 4 and
    app.label = '{cluster}-{template}'
)
configure {node_name} (
@begin
- tasks:
  - debug: msg="{{ node_name }} {{IM_NODE_NAME}}"
@end
)
"""


def test_recipe_placeholders_and_deploy_line() -> None:
    radl = render_recipe(RECIPE, "wn-3", "wn", "prod", "im")
    assert "system wn-3 (" in radl and "configure wn-3 (" in radl
    assert "app.label = 'prod-wn'" in radl
    # Tagged as ours, before the recipe's own features.
    assert (
        "system wn-3 (\n    clues.cluster = 'prod' and clues.template = 'wn' and "
        "clues.power = 'im' and\n    cpu.count >= 4"
    ) in radl
    # Ansible's Jinja braces are left alone.
    assert 'msg="{{ node_name }} {{IM_NODE_NAME}}"' in radl
    assert radl.endswith("deploy wn-3 1\n")
    # An explicit `deploy {node_name} 1` is kept as it is, not doubled.
    explicit = render_recipe(RECIPE + "deploy {node_name} 1\n", "wn-3", "wn", "prod")
    assert explicit.count("deploy ") == 1


@pytest.mark.parametrize(
    ("recipe", "error"),
    [
        ("system worker (cpu.count >= 1)\n", r"system \{node_name\}"),
        ("system {node_name} (cpu.count >= 1)\ndeploy {node_name} 2\n", "deploy wn-1 2"),
        ("system {node_name} (cpu.count >= 1)\ndeploy front 1\n", "deploy front 1"),
    ],
)
def test_bad_recipes_are_rejected(recipe: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        render_recipe(recipe, "wn-1", "wn", "c")


@pytest.mark.parametrize(
    ("im_state", "power"),
    [
        ("pending", PowerState.BOOTING),
        ("running", PowerState.ON),
        ("configured", PowerState.ON),
        ("unconfigured", PowerState.ON),
        ("stopped", PowerState.OFF),
        ("off", PowerState.OFF),
        ("failed", PowerState.OFF),
        ("deleting", PowerState.STOPPING),
        ("unknown", PowerState.UNKNOWN),
        ("Running ", PowerState.ON),
        ("something-new", PowerState.UNKNOWN),
    ],
)
def test_state_mapping(im_state: str, power: PowerState) -> None:
    assert state_of(im_state) == power


def test_auth_header_joins_lines_with_a_literal_backslash_n() -> None:
    text = (
        "# IM credentials\n"
        "id = one; type = OpenNebula; host = one:2633; username = u; password = p\n"
        "\n"
        "type = InfrastructureManager; username = user; password = pass\n"
    )
    assert auth_header(text) == (
        "id = one; type = OpenNebula; host = one:2633; username = u; password = p"
        "\\ntype = InfrastructureManager; username = user; password = pass"
    )


def test_tags_in_an_empty_system_body() -> None:
    radl = render_recipe("system {node_name} ( )\n", "n", "t", "c", "im")
    assert (
        "system n (\n    clues.cluster = 'c' and clues.template = 't' and clues.power = 'im' )"
        in radl
    )


def test_provider_ids() -> None:
    assert parse_provider_id("im://a1-b2/3") == ("a1-b2", "3")
    assert parse_provider_id("im://a1-b2/") is None
    assert parse_provider_id("sim://wn-1") is None
    assert parse_provider_id("") is None


def _ctx(power: str = "im") -> PluginContext:
    tpl = NodeTemplate(
        name="wn", resources=Resources(cpu_millis=1000), power=power, node_names=("wn-1",)
    )
    return PluginContext("c", "im", {"wn": tpl})


def _cfg(tmp_path: Path, **kw: object) -> IMPowerManager.Config:
    auth = tmp_path / "auth"
    auth.write_text("type = InfrastructureManager; username = u; password = p\n")
    opts: dict[str, object] = {
        "url": "http://127.0.0.1:1",
        "auth_file": str(auth),
        "recipes": {"wn": RECIPE},
        "infrastructure_id": "inf",
    }
    opts.update(kw)
    return IMPowerManager.Config(**opts)  # type: ignore[arg-type]


def test_valid_config_does_no_io(tmp_path: Path) -> None:
    recipe = tmp_path / "wn.radl"
    recipe.write_text(RECIPE)
    pm = IMPowerManager(_cfg(tmp_path, recipes={"wn": str(recipe)}), _ctx())
    assert pm.infrastructure(create=False) == "inf"


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"url": "127.0.0.1:8800"}, r"power\.im\.url: .* not an http\(s\) URL"),
        ({"auth_file": "/nonexistent/auth"}, r"power\.im\.auth_file: cannot read"),
        ({"recipes": {}}, r"power\.im\.recipes: no RADL recipe for template 'wn'"),
        ({"recipes": {"wn": "/nonexistent.radl"}}, r"power\.im\.recipes\.wn: .*No such file"),
        (
            {"recipes": {"wn": "system x (cpu.count>=1)"}},
            r"power\.im\.recipes\.wn: .*\{node_name\}",
        ),
        ({"infrastructure_id": ""}, r"power\.im: set `infrastructure_id` .* or `state_file`"),
        ({"base_radl": "/nonexistent-base.radl"}, r"power\.im\.base_radl: cannot read"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, options: dict[str, object], error: str) -> None:
    with pytest.raises(PluginError, match=error):
        IMPowerManager(_cfg(tmp_path, **options), _ctx())


def test_empty_auth_file_is_an_error(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    Path(cfg.auth_file).write_text("# nothing\n\n")
    with pytest.raises(PluginError, match="has no credentials"):
        IMPowerManager(cfg, _ctx())


def test_templates_of_other_managers_need_no_recipe(tmp_path: Path) -> None:
    IMPowerManager(_cfg(tmp_path, recipes={}), _ctx(power="other"))


def test_a_created_infrastructure_id_is_read_back(tmp_path: Path) -> None:
    state = tmp_path / "infid"
    state.write_text("abc-123\n")
    pm = IMPowerManager(_cfg(tmp_path, infrastructure_id="", state_file=str(state)), _ctx())
    assert pm.infrastructure(create=False) == "abc-123"
