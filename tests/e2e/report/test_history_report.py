"""`clues history` filters and `clues report --html` against a real cluesd run.

cluesd runs in-process (a `Service`) on a Unix socket, with the `sim` power manager and the
sandbox API server on 127.0.0.1; the CLI talks to it over the API like an operator would.
The report is checked structurally (charts present, one table row per stored action,
self-contained), not by looking at pixels.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from clues_py.cli.main import main
from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import base_config, pod_manifest, sandbox
from tests.tools import wait_for

__all__ = ["sandbox"]  # the fixture, re-exported for pytest


@pytest.fixture
def ran(sandbox: Sandbox, tmp_path: Path) -> Iterator[tuple[Service, list[str]]]:
    """A daemon after two bursts: nodes powered on, used, idle and off again."""
    raw = base_config(sandbox, tmp_path, daemon={"metrics_listen": None})
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        for burst in range(2):
            for i in range(5 - 2 * burst):
                pod = pod_manifest(f"b{burst}-p{i}", duration="1s")
                sandbox.store.create("pods", pod, "default")
            wait_for(
                lambda: any(s["state"] == "used" for s in service.daemon.control.status()["nodes"])
            )
            wait_for(
                lambda: {n["state"] for n in service.daemon.control.status()["nodes"]} == {"off"},
                timeout=40,
            )
        yield service, ["--address", service.api.address]
    finally:
        service.stop()


def _cli(address: list[str], *args: str) -> Any:
    res = CliRunner().invoke(main, [*address, *args])
    assert res.exit_code == 0, res.output
    return res


def test_history_filters_by_kind_node_and_since(ran: tuple[Service, list[str]]) -> None:
    service, addr = ran
    store = service.daemon.store
    every = store.actions(limit=1000)
    assert {a["kind"] for a in every} == {"power_on", "power_off"}

    ons = json.loads(_cli(addr, "history", "--kind", "power_on", "--json").output)
    assert ons["actions"] and {a["kind"] for a in ons["actions"]} == {"power_on"}
    assert len(ons["actions"]) == sum(a["kind"] == "power_on" for a in every)
    assert ons["transitions"] == []  # no state is called power_on

    offs = json.loads(_cli(addr, "history", "--kind", "off,idle", "--json").output)
    assert offs["actions"] == [] and {t["new"] for t in offs["transitions"]} == {"off", "idle"}

    node = every[0]["node"]
    one = json.loads(_cli(addr, "history", "--node", node, "--json").output)
    assert {a["node"] for a in one["actions"] + one["transitions"]} == {node}

    text = _cli(addr, "history", "--since", "1h", "--limit", "3").output
    assert "action power_off" in text or "action power_on" in text
    assert len(text.strip().splitlines()) == 6  # 3 actions + 3 transitions

    cut = sorted(a["at"] for a in every)[len(every) // 2]
    newer = json.loads(_cli(addr, "history", "--since", str(cut), "--json").output)
    assert newer["actions"] and all(a["at"] >= cut for a in newer["actions"])
    assert len(newer["actions"]) == sum(a["at"] >= cut for a in every)

    future = _cli(addr, "history", "--since", str(every[0]["at"] + 3600)).output
    assert future.strip() == "no history matches these filters"
    bad = CliRunner().invoke(main, [*addr, "history", "--since", "yesterday"])
    assert bad.exit_code == 2 and "duration" in bad.output


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, int] = {}
        self.svgs = 0
        self.areas: set[str] = set()
        self.bars: set[str] = set()
        self.external: list[str] = []
        self._table = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("class") or ""
            self.tables[self._table] = 0
        elif tag == "tr" and self._table:
            self.tables[self._table] += 1
        elif tag == "svg":
            self.svgs += 1
        elif tag == "polygon":
            self.areas.add(a.get("data-state") or "")
        elif tag == "rect" and a.get("data-kind"):
            self.bars.add(a["data-kind"] or "")
        if tag in ("script", "link", "img", "iframe") or any(k in ("src", "href") for k in a):
            self.external.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = ""


def test_report_html_matches_the_store(ran: tuple[Service, list[str]], tmp_path: Path) -> None:
    service, addr = ran
    out = tmp_path / "report.html"
    res = _cli(addr, "report", "--html", str(out))
    actions = service.daemon.store.actions(limit=10_000)
    assert f"{len(actions)} actions" in res.output
    page = _Page()
    page.feed(out.read_text())
    assert page.tables["actions"] == len(actions) + 1  # + header row
    assert page.svgs == 2 and page.external == []
    assert {"used", "off"} <= page.areas
    assert page.bars == {"power_on", "power_off"}
    assert page.tables["waits"] >= 3  # header, power_on and boot durations at least
    text = html.unescape(out.read_text())
    assert all(a["reason"] in text for a in actions)


def test_report_from_db_file_and_since(ran: tuple[Service, list[str]], tmp_path: Path) -> None:
    service, addr = ran
    every = service.daemon.store.actions(limit=10_000)
    cut = sorted(a["at"] for a in every)[len(every) // 2]
    out = tmp_path / "db.html"
    db = service.cfg.daemon.state_db
    res = CliRunner().invoke(main, ["report", "--html", str(out), "--db", db, "--since", str(cut)])
    assert res.exit_code == 0, res.output
    page = _Page()
    page.feed(out.read_text())
    assert page.tables["actions"] == sum(a["at"] >= cut for a in every) + 1


def test_history_filters_without_a_store_over_http() -> None:
    """A DaemonControl with no store: the server filters the newest rows itself."""
    from clues_py.api import ApiError
    from clues_py.api.client import ApiClient
    from clues_py.api.server import ApiServer
    from tests.e2e.api.api_fakes import FakeControl

    control = FakeControl()
    control.node_op("poweron", "wn-3")
    control.node_op("poweroff", "wn-2")
    control.node_op("resetstate", "wn-1")
    every = control.actions(None, 10_000)
    with ApiServer(control, "127.0.0.1:0") as server:
        client = ApiClient(server.address)
        kinds = {a["kind"] for a in every}
        for kind in kinds:
            got = client.actions(kinds=(kind,))
            assert got == [a for a in every if a["kind"] == kind]
        assert client.actions(kinds=("power_off",)) == []
        trans = control.transitions(None, 10_000)
        cut = sorted(t["at"] for t in trans)[1]
        assert client.transitions(since=cut) == [t for t in trans if t["at"] >= cut]
        assert len(client.transitions(since=cut)) == 2
        got = client.transitions(kinds=("draining", "unknown"))
        assert [t["node"] for t in got] == ["wn-1", "wn-2"]
        with pytest.raises(ApiError) as err:
            client._request("GET", "/v1/actions?since=soon")
        assert err.value.status == 400 and "epoch seconds" in err.value.message
