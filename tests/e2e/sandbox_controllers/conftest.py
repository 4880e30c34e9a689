"""End-to-end tests of the sandbox controllers through the real HTTP server.

Nothing is faked: a `Sandbox` serves on 127.0.0.1 (free port) and the official
`kubernetes` client talks to it through a kubeconfig; the machine hooks are
called over HTTP with urllib. Waits poll with deadlines (`wait_for`).
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from clues_py.sandbox import Sandbox
from tests.tools import kubectl_binaries, kubectl_for, stored_versions_checked

Kubectl = Callable[..., str]


@pytest.fixture(autouse=True)
def _stored_versions_unchanged() -> Iterator[None]:
    """Controllers read the store's own versions: no test may end with one changed in place."""
    with stored_versions_checked():
        yield


def http(sb: Sandbox, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(sb.url + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


class Cluster:
    def __init__(self, sb: Sandbox, api: client.ApiClient) -> None:
        self.sb = sb
        self.api = api
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.scheduling = client.SchedulingV1Api(api)


def _cluster(tmp_path: Any, **kw: Any) -> Iterator[Cluster]:
    sb = Sandbox(**kw).start()
    path = sb.write_kubeconfig(tmp_path / "kubeconfig")
    api = config.new_client_from_config(config_file=path)
    try:
        yield Cluster(sb, api)
    finally:
        api.close()
        sb.stop()


@pytest.fixture
def cluster(tmp_path: Any) -> Iterator[Cluster]:
    yield from _cluster(tmp_path, pod_start_seconds=0.05, kill_seconds=0.05)


@pytest.fixture
def virtual_cluster(tmp_path: Any) -> Iterator[Cluster]:
    yield from _cluster(tmp_path, virtual=True)


@pytest.fixture(params=kubectl_binaries(), ids=[label for label, _ in kubectl_binaries()])
def kubectl_exe(request: pytest.FixtureRequest) -> str:
    """Each kubectl the tests run with: the machine's and the packaged current one."""
    return kubectl_for(request.param)


@pytest.fixture
def kubectl(cluster: Cluster, kubectl_exe: str, tmp_path: Path) -> Kubectl:
    """Run kubectl against `cluster`; with `ok` it must succeed with an empty stderr
    (but for kubectl's own client-side `warning`, when one is named)."""
    kubeconfig = cluster.sb.write_kubeconfig(tmp_path / "kc")

    def run(*args: str, ok: bool = True, warning: str = "") -> str:
        cmd = [kubectl_exe, "--kubeconfig", kubeconfig, "--cache-dir", str(tmp_path / "cache")]
        proc = subprocess.run(
            [*cmd, *args], capture_output=True, text=True, timeout=90, check=False
        )
        if ok:
            stderr = proc.stderr if not warning or warning not in proc.stderr else ""
            assert proc.returncode == 0 and stderr == "", f"{args}: {proc.stderr}"
            return proc.stdout
        return proc.stdout + proc.stderr

    return run
