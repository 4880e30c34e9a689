"""Informer list/watch bookkeeping, driven synchronously with scripted HTTP responses.

What is faked: the client's list call. It returns objects shaped like urllib3 responses
(`data`, `stream`, `close`, ...), scripted per call; the Informer code is real.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from plugins.backends.k8s_informer import GoneError, Informer
from tests.tools import wait_for


class FakeResp:
    chunked = True

    def __init__(self, body: Any = None, lines: list[dict] | None = None) -> None:
        self.data = json.dumps(body).encode() if body is not None else b""
        self._lines = lines or []
        self.closed = False

    def stream(self, amt: Any = None, decode_content: bool = False):
        # Split frames across chunk boundaries to exercise reassembly.
        raw = b"".join(json.dumps(e).encode() + b"\n" for e in self._lines)
        for i in range(0, len(raw), 7):
            yield raw[i : i + 7]

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


class Script:
    def __init__(self, *responses: Any) -> None:
        self.responses = list(responses)
        self.calls: list[dict] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        r = self.responses.pop(0)
        if isinstance(r, Exception):
            raise r
        return r


def obj(name: str, rv: str) -> dict:
    return {"metadata": {"name": name, "resourceVersion": rv}}


def make(script: Script) -> tuple[Informer, dict[str, dict], list[int]]:
    state: dict[str, dict] = {}
    changes = [0]

    def replace(items: list[dict]) -> bool:
        state.clear()
        state.update({i["metadata"]["name"]: i for i in items})
        return True

    def apply(kind: str, o: dict) -> bool:
        if kind == "DELETED":
            return state.pop(o["metadata"]["name"], None) is not None
        state[o["metadata"]["name"]] = o
        return True

    def on_change() -> None:
        changes[0] += 1

    return Informer("t", script, replace, apply, on_change, watch_timeout=7), state, changes


def list_page(items: list[dict], rv: str, cont: str = "") -> FakeResp:
    return FakeResp({"items": items, "metadata": {"resourceVersion": rv, "continue": cont}})


def test_paginated_list_then_watch_resumes_from_last_rv() -> None:
    script = Script(
        list_page([obj("a", "3")], "10", cont="tok"),
        list_page([obj("b", "4")], "10"),
        FakeResp(
            lines=[
                {"type": "ADDED", "object": obj("c", "11")},
                {"type": "DELETED", "object": obj("a", "12")},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}},
            ]
        ),
    )
    inf, state, changes = make(script)
    assert inf._list() == "10"
    assert inf.synced() and set(state) == {"a", "b"}
    assert script.calls[1]["_continue"] == "tok"
    rv, events = inf._watch("10")
    assert (rv, events) == ("15", 3)
    assert set(state) == {"b", "c"}
    assert changes[0] == 3  # list + ADDED + DELETED; bookmarks change nothing
    watch = script.calls[2]
    assert watch["resource_version"] == "10" and watch["allow_watch_bookmarks"] is True
    assert watch["timeout_seconds"] == 7 and watch["watch"] is True
    assert watch["_preload_content"] is False


def test_list_pages_are_converted_as_they_arrive() -> None:
    """Each page is converted as it arrives and the next one is fetched while it is (one page
    ahead, never more); a list that breaks mid-way changes nothing."""
    script = Script(
        list_page([obj("a", "3"), obj("b", "4")], "10", cont="t1"),
        list_page([obj("c", "5")], "10", cont="t2"),
        list_page([obj("d", "6")], "10"),
    )
    seen: list[tuple[str, int]] = []  # (item, list calls made when it was consumed)

    def replace(items: Any) -> bool:
        for item in items:
            seen.append((item["metadata"]["name"], len(script.calls)))
            if item["metadata"]["name"] == "a":
                # The next page is requested while this one is being converted.
                wait_for(lambda: len(script.calls) == 2, what="the second page's request")
        return True

    inf = Informer("t", script, replace, lambda k, o: True, lambda: None)
    assert inf._list() == "10"
    assert [name for name, _ in seen] == ["a", "b", "c", "d"]
    assert all(calls <= page + 1 for (_, calls), page in zip(seen, (1, 1, 2, 3), strict=True))
    assert script.calls[1]["_continue"] == "t1" and script.calls[2]["_continue"] == "t2"

    broken = Script(list_page([obj("a", "3")], "10", cont="t1"), ApiException(status=500))
    kept: dict[str, dict] = {"old": obj("old", "1")}

    def replace_all(items: Any) -> bool:
        fresh = {i["metadata"]["name"]: i for i in items}  # the cache converts first, then swaps
        kept.clear()
        kept.update(fresh)
        return True

    inf = Informer("t", broken, replace_all, lambda k, o: True, lambda: None)
    with pytest.raises(ApiException):
        inf._list()
    assert set(kept) == {"old"} and not inf.synced()


def test_error_event_410_means_relist() -> None:
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}
    inf, _, _ = make(Script(FakeResp(lines=[{"type": "ADDED", "object": obj("a", "5")}, gone])))
    with pytest.raises(GoneError):
        inf._watch("4")
    assert inf.resource_version == "5"


def test_http_410_means_relist_other_errors_propagate() -> None:
    inf, _, _ = make(Script(ApiException(status=410, reason="Gone"), ApiException(status=500)))
    with pytest.raises(GoneError):
        inf._watch("4")
    with pytest.raises(ApiException):
        inf._watch("4")


def test_other_error_event_is_an_error_not_a_relist() -> None:
    bad = {"type": "ERROR", "object": {"kind": "Status", "code": 500, "message": "boom"}}
    inf, _, _ = make(Script(FakeResp(lines=[bad])))
    with pytest.raises(RuntimeError, match="boom"):
        inf._watch("4")


def _loop(
    script: Script, stop_after_waits: int, **kwargs: Any
) -> tuple[Informer, list[bool], dict[str, dict], list[float]]:
    """Run the informer loop synchronously until its `stop_after_waits`-th back-off wait;
    return it, every health change reported through `on_state`, its state and the waits."""
    state: dict[str, dict] = {}
    reported: list[bool] = []
    waits: list[float] = []

    def replace(items: list[dict]) -> bool:
        state.clear()
        state.update({i["metadata"]["name"]: i for i in items})
        return True

    def apply(kind: str, o: dict) -> bool:
        state[o["metadata"]["name"]] = o
        return True

    inf: Informer

    def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == stop_after_waits:
            inf.stop()

    inf = Informer("t", script, replace, apply, lambda: None, wait=wait,
                   on_state=lambda i: reported.append(i.synced()), **kwargs)  # fmt: skip
    inf._run()  # synchronously; returns once stop() was called
    return inf, reported, state, waits


def test_loop_backs_off_relists_on_410_and_resumes_from_last_rv() -> None:
    import random

    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}
    script = Script(
        OSError("refused"),
        OSError("refused"),
        list_page([obj("a", "3")], "10"),
        FakeResp(lines=[gone]),
        list_page([obj("b", "4")], "20"),
        FakeResp(lines=[{"type": "ADDED", "object": obj("c", "21")}]),
        FakeResp(lines=[]),  # ends at once with nothing: treated as a failure
        OSError("reset"),
    )
    inf, _, state, waits = _loop(script, 4, backoff_max=0.5, backoff_base=0.2, rng=random.Random(1))

    assert set(state) == {"b", "c"}
    assert inf.lists == 2 and inf.errors == 3
    assert "resource_version" not in script.calls[4]  # the relist after 410
    assert script.calls[5]["resource_version"] == "20"
    assert script.calls[6]["resource_version"] == "21"
    assert script.calls[7]["resource_version"] == "21"
    # 0.4 s then capped at 0.5 s, each jittered into [50 %, 100 %]; reset after success.
    lows_highs = [(0.2, 0.4), (0.25, 0.5), (0.2, 0.4), (0.25, 0.5)]
    assert len(waits) == 4
    for w, (lo, hi) in zip(waits, lows_highs, strict=True):
        assert lo <= w <= hi


def test_a_failed_watch_relists_instead_of_resuming_and_reports_down_then_up_once() -> None:
    script = Script(
        list_page([obj("a", "3")], "10"),
        OSError("connection refused"),  # the watch from 10
        OSError("connection refused"),  # a relist attempt
        OSError("connection refused"),
        list_page([obj("b", "2")], "4"),  # the server came back empty, counting from 1
        OSError("stop here"),
    )
    inf, reported, state, _ = _loop(script, stop_after_waits=4)
    assert script.calls[1]["resource_version"] == "10"
    # Every call after the first failure is a list (no resume from a version the
    # restarted server may never reach), until one succeeds.
    assert [("watch" in c) for c in script.calls[2:5]] == [False, False, False]
    assert script.calls[5]["resource_version"] == "4"
    assert set(state) == {"b"}
    # Down once (first failure), up once (the good list), down again: one report per change.
    assert reported == [False, True, False]
    assert inf.errors == 4


def test_resource_version_going_back_in_a_watch_means_relist() -> None:
    back = {"type": "ADDED", "object": obj("x", "3")}
    inf, _, _ = make(Script(FakeResp(lines=[back])))
    with pytest.raises(GoneError, match="went back from 10 to 3"):
        inf._watch("10")


def test_down_for_is_zero_while_healthy_and_infinite_before_the_first_list() -> None:
    inf, _, _ = make(Script(list_page([], "5")))
    assert inf.down_for() == float("inf") and not inf.synced()
    inf._list()
    assert inf.down_for() == 0.0 and inf.synced()
    inf._set_down(OSError("refused"))
    assert not inf.synced() and inf.down and inf.last_error == "OSError: refused"
