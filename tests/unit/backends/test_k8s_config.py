"""Connection configuration: private client Configuration and errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from clues_py.contracts import PluginContext, PluginError
from plugins.backends.kubernetes import KubernetesBackend, load_configuration

CTX = PluginContext(cluster_name="unit", instance="k8s")


def write_kubeconfig(path: Path, server: str = "http://127.0.0.1:1") -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [
            {"name": "one", "context": {"cluster": "c", "user": "u"}},
        ],
        "current-context": "one",
    }
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_missing_kubeconfig_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    cfg = KubernetesBackend.Config(kubeconfig=str(missing))
    with pytest.raises(PluginError, match=f"{missing} not found; set `kubeconfig:`"):
        KubernetesBackend(cfg, CTX)


def test_invalid_kubeconfig_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Config\ncontexts: []\nclusters: []\nusers: []\n")
    with pytest.raises(PluginError, match=f"{bad} is invalid"):
        load_configuration(str(bad), None, False)


def test_unknown_context_is_reported(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "kc")
    with pytest.raises(PluginError, match="`context:` option"):
        load_configuration(path, "nope", False)


def test_in_cluster_without_service_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(PluginError, match="in_cluster"):
        load_configuration(None, None, True)


def test_configuration_is_private(tmp_path: Path) -> None:
    before = k8s.Configuration.get_default_copy().host
    cfg = load_configuration(write_kubeconfig(tmp_path / "kc", "http://127.0.0.1:9"), None, False)
    assert cfg.host == "http://127.0.0.1:9"
    assert k8s.Configuration.get_default_copy().host == before


def test_satisfies_the_backend_protocol(tmp_path: Path) -> None:
    from clues_py.contracts import Backend

    b = KubernetesBackend(
        KubernetesBackend.Config(kubeconfig=write_kubeconfig(tmp_path / "kc")), CTX
    )
    assert isinstance(b, Backend)
    assert not b.synced()  # not started


def test_unreachable_server_gives_plugin_errors(tmp_path: Path) -> None:
    # Port 1 on loopback refuses at once: nothing listens there.
    b = KubernetesBackend(
        KubernetesBackend.Config(kubeconfig=write_kubeconfig(tmp_path / "kc")), CTX
    )
    try:
        with pytest.raises(PluginError, match="cordon n1: cannot reach"):
            b.cordon("n1")
        with pytest.raises(PluginError, match="delete node n1: cannot reach"):
            b.delete_node("n1")
        with pytest.raises(PluginError, match="cannot reach"):
            b.drain("n1")
    finally:
        b.stop()
