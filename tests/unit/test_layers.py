"""The layer rules of STYLE.md, checked on the source (as import-linter would).

- model, lifecycle and planner are pure: no I/O libraries, no clocks, no threads, and
  nothing from the layers above them (store, the wings, the plugin loader, any plugin).
- Plugins depend only on the contracts, the model and the planner's policy framework,
  never on each other (a package's own private `_helper` module is fine).
- The wings (docs/architecture.md): the core modules import no wing; the config wing
  imports only the core; the daemon wing imports neither the CLI, the simulator nor the
  sandbox, and only `daemon/service.py` imports the API; nothing outside the CLI wing
  imports it. Every wing's `__init__.py` is a docstring and nothing else.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = [
    ROOT / "clues_py" / "model.py",
    ROOT / "clues_py" / "placement.py",
    ROOT / "clues_py" / "quantity.py",
    ROOT / "clues_py" / "placement.py",
    ROOT / "clues_py" / "forecast.py",
    ROOT / "clues_py" / "lifecycle.py",
    ROOT / "clues_py" / "timeouts.py",
    ROOT / "clues_py" / "resources.py",
    ROOT / "clues_py" / "slots.py",
    *sorted((ROOT / "clues_py" / "planner").glob("*.py")),
]
IO_MODULES = {
    "kubernetes",
    "libcloud",
    "sqlite3",
    "http",
    "urllib",
    "urllib3",
    "requests",
    "socket",
    "subprocess",
    "threading",
    "time",
    "asyncio",
    "os",
}
WINGS = ("clues_py.daemon", "clues_py.config", "clues_py.cli")
UPPER_LAYERS = {
    "clues_py.store",
    *WINGS,
    "clues_py.api",
    "clues_py.sandbox",
    "clues_py.sim",
    "clues_py.metrics",
    "clues_py.plugins",
    "clues_py.redact",
    "plugins",  # the planner never imports a plugin: the pipeline resolves them by name
}
PLUGIN_ALLOWED = ("clues_py.contracts", "clues_py.model", "clues_py.planner")


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_layers_do_no_io_and_import_nothing_above_them(path: Path) -> None:
    bad = [
        m
        for m in imports(path)
        if m.split(".")[0] in IO_MODULES
        or any(m == u or m.startswith(u + ".") for u in UPPER_LAYERS)
    ]
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


PLUGINS = sorted(p for p in (ROOT / "plugins").rglob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", PLUGINS, ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_use_only_the_contracts_and_never_each_other(path: Path) -> None:
    package = ".".join(path.relative_to(ROOT).parts[:-1])  # e.g. plugins.power
    bad = []
    for m in imports(path):
        if m.startswith("clues_py") and not m.startswith(PLUGIN_ALLOWED):
            bad.append(m)
        elif m.startswith("plugins."):
            last = m.rsplit(".", 1)[-1]
            # Same package only: a private helper or a sibling module of one plugin.
            if not m.startswith(package + ".") or not (
                last.startswith("_") or last.startswith(path.stem.split("_")[0])
            ):
                bad.append(m)
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _modules(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py"))


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


CORE = [
    ROOT / "clues_py" / f"{m}.py"
    for m in (
        "model",
        "quantity",
        "resources",
        "clock",
        "lifecycle",
        "timeouts",
        "store",
        "contracts",
        "outcome",
    )  # fmt: skip
]
OUTSIDE = ("clues_py.cli", "clues_py.sim", "clues_py.sandbox", "clues_py.api")


@pytest.mark.parametrize("path", CORE, ids=_rel)
def test_core_modules_import_no_wing(path: Path) -> None:
    bad = [m for m in imports(path) if _under(m, (*WINGS, *OUTSIDE, "clues_py.plugins"))]
    assert bad == [], f"{_rel(path)} imports {bad}"


@pytest.mark.parametrize("path", _modules("clues_py/config"), ids=_rel)
def test_the_config_wing_imports_only_the_core(path: Path) -> None:
    # The migration asks the plugin loader which options a power plugin has.
    loader = () if "migrate" in path.parts else ("clues_py.plugins",)
    forbidden = ("clues_py.daemon", "clues_py.store", "clues_py.metrics", *OUTSIDE, *loader)
    bad = [m for m in imports(path) if _under(m, (*forbidden, "plugins"))]
    assert bad == [], f"{_rel(path)} imports {bad}"


@pytest.mark.parametrize("path", _modules("clues_py/daemon"), ids=_rel)
def test_the_daemon_wing_stays_below_the_cli(path: Path) -> None:
    # cluesd serves the API; the rest of the daemon knows nothing of HTTP.
    api = ("clues_py.api",) if path.name != "service.py" else ()
    forbidden = ("clues_py.cli", "clues_py.sim", "clues_py.sandbox", *api)
    bad = [m for m in imports(path) if _under(m, forbidden)]
    assert bad == [], f"{_rel(path)} imports {bad}"


NOT_CLI = [p for p in _modules("clues_py", "plugins") if "cli" not in p.relative_to(ROOT).parts]


@pytest.mark.parametrize("path", NOT_CLI, ids=_rel)
def test_nothing_outside_the_cli_wing_imports_it(path: Path) -> None:
    bad = [m for m in imports(path) if _under(m, ("clues_py.cli",))]
    assert bad == [], f"{_rel(path)} imports {bad}"


@pytest.mark.parametrize("wing", [*WINGS, "clues_py.config.migrate"])
def test_wing_init_is_a_docstring_only(wing: str) -> None:
    init = ROOT.joinpath(*wing.split("."), "__init__.py")
    tree = ast.parse(init.read_text())
    doc = ast.get_docstring(tree)
    assert doc and len(doc.split()) > 30, f"{wing}: say what lives there and what it may import"
    assert len(tree.body) == 1, f"{wing}/__init__.py re-exports or runs code; import from modules"


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import time\nfrom clues_py.store import Store\nfrom os import path\n")
    assert imports(sample) == ["time", "clues_py.store", "os"]


def test_console_scripts_point_at_callables() -> None:
    """`clues` and `cluesd` from pyproject resolve (tests run them as `python -m`)."""
    import importlib
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"clues", "cluesd"}
    for target in scripts.values():
        module, _, attr = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), target


MAX_MODULE_LINES = 450  # TEAM.md: split by job, not by cutting in half


def test_no_module_over_450_lines() -> None:
    big = {
        str(p.relative_to(ROOT)): n
        for p in _modules("clues_py", "plugins")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert big == {}, f"modules over {MAX_MODULE_LINES} lines: {big}"
