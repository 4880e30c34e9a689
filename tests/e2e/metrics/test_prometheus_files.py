"""etc/prometheus: the scrape config and alert rules pass promtool, and the alerts fire as
documented on synthetic series (`promtool test rules`, cases in alerts_test.yml)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import PROMETHEUS_DIR, require_tool


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool"), *args], capture_output=True, text=True, timeout=60
    )


def test_alert_rules_pass_promtool_check_rules() -> None:
    out = _promtool("check", "rules", str(PROMETHEUS_DIR / "alerts.yml"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 8 rules found" in out.stdout


def test_scrape_config_passes_promtool_check_config() -> None:
    out = _promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "is valid prometheus config file syntax" in out.stdout
    assert "1 rule files found" in out.stdout


def test_alerts_fire_on_synthetic_series(tmp_path: Path) -> None:
    cases = (Path(__file__).parent / "alerts_test.yml").read_text()
    test_file = tmp_path / "alerts_test.yml"
    test_file.write_text(cases.replace("RULES_FILE", str(PROMETHEUS_DIR / "alerts.yml")))
    out = _promtool("test", "rules", str(test_file))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_a_broken_rule_is_rejected(tmp_path: Path) -> None:
    # Guards the test above: promtool must actually be checking something.
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(up[5m]\n"
    )
    out = _promtool("check", "rules", str(bad))
    assert out.returncode != 0
