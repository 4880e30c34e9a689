"""The protobuf bodies kubectl 1.32 and 1.37 really send decode to what the user asked for.

The bodies were captured once through a recording proxy (`tests/fixtures/kubectl_requests/
record.py`); each is decoded exactly as it arrived. What the server then does with them over
HTTP is tested in tests/e2e/sandbox/test_protobuf_http.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clues_py.sandbox import protobuf, resources

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kubectl_requests"
VERSIONS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def bodies(version: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """file name -> (URL path, decoded object) for one kubectl version."""
    index = json.loads((FIXTURES / version / "index.json").read_text())
    return {
        e["file"]: (
            e["path"].split("?")[0],
            protobuf.decode((FIXTURES / version / e["file"]).read_bytes()),
        )
        for e in index["requests"]
        if "file" in e
    }


def test_fixtures_cover_both_kubectl_versions() -> None:
    assert VERSIONS == ["v1.32", "v1.37"]
    for version in VERSIONS:
        index = json.loads((FIXTURES / version / "index.json").read_text())
        assert index["kubectl"].startswith(version)
        posts = [e for e in index["requests"] if e["method"] == "POST" and "file" in e]
        assert len(posts) == 19
        assert all(e["content_type"] == protobuf.MEDIA_TYPE for e in posts)
        assert all(e["accept"].startswith(protobuf.MEDIA_TYPE + ",") for e in posts)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_body_names_the_kind_of_its_url(version: str) -> None:
    for path, obj in bodies(version).values():
        plural = path.rstrip("/").split("/")[-1]
        info = resources.lookup(plural)
        assert info is not None, path
        assert (obj["apiVersion"], obj["kind"]) == (info.api_version, info.kind), path


@pytest.mark.parametrize("version", VERSIONS)
def test_decoded_bodies_say_what_the_commands_said(version: str) -> None:
    got = {name: obj for name, (_, obj) in bodies(version).items()}
    assert got["01-post-namespaces.bin"]["metadata"] == {"name": "rec"}
    assert got["02-post-configmaps.bin"]["data"] == {"a": "b"}
    assert got["03-post-secrets.bin"]["data"] == {"k": "dg=="}  # bytes, base64 in JSON
    job = got["05-post-jobs.bin"]["spec"]["template"]["spec"]
    assert job["containers"][0]["command"] == ["sleep", "5"]
    assert job["restartPolicy"] == "Never"
    cron = got["06-post-cronjobs.bin"]["spec"]
    assert cron["schedule"] == "*/5 * * * *"
    assert cron["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    d1, d0 = got["07-post-deployments.bin"]["spec"], got["08-post-deployments.bin"]["spec"]
    assert d1["replicas"] == 2 and d1["selector"] == {"matchLabels": {"app": "d1"}}
    assert d1["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]
    assert d0["replicas"] == 0  # *int32: an explicit zero, not "unset"
    svc = got["09-post-services.bin"]["spec"]
    assert svc["ports"] == [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}]
    assert svc["type"] == "ClusterIP"
    assert got["10-post-services.bin"]["spec"]["type"] == "NodePort"
    pdb = got["11-post-poddisruptionbudgets.bin"]["spec"]
    assert pdb == {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}
    pc = got["12-post-priorityclasses.bin"]
    assert (pc["value"], pc["description"]) == (1000, "high")
    assert got["13-post-resourcequotas.bin"]["spec"]["hard"] == {"pods": "10"}
    rule = got["14-post-roles.bin"]["rules"][0]
    assert rule == {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
    assert got["15-post-rolebindings.bin"]["roleRef"]["name"] == "r1"
    review = got["18-post-selfsubjectaccessreviews.bin"]["spec"]["resourceAttributes"]
    assert (review["verb"], review["resource"]) == ("create", "pods")


@pytest.mark.parametrize("version", VERSIONS)
def test_bodies_survive_a_round_trip(version: str) -> None:
    for name, (_, obj) in bodies(version).items():
        assert protobuf.decode(protobuf.encode(obj)) == obj, name
