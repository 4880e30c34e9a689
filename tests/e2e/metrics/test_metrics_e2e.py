"""/metrics end to end: a real Prometheus scrapes cluesd (in-process Service on the sandbox)
through a 2-node scale-up; values are read back through Prometheus' HTTP API.

The same live exposition is checked with `promtool check metrics`, and every metric
named by the Grafana dashboard and the alert rules must be one the daemon exports.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import base_config, pod_manifest
from tests.tools import stop_process, wait_for, wait_started

from .conftest import DASHBOARD, PROMETHEUS_DIR, require_tool


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Sandbox]]:
    tmp = tmp_path_factory.mktemp("metrics")
    sb = Sandbox(port=0, pod_start_seconds=0.05).start()
    cfg = base_config(sb, tmp, idle_time=600, daemon={"metrics_listen": "127.0.0.1:0"})
    svc = Service(config_from_dict(cfg, source="test")).start()
    try:
        yield svc, sb
    finally:
        svc.stop()
        sb.stop()


def scale_up(svc: Service, sb: Sandbox) -> None:
    """6 pods of 1 cpu / 2Gi on 4-cpu nodes: two nodes. The pods run until deleted."""
    if not sb.store.list("pods", "default")[0]:
        for i in range(6):
            sb.store.create("pods", pod_manifest(f"p{i}"), "default")
    wait_for(
        lambda: sum(1 for n in svc.daemon.control.status()["nodes"] if n["state"] == "used") == 2,
        timeout=30,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def prometheus(
    service: tuple[Service, Sandbox], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    binary = require_tool("prometheus")
    tmp = tmp_path_factory.mktemp("prometheus")
    # Our own etc/prometheus/prometheus.yml, pointed at the test daemon and sped up.
    cfg = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    cfg["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    cfg["rule_files"] = [str(PROMETHEUS_DIR / "alerts.yml")]
    cfg["scrape_configs"][0]["static_configs"][0]["targets"] = [service[0].metrics_address]
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    url = f"http://127.0.0.1:{_free_port()}"
    log = (tmp / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def ready() -> bool:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_started(proc, ready, "prometheus ready", tmp / "prometheus.log")
        yield url
    finally:
        stop_process(proc)
        log.close()


def query(url: str, promql: str) -> float | None:
    """Value of a PromQL expression that yields one sample, None when it yields none."""
    data = _get(f"{url}/api/v1/query?query={urllib.parse.quote(promql)}")
    assert data["status"] == "success", data
    result = data["data"]["result"]
    if not result:
        return None
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def eventually(url: str, promql: str, expected: float) -> None:
    wait_for(lambda: query(url, promql) == expected, timeout=30, interval=0.25)


def test_prometheus_sees_a_two_node_scale_up(
    service: tuple[Service, Sandbox], prometheus: str
) -> None:
    svc, sb = service
    eventually(prometheus, 'up{job="cluesd"}', 1)
    eventually(prometheus, "sum(clues_nodes)", 4)
    assert query(prometheus, 'sum(clues_nodes{state="off"})') == 4
    assert query(prometheus, "sum(clues_power_on_total)") == 0
    assert query(prometheus, "clues_leader") == 1
    scale_up(svc, sb)
    eventually(prometheus, 'sum(clues_nodes{state="used"})', 2)
    eventually(prometheus, 'sum(clues_power_on_total{result="ok"})', 2)
    assert query(prometheus, 'sum(clues_nodes{state="off"})') == 2
    assert query(prometheus, 'clues_power_on_total{template="wn",result="failed"}') == 0
    assert query(prometheus, 'clues_boot_duration_seconds_count{template="wn"}') == 2
    assert query(prometheus, "clues_scale_up_reaction_seconds_count") == 2
    assert query(prometheus, 'clues_demand_pods{source="pending"}') == 0
    assert query(prometheus, "sum(clues_errors_total)") == 0
    boot_mean = query(
        prometheus,
        'clues_boot_duration_seconds_sum{template="wn"} / clues_boot_duration_seconds_count',
    )
    assert boot_mean is not None and 0 < boot_mean < 20  # sandbox boots take ~0.3 s
    powered = query(prometheus, 'clues_node_powered_seconds_total{template="wn"}')
    assert powered is not None and powered > 0
    assert (query(prometheus, "clues_plan_duration_seconds_count") or 0) >= 1
    # Prometheus loaded our alert rules and evaluates them without errors.
    groups = _get(prometheus + "/api/v1/rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) == 8
    # A boot makes CluesNodeStuckBooting pending (its `for` is 20 min) until a rule
    # evaluation sees the settled cluster. An evaluation queries at its tick, which is at
    # most one interval (1 s) before it starts, so one that starts more than 1 s after
    # Prometheus answered with the settled state above sees that state.
    settled = time.time() + 1.0
    wait_for(
        lambda: all(r["health"] == "ok" and _evaluated_at(r) > settled for r in _rules(prometheus)),
        timeout=15,
    )
    assert not [a for a in _get(prometheus + "/api/v1/alerts")["data"]["alerts"]]


def _evaluated_at(rule: dict[str, Any]) -> float:
    """A rule's lastEvaluation (RFC 3339, nanoseconds) as a Unix time."""
    stamp = re.sub(r"(\.\d{6})\d*", r"\1", rule["lastEvaluation"]).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp()


def _rules(url: str) -> list[dict[str, Any]]:
    return [r for g in _get(url + "/api/v1/rules")["data"]["groups"] for r in g["rules"]]


def _exposition(svc: Service) -> str:
    with urllib.request.urlopen(f"http://{svc.metrics_address}/metrics", timeout=5) as resp:
        return resp.read().decode()


def test_live_exposition_passes_promtool_check_metrics(
    service: tuple[Service, Sandbox],
) -> None:
    text = _exposition(service[0])
    out = subprocess.run(
        [require_tool("promtool"), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr
    names = {f.name for f in text_string_to_metric_families(text)}
    assert all(n.startswith("clues_") for n in names), names


# ---------------------------------------------------------------- dashboard and alert names

_FUNC_OR_KEYWORD = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan", "le",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (strings, matchers, ranges, grouping
    clauses and function names removed)."""
    if m := re.fullmatch(r"\s*label_values\(\s*([A-Za-z_:][\w:]*)\s*,.*\)\s*", expr):
        return {m.group(1)}
    e = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    found = re.findall(r"(?<![\w.$])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()", e)
    return {n for n in found if n.lower() not in _FUNC_OR_KEYWORD}


def test_metric_name_extraction() -> None:
    assert metric_names(
        'histogram_quantile(0.95, sum by (le, template) (rate(a_bucket{job="$job"}[5m])))'
    ) == {"a_bucket"}
    assert metric_names("sum(x_total) / on (job) group_left (v) y offset 5m > 2e3") == {
        "x_total",
        "y",
    }
    assert metric_names('up{job="a{b}"} == 0') == {"up"}
    assert metric_names("label_values(clues_build_info, job)") == {"clues_build_info"}


def _dashboard_exprs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            # Panel targets, and variable queries (`query` is a plain string only there).
            if isinstance(v, str) and (k in ("expr", "definition") or k == "query" and "(" in v):
                yield v
            else:
                yield from _dashboard_exprs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _dashboard_exprs(v)


def test_dashboard_and_alerts_only_name_exported_metrics(
    service: tuple[Service, Sandbox],
) -> None:
    svc, sb = service
    scale_up(svc, sb)  # series such as transitions only appear once something happened
    exported = {s.name for f in text_string_to_metric_families(_exposition(svc)) for s in f.samples}
    exported.add("up")  # made by Prometheus for every target
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = list(_dashboard_exprs(dashboard))
    assert len(exprs) >= 20
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = set().union(*(metric_names(e) for e in exprs))
    assert used - exported == set()
    # The dashboard covers what the issue asks for.
    for name in (
        "clues_nodes",
        "clues_demand_pods",
        "clues_boot_duration_seconds_bucket",
        "clues_scale_up_reaction_seconds_bucket",
        "clues_power_on_total",
        "clues_errors_total",
    ):
        assert name in used, name
