"""`fit_elsewhere` against a plain first-fit-decreasing oracle, over random clusters."""

from __future__ import annotations

import random

from clues_py.model import PodInfo, Resources
from clues_py.planner.room import Room, fit_elsewhere, free_room
from tests.factories import make_observation, make_pod


def _oracle(pods: list[PodInfo], rooms: list[Room]) -> tuple[dict[str, str], str]:
    free = {r.name: r.free for r in rooms}
    out: dict[str, str] = {}
    for p in sorted(pods, key=lambda p: (-p.requests.cpu_millis, -p.requests.memory_bytes, p.key)):
        need = p.requests if p.requests.pods else p.requests + Resources(pods=1)
        for r in rooms:
            labels = dict(r.obs.labels)
            if need.fits(free[r.name]) and p.placement.why_not(labels, r.obs.taints) is None:
                free[r.name] = free[r.name] - need
                out[p.key] = r.name
                break
        else:
            return {}, f"{p.key} ({p.requests}) fits on no other node"
    return out, ""


def test_fit_elsewhere_is_first_fit_decreasing() -> None:
    rng = random.Random(11)
    outcomes = set()
    for case in range(300):
        rooms = []
        for i in range(rng.randint(0, 6)):
            busy = [
                make_pod(f"b{case}-{i}-{k}", str(rng.randint(1, 3)))
                for k in range(rng.randint(0, 3))
            ]
            labels = {"zone": rng.choice("ab")}
            obs = make_observation(
                f"n{i}", cpu=str(rng.choice([2, 4, 8])), pods=busy, labels=labels
            )
            rooms.append(Room(f"n{i}", obs, free_room(obs)))
        pods = [
            make_pod(
                f"p{case}-{k}",
                str(rng.randint(1, 4)),
                f"{rng.randint(1, 3)}Gi",
                selector={"zone": "a"} if rng.random() < 0.3 else None,
            )
            for k in range(rng.randint(1, 4))
        ]
        want = _oracle(pods, [Room(r.name, r.obs, r.free) for r in rooms])
        got = fit_elsewhere(pods, rooms)
        assert got == want
        outcomes.add(bool(got[1]))
    assert outcomes == {True, False}  # both answers were exercised
