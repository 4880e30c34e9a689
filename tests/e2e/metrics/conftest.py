"""Fixtures for the metrics end-to-end tests: external tools (promtool, prometheus) and a
cluesd Service on the sandbox with its /metrics listener on 127.0.0.1.

A missing tool skips the test on a developer machine but FAILS it under CI=true: CI
must install the Debian `prometheus` package (it brings promtool).
"""

from __future__ import annotations

from pathlib import Path

from tests import tools

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = REPO / "etc" / "prometheus"
DASHBOARD = REPO / "etc" / "grafana" / "clues-dashboard.json"


def require_tool(name: str, package: str = "prometheus") -> str:
    return tools.require_tool(name, package)
