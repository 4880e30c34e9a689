"""API server and CLI against a real `ApiServer` on 127.0.0.1:0 or a Unix socket in tmp_path.

What is faked: the daemon. `api_fakes.FakeControl` is a small in-memory `DaemonControl` holding
four nodes; it is test data for the API layer (full-stack tests with the real daemon live
elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_fakes import FakeControl

from clues_py.api.server import ApiServer


@pytest.fixture
def control() -> FakeControl:
    return FakeControl()


@pytest.fixture
def tcp_server(control: FakeControl) -> Iterator[ApiServer]:
    server = ApiServer(control, "127.0.0.1:0")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sock_path(tmp_path: Path) -> Path:
    return tmp_path / "cluesd.sock"


@pytest.fixture
def unix_server(control: FakeControl, sock_path: Path) -> Iterator[ApiServer]:
    server = ApiServer(control, f"unix:{sock_path}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("s3cret-token\n")
    return path


@pytest.fixture
def token_server(control: FakeControl, token_file: Path) -> Iterator[ApiServer]:
    server = ApiServer(control, "127.0.0.1:0", token_file=str(token_file))
    server.start()
    try:
        yield server
    finally:
        server.stop()
