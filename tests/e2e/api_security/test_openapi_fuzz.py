"""Fuzz the cluesd API from its own OpenAPI schema (schemathesis) against a real daemon that
manages nodes in the sandbox: no 5xx, no traceback in any answer, answers match the schema.

Bounded: at most MAX_EXAMPLES generated requests per operation, no example database, so the
run takes a few seconds. The schema is fetched over the API with the bearer token, as a
client would."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import base_config, pod_manifest

pytestmark = pytest.mark.e2e

try:
    import schemathesis
except ImportError:  # in CI a missing tool is a failure, elsewhere a skip
    if os.environ.get("CI") == "true":
        pytest.fail("schemathesis is required in CI (pip install schemathesis)", pytrace=False)
    pytest.skip("schemathesis not installed", allow_module_level=True)

from hypothesis import HealthCheck, given, settings  # noqa: E402

MAX_EXAMPLES = 30
TOKEN = "fuzz-token-0123456789abcdef"


def write_token(path: Path, token: str = TOKEN) -> Path:
    path.write_text(token + "\n")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return path


@pytest.fixture
def tcp_service(sandbox: Sandbox, tmp_path: Path) -> Iterator[Service]:
    raw = base_config(sandbox, tmp_path)
    raw["daemon"].update(
        listen="127.0.0.1:0",
        token_file=str(write_token(tmp_path / "token")),
        metrics_listen=None,
    )
    service = Service(config_from_dict(raw, source="test")).start()
    try:
        yield service
    finally:
        service.stop()


def test_fuzz_every_operation_from_the_schema(sandbox: Sandbox, tcp_service: Service) -> None:
    sandbox.store.create("pods", pod_manifest("p0", duration="1s"), "default")
    base = f"http://{tcp_service.address}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    schema = schemathesis.openapi.from_url(f"{base}/v1/openapi.json", headers=auth)
    seen: dict[str, int] = {}
    problems: list[str] = []

    def fuzz(op: Any) -> None:
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def run(case: Any) -> None:
            resp = case.call(base_url=base, headers=auth, timeout=10)
            seen[op.label] = seen.get(op.label, 0) + 1
            text = resp.text
            if resp.status_code >= 500 or "Traceback" in text:
                problems.append(f"{case.method} {case.formatted_path}: {resp.status_code} {text}")
            assert resp.headers["content-type"] == ["application/json"]
            json.loads(text)  # every answer, errors included, is JSON
            if resp.status_code < 400:
                case.validate_response(
                    resp, checks=[schemathesis.checks.response_schema_conformance]
                )

        run()

    for result in schema.get_all_operations():
        fuzz(result.ok())

    assert not problems, problems[:5]
    # Every documented route was exercised, including the admin verbs and explain.
    labels = set(seen)
    assert {"GET /v1/status", "POST /v1/nodes/{name}/{op}", "GET /v1/transitions"} <= labels
    assert any(label.startswith("GET /v1/explain") for label in labels)
    print(json.dumps({"fuzz_requests": sum(seen.values()), "operations": len(seen)}))
