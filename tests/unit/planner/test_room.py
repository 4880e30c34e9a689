"""`fit_elsewhere` against a plain first-fit-decreasing oracle, over random clusters: what it
places, and the rooms it leaves behind (reduced on success, as they were on failure)."""

from __future__ import annotations

import random

from clues_py.model import PodInfo, Resources
from clues_py.planner.room import Room, fit_elsewhere, fit_order, free_room
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
        before = [r.free for r in rooms]
        want = _oracle(pods, [Room(r.name, r.obs, r.free) for r in rooms])
        ordered = rng.random() < 0.5
        got = fit_elsewhere(fit_order(pods) if ordered else pods, rooms, ordered=ordered)
        assert got == want
        placed = {r.name: r.free for r in rooms}
        expect = dict(zip(placed, before, strict=True))
        for p in pods if got[0] else ():
            need = p.requests if p.requests.pods else p.requests + Resources(pods=1)
            expect[got[0][p.key]] = expect[got[0][p.key]] - need
        assert placed == expect
        outcomes.add(bool(got[1]))
    assert outcomes == {True, False}  # both answers were exercised


def test_a_room_makes_its_label_map_once() -> None:
    obs = make_observation("n1", labels={"zone": "a"})
    room = Room("n1", obs, free_room(obs))
    assert room.labels == {"zone": "a"} and room.labels is room.labels
