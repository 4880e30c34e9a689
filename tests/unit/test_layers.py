"""The layer rules of STYLE.md, checked on the source (as import-linter would).

- model, lifecycle and planner are pure: no I/O libraries, no clocks, no threads, and
  nothing from the layers above them (store, actuator, daemon, api, cli...).
- Plugins depend only on the contracts, the model and the planner's policy framework,
  never on each other (a package's own private `_helper` module is fine).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = [
    ROOT / "clues_py" / "model.py",
    ROOT / "clues_py" / "quantity.py",
    ROOT / "clues_py" / "lifecycle.py",
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
UPPER_LAYERS = {
    "clues_py.store",
    "clues_py.actuator",
    "clues_py.daemon",
    "clues_py.control",
    "clues_py.service",
    "clues_py.api",
    "clues_py.cli",
    "clues_py.cli_common",
    "clues_py.cli_tools",
    "clues_py.config",
    "clues_py.config_schema",
    "clues_py.config_check",
    "clues_py.config_names",
    "clues_py.sandbox",
    "clues_py.sim",
    "clues_py.metrics",
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


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import time\nfrom clues_py.store import Store\nfrom os import path\n")
    assert imports(sample) == ["time", "clues_py.store", "os"]
