"""`clues explain pod|node` against a running daemon with a configured policy pipeline."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from clues_py.cli.main import main
from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import base_config, pod_manifest
from tests.tools import wait_for


def test_explain_pod_and_node(sandbox: Sandbox, tmp_path: Path) -> None:
    raw = base_config(
        sandbox,
        tmp_path,
        policies=["scale_up", "idle_off", {"kind": "limits", "max_cores": 4}],
        expanders=["cheapest", "least_waste"],
    )
    service = Service(config_from_dict(raw, source="test")).start()
    address = raw["daemon"]["listen"]
    cli = CliRunner()

    def explain(*args: str):
        return cli.invoke(main, ["--address", address, "explain", *args])

    try:
        sandbox.store.create("pods", pod_manifest("huge", cpu="16"), "default")
        sandbox.store.create("pods", pod_manifest("a", cpu="3"), "default")
        sandbox.store.create("pods", pod_manifest("b", cpu="3"), "default")
        wait_for(
            lambda: "default/huge" in service.daemon.control.status()["unplaceable"], timeout=15
        )
        wait_for(
            lambda: any(n["state"] != "off" for n in service.daemon.control.status()["nodes"]),
            timeout=15,
        )

        result = explain("pod", "default/huge")
        assert result.exit_code == 0, result.output
        assert "default/huge: pending" in result.output
        assert "policy scale_up decided: fits no template" in result.output

        doc = json.loads(explain("pod", "default/huge", "--json").output)
        assert doc["decision"]["policy"] == "scale_up"
        assert any("fits no template" in h["reason"] for h in doc["history"])

        # One of a/b got a node; the other was held back by max_cores (4 cores = 1 node).
        def limited():
            docs = [json.loads(explain("pod", f"default/{p}", "--json").output) for p in "ab"]
            return any((d["decision"] or {}).get("policy") == "limits" for d in docs) and docs

        docs = wait_for(limited, timeout=15)
        held = next(d for d in docs if (d["decision"] or {}).get("policy") == "limits")
        assert "max_cores would be exceeded" in held["decision"]["reason"]

        powered = next(
            n["name"] for n in service.daemon.control.status()["nodes"] if n["state"] != "off"
        )
        node = explain("node", powered)
        assert node.exit_code == 0, node.output
        assert f"node {powered} (wn)" in node.output
        assert "power_on" in node.output and "scale_up" in node.output

        missing = explain("node", "nope")
        assert missing.exit_code != 0 and "unknown node" in missing.output
    finally:
        service.stop()
