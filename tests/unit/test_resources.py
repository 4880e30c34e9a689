"""`Resources` arithmetic builds frozen values equal to the constructor's."""

from __future__ import annotations

import dataclasses
import random

import pytest

from clues_py.resources import Resources


def test_arithmetic_results_are_ordinary_frozen_values() -> None:
    rng = random.Random(5)
    for _ in range(500):
        a = Resources(*(rng.randint(-(10**12), 10**12) for _ in range(4)))
        b = Resources(*(rng.randint(-(10**12), 10**12) for _ in range(4)))
        n = rng.randint(-5, 5)
        pairs = list(zip(dataclasses.astuple(a), dataclasses.astuple(b), strict=True))
        for got, want in (
            (a + b, [x + y for x, y in pairs]),
            (a - b, [x - y for x, y in pairs]),
            (a.scale(n), [x * n for x, _ in pairs]),
        ):
            assert type(got) is Resources and got == Resources(*want)
            assert hash(got) == hash(Resources(*want)) and repr(got) == repr(Resources(*want))
    with pytest.raises(dataclasses.FrozenInstanceError):
        (a + b).cpu_millis = 1  # type: ignore[misc]
