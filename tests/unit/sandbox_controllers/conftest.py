"""Unit tests of the sandbox controllers.

Nothing is faked: pure functions get plain dicts, and the in-process tests run a
real `Sandbox(virtual=True, serve_http=False)` whose clock moves only through
`advance_to`, so no test sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tools import stored_versions_checked


@pytest.fixture(autouse=True)
def _stored_versions_unchanged() -> Iterator[None]:
    """Controllers read the store's own versions: no test may end with one changed in place."""
    with stored_versions_checked():
        yield
