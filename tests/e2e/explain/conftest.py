"""`clues explain` end to end: the sandbox API server on 127.0.0.1 and cluesd in-process
(a real `Service`), the CLI over its Unix socket. Fixtures come from tests/e2e/daemon."""

from tests.e2e.daemon.conftest import sandbox  # noqa: F401 (pytest fixture)
