"""Helpers every sandbox controller writes with: timestamps and pod/Job conditions."""

from __future__ import annotations

import copy
import hashlib
import random
from datetime import UTC, datetime

from clues_py.sandbox.controllers.common import rfc3339, set_condition, short_hash


def test_rfc3339_matches_strftime_on_any_second() -> None:
    rng = random.Random(3)
    times = [0.0, -1.0, -0.5, 86399.999, 1e9, 253402300799.0, -62135596800.0]
    times += [rng.uniform(-1e10, 2.5e11) for _ in range(20_000)]
    times += [1_795_982_400 + rng.uniform(0, 5) for _ in range(200)]  # the same second again
    for t in times:
        want = datetime.fromtimestamp(t // 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert rfc3339(t) == want, t


def test_set_condition_changes_status_only_never_what_it_shares() -> None:
    # A shallow copy of a stored pod shares its conditions list and dicts with the stored
    # version (`mutate(shallow=True)`): set_condition must leave those alone.
    stored = {
        "conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": "t0"},
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"},
        ]
    }
    frozen = copy.deepcopy(stored)
    status = dict(stored)
    assert set_condition(status, "PodScheduled", "True", "", "", 10.0, probe=True)
    assert stored == frozen
    assert [c["type"] for c in status["conditions"]] == ["Ready", "PodScheduled"]
    scheduled = status["conditions"][1]
    assert scheduled["status"] == "True" and scheduled["lastTransitionTime"] == rfc3339(10.0)
    assert scheduled["lastProbeTime"] == rfc3339(10.0)
    assert not set_condition(status, "PodScheduled", "True", "", "", 20.0)  # unchanged
    assert set_condition(status, "Initialized", "True", "", "", 30.0)
    assert [c["type"] for c in status["conditions"]] == ["Ready", "PodScheduled", "Initialized"]
    assert stored == frozen
    empty: dict = {}
    assert set_condition(empty, "Ready", "True", "Why", "msg", 0.0)
    assert empty["conditions"] == [
        {
            "type": "Ready",
            "status": "True",
            "lastTransitionTime": rfc3339(0.0),
            "reason": "Why",
            "message": "msg",
        }
    ]


def test_short_hash_is_the_digest_bytes_in_the_apimachinery_alphabet() -> None:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    rng = random.Random(4)
    for _ in range(2000):
        parts = [str(rng.random()) for _ in range(rng.randint(0, 4))]
        digest = hashlib.sha256("\0".join(parts).encode()).digest()
        for length in (5, 10):
            want = "".join(alphabet[b % 27] for b in digest[:length])
            assert short_hash(*parts, length=length) == want
    assert short_hash("default", "job", "2026-11-29T00:00:00Z", "1") == short_hash(
        "default", "job", "2026-11-29T00:00:00Z", "1"
    )
