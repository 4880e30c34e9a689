"""Unit tests of the simulator: real `Simulation`s of small scenarios on a virtual clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tools import stored_versions_checked


@pytest.fixture(autouse=True)
def _stored_versions_unchanged() -> Iterator[None]:
    """The daemon's backend and the sandbox's controllers read the store's own versions: no
    simulation may end with one changed in place."""
    with stored_versions_checked():
        yield
