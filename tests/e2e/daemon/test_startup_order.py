"""Start-up order (decision 0028): cluesd serves its API once the first pass is done, or
after `WEB_START_LIMIT` when the cluster cannot be listed, so `clues status` can say why."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from clues_py.api.client import ApiClient
from clues_py.config.load import config_from_dict
from clues_py.daemon import service as service_module
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from clues_py.sandbox.kubeconfig import write_kubeconfig
from tests.e2e.daemon.conftest import base_config

pytestmark = pytest.mark.e2e


def test_the_api_answers_once_the_first_pass_is_done(sandbox: Sandbox, tmp_path: Path) -> None:
    raw = base_config(sandbox, tmp_path)
    svc = Service(config_from_dict(raw, source="test")).start()
    try:
        # start() returned: the first pass is behind us, and the API answers about it.
        assert svc.daemon.passes >= 1
        api = ApiClient(svc.address, timeout=30)
        assert api.passes()["first_pass_at"] is not None
        assert api.status()["synced"] is True
    finally:
        svc.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_api_answers_when_the_cluster_cannot_be_listed(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "WEB_START_LIMIT", 0.5)
    raw = base_config(sandbox, tmp_path)
    nowhere = f"http://127.0.0.1:{_closed_port()}"
    raw["backend"]["kubeconfig"] = str(write_kubeconfig(tmp_path / "nowhere", nowhere))
    svc = Service(config_from_dict(raw, source="test")).start()
    try:
        status = ApiClient(svc.address, timeout=30).status()
        assert status["synced"] is False
        assert svc.daemon.passes == 0
    finally:
        svc.stop()
