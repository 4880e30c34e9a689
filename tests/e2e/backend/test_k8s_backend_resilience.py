"""Reconnect with backoff after the API server goes away, and relist after 410 Gone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_e2e_helpers import Changes, make_backend, pod_body, wait_until

from clues_py.sandbox import Sandbox
from clues_py.sandbox.server import ApiServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def small_history() -> Iterator[Sandbox]:
    # A tiny event history: anything missed while disconnected is gone (410) on resume.
    sb = Sandbox(port=0, history=16, pod_start_seconds=0.05, events=False).start()
    try:
        yield sb
    finally:
        sb.stop()


def test_server_restart_with_expired_history_relists_and_converges(
    small_history: Sandbox, tmp_path: Path
) -> None:
    sb = small_history
    kubeconfig = sb.write_kubeconfig(tmp_path / "kubeconfig")
    for i in range(3):
        sb.store.create("pods", pod_body(f"old-{i}", cpu="64"), "default")
    changes = Changes()
    backend = make_backend(kubeconfig)
    backend.start(changes)
    try:
        wait_until(backend.synced, what="synced")
        pods_informer = next(i for i in backend.informers if i.name == "pods")
        wait_until(lambda: backend.cache.pod("default/old-2"), what="old pods cached")
        lists_before = pods_informer.lists

        port = sb.port
        assert sb.server is not None
        sb.server.stop()
        # ApiServer.stop() closes the listener but keeps serving established keep-alive
        # connections; a real restart drops them, so drop the client's side here.
        backend._api_client.rest_client.pool_manager.clear()
        # Every informer has lost its watch and failed to reconnect at least once.
        wait_until(lambda: all(i.errors > 0 for i in backend.informers), what="reconnect failures")
        for i in range(3):
            sb.store.delete("pods", f"old-{i}", "default")
        for i in range(100):
            sb.store.create("pods", pod_body(f"new-{i}", cpu="64"), "default")
        seen = changes.count

        sb.server = ApiServer(sb.store, port=port).start()

        def converged() -> bool:
            keys = {p.name for p in backend.observe(time.time() + 3600).pending}
            return keys == {f"new-{i}" for i in range(100)}

        wait_until(converged, timeout=20, what="cache converged after restart")
        assert pods_informer.lists > lists_before, "expired resourceVersion must force a relist"
        assert backend.cache.pod("default/old-0") is None
        assert changes.count > seen
    finally:
        backend.stop()
