"""etc/kubernetes/ is valid: `kubectl apply --dry-run=server` against the sandbox succeeds, the
RBAC grants exactly the verbs cluesd uses, and the embedded clues.yaml passes `config check`."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from clues_py.config.load import parse_config
from clues_py.sandbox import Sandbox
from tests.tools import kubectl_binaries, kubectl_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "etc" / "kubernetes"


def _docs() -> list[dict[str, Any]]:
    out = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        out += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return out


@pytest.mark.parametrize(
    "kubectl", kubectl_binaries(), ids=[label for label, _ in kubectl_binaries()]
)
def test_kubectl_apply_dry_run_server(
    sandbox: Sandbox, tmp_path: Path, kubectl: tuple[str, str | None]
) -> None:
    kubeconfig = sandbox.write_kubeconfig(str(tmp_path / "kubeconfig"))
    proc = subprocess.run(
        [
            kubectl_for(kubectl),
            "--kubeconfig",
            kubeconfig,
            "apply",
            "--dry-run=server",
            "-f",
            str(MANIFESTS),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    kinds = {line.split("/")[0] for line in proc.stdout.splitlines()}
    assert {
        "namespace",
        "serviceaccount",
        "clusterrole.rbac.authorization.k8s.io",
        "clusterrolebinding.rbac.authorization.k8s.io",
        "role.rbac.authorization.k8s.io",
        "rolebinding.rbac.authorization.k8s.io",
        "configmap",
        "deployment.apps",
        "service",
    } <= kinds, proc.stdout
    assert proc.stdout.count("(server dry run)") == len(_docs())
    # Dry run: nothing was stored.
    assert sandbox.store.list("configmaps", "clues-system")[0] == []


def _rules(kind: str) -> set[tuple[str, str, str]]:
    (doc,) = [d for d in _docs() if d["kind"] == kind]
    return {
        (group, res, verb)
        for rule in doc["rules"]
        for group in rule["apiGroups"]
        for res in rule["resources"]
        for verb in rule["verbs"]
    }


def test_rbac_is_exactly_what_cluesd_uses() -> None:
    def grant(group: str, res: str, *verbs: str) -> set[tuple[str, str, str]]:
        return {(group, res, v) for v in verbs}

    assert _rules("ClusterRole") == (
        grant("", "nodes", "get", "list", "watch", "patch", "delete")
        | grant("", "pods", "get", "list", "watch")
        | grant("", "pods/eviction", "create")
        | grant("batch", "jobs", "list", "watch")
        | grant("kueue.x-k8s.io", "workloads", "list", "watch")
        | grant("kueue.x-k8s.io", "clusterqueues", "list", "watch")
        | grant("kueue.x-k8s.io", "localqueues", "list", "watch")
        | grant("kueue.x-k8s.io", "resourceflavors", "list", "watch")
        | grant("autoscaling.x-k8s.io", "provisioningrequests", "list", "watch")
        | grant("autoscaling.x-k8s.io", "provisioningrequests/status", "get", "update")
        | grant("", "podtemplates", "list", "watch")
        | grant("policy", "poddisruptionbudgets", "list", "watch")
        | grant("", "events", "create", "patch")
    )
    assert _rules("Role") == grant("coordination.k8s.io", "leases", "get", "create", "update") | (
        grant("", "configmaps", "get", "create", "update")
    )
    assert not any("*" in r for rule in _rules("ClusterRole") for r in rule)


def test_embedded_config_is_valid_and_matches_the_deployment() -> None:
    docs = {d["kind"]: d for d in _docs()}
    text = docs["ConfigMap"]["data"]["clues.yaml"]
    cfg = parse_config(text, "etc/kubernetes/20-configmap.yaml#clues.yaml")
    assert cfg.backend.options["in_cluster"] is True
    assert cfg.leader_election.enabled and docs["Deployment"]["spec"]["replicas"] == 2
    namespace = docs["Namespace"]["metadata"]["name"]
    assert cfg.leader_election.namespace == namespace == cfg.backend.options["namespace"]
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert {"/etc/clues", "/var/lib/clues", "/run/clues"} <= mounts
    assert cfg.daemon.listen == "unix:/run/clues/clues.sock"
    port = docs["Service"]["spec"]["ports"][0]
    assert port["port"] == 9484 and cfg.daemon.metrics_listen.endswith(":9484")
