"""The store's memory savers: interned strings, versions sharing unchanged parts, list sends."""

from __future__ import annotations

import json

from clues_py.sandbox.encoding import ListBody
from clues_py.sandbox.objects import ObjectStore
from clues_py.sandbox.sharing import share_strings, share_with


def test_share_strings_keeps_equality_and_identity() -> None:
    a = json.loads('{"status": {"phase": "Running"}, "spec": {"containers": [{"name": "c"}]}}')
    b = json.loads('{"status": {"phase": "Running"}, "spec": {"containers": [{"name": "c"}]}}')
    before = dict(a)
    share_strings(a)
    share_strings(b)
    assert a == before
    assert next(iter(a)) is next(iter(b))  # one copy of the key "status"
    assert a["status"]["phase"] is b["status"]["phase"]


def test_new_versions_reuse_unchanged_parts_of_the_old_one() -> None:
    store = ObjectStore()
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    store.create("pods", {"metadata": {"name": "p", "labels": {"a": "1"}}, "spec": spec})
    store.mutate("pods", "p", "default", lambda o: o["metadata"]["labels"].update(b="2"))
    events = store.events_since("pods", "0", "default")
    assert [t for t, _ in events][-2:] == ["ADDED", "MODIFIED"]
    with store._lock:  # the stored versions themselves, not copies
        history = [e.obj for e in store._log.since(0) if e.resource == "pods"]
    assert history[-1]["spec"] is history[-2]["spec"]
    assert history[-1]["metadata"]["labels"] == {"a": "1", "b": "2"}
    assert history[-2]["metadata"]["labels"] == {"a": "1"}


def test_share_with_leaves_changed_parts_alone() -> None:
    old = {"spec": {"x": 1}, "status": {"phase": "Pending"}}
    new = {"spec": {"x": 1}, "status": {"phase": "Running"}}
    share_with(old, new)
    assert new["spec"] is old["spec"] and new["status"] == {"phase": "Running"}


def test_list_chunks_are_the_list_document() -> None:
    for n in (0, 1, 2, 1234):
        body = ListBody(
            {"kind": "PodList", "apiVersion": "v1"}, [b'{"i":%d}' % i for i in range(n)]
        )
        joined = b"".join(body.chunks(batch=100))
        assert len(joined) == len(body)
        assert json.loads(joined)["items"] == [{"i": i} for i in range(n)]
