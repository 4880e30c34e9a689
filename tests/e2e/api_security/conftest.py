"""API security (Unix socket default, bearer token on TCP, OpenAPI fuzzing, secret redaction)
against a real cluesd and the sandbox API server on 127.0.0.1; nothing of clues-py is faked.
"""

from __future__ import annotations

from tests.e2e.daemon.conftest import sandbox  # noqa: F401  (fixture re-export)
