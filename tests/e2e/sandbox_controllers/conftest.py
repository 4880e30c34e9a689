"""End-to-end tests of the sandbox controllers through the real HTTP server.

Nothing is faked: a `Sandbox` serves on 127.0.0.1 (free port) and the official
`kubernetes` client talks to it through a kubeconfig; the machine hooks are
called over HTTP with urllib. Waits poll with deadlines (`wait_for`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config

from clues_py.sandbox import Sandbox


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
