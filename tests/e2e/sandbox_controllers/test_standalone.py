"""`clues sandbox` runner: nodes from --nodes specs, kubeconfig, snapshot save and resume."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from kubernetes import client, config

from clues_py.sandbox.standalone import NodeSpecError, run_standalone
from tests.tools import wait_for

pytestmark = pytest.mark.e2e


def _run(tmp_path: Path, nodes: list[str]) -> tuple[threading.Event, threading.Thread, Path]:
    kubeconfig = tmp_path / "kc.yaml"
    kubeconfig.unlink(missing_ok=True)
    stop = threading.Event()
    t = threading.Thread(
        target=run_standalone,
        args=(0, nodes, str(kubeconfig), str(tmp_path / "snap.json")),
        kwargs={"stop": stop},
        daemon=True,
    )
    t.start()
    wait_for(kubeconfig.exists, what="kubeconfig written")
    return stop, t, kubeconfig


def _nodes(kubeconfig: Path) -> dict[str, list]:
    with config.new_client_from_config(config_file=str(kubeconfig)) as api:
        items = client.CoreV1Api(api).list_node().items
    return {n.metadata.name: [t.key for t in n.spec.taints or []] for n in items}


def test_standalone_builds_nodes_and_resumes_from_snapshot(tmp_path: Path, capsys) -> None:
    stop, t, kc = _run(tmp_path, ["2x2x4Gi", "1x8x32Gi"])
    nodes = _nodes(kc)
    assert nodes == {
        "master": ["node-role.kubernetes.io/control-plane"],
        "node-1": [],
        "node-2": [],
        "node-3": [],
    }
    stop.set()
    t.join(10)
    assert not t.is_alive() and (tmp_path / "snap.json").exists()
    assert "kubectl get nodes" in capsys.readouterr().out

    stop, t, kc = _run(tmp_path, [])  # resumes: the snapshot wins over --nodes
    assert sorted(_nodes(kc)) == ["master", "node-1", "node-2", "node-3"]
    stop.set()
    t.join(10)


def test_bad_node_spec_fails_before_serving(tmp_path: Path) -> None:
    with pytest.raises(NodeSpecError, match="--nodes 2x4: expected COUNTxCPUxMEMORY like 2x4x8Gi"):
        run_standalone(0, ["2x4"], str(tmp_path / "kc"), None)
    assert not (tmp_path / "kc").exists()
