"""ObjectStore semantics: versions, conflicts, graceful pod deletion, paging, events, history."""

from __future__ import annotations

import json

import pytest

from clues_py.sandbox.objects import ApiError, ObjectStore


class Tick:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


def pod(name: str, node: str | None = None, **labels: str) -> dict:
    spec = {"containers": [{"name": "c"}], **({"nodeName": node} if node else {})}
    return {"metadata": {"name": name, "labels": labels}, "spec": spec}


def test_create_fills_metadata_and_rejects_bad_input() -> None:
    store = ObjectStore(clock=Tick())
    p = store.create("pods", pod("a"))
    meta = p["metadata"]
    assert meta["namespace"] == "default" and meta["uid"] and meta["generation"] == 1
    assert meta["creationTimestamp"] == "2023-11-14T22:13:20Z" and p["status"]["phase"] == "Pending"
    assert int(meta["resourceVersion"]) == int(store.resource_version())
    with pytest.raises(ApiError) as err:
        store.create("pods", pod("a"))
    assert (err.value.code, err.value.reason) == (409, "AlreadyExists")
    with pytest.raises(ApiError) as err:
        store.create("pods", pod("a"), namespace="missing")
    assert err.value.code == 404
    with pytest.raises(ApiError) as err:
        store.create("pods", {"metadata": {}})
    assert err.value.code == 422 and err.value.status()["reason"] == "Invalid"
    with pytest.raises(ApiError) as err:
        store.create("pods", pod("Bad_Name"))
    assert err.value.code == 422
    assert store.create("nodes", {"metadata": {"generateName": "w-"}})["metadata"][
        "name"
    ].startswith("w-")


def test_returned_objects_are_copies() -> None:
    store = ObjectStore()
    body = pod("a")
    got = store.create("pods", body)
    spec = dict(got["spec"])
    body["metadata"]["labels"]["x"] = "1"
    got["spec"]["nodeName"] = "n"
    assert store.get("pods", "a", "default") == {**got, "spec": spec}
    assert "x" not in got["metadata"]["labels"]


def test_update_conflict_generation_and_noop() -> None:
    store = ObjectStore()
    first = store.create("nodes", {"metadata": {"name": "n"}, "spec": {}})
    second = store.update("nodes", {**first, "spec": {"unschedulable": True}})
    assert second["metadata"]["generation"] == 2
    with pytest.raises(ApiError) as err:
        store.update("nodes", first)
    assert (err.value.code, err.value.reason) == (409, "Conflict")
    rv = store.resource_version()
    assert store.update("nodes", second)["metadata"]["resourceVersion"] == rv  # nothing changed
    assert store.mutate("nodes", "n", None, lambda o: None)["metadata"]["resourceVersion"] == rv
    third = store.mutate(
        "nodes", "n", None, lambda o: o["metadata"].setdefault("labels", {}).update(a="1")
    )
    assert third["metadata"]["generation"] == 2 and int(third["metadata"]["resourceVersion"]) > int(
        rv
    )


def test_bound_pods_terminate_gracefully() -> None:
    clock = Tick()
    store = ObjectStore(clock=clock)
    store.create("pods", pod("free"))
    store.create("pods", pod("bound", "n1"))
    store.create("pods", {**pod("done", "n1"), "status": {"phase": "Succeeded"}})
    assert "deletionTimestamp" not in store.delete("pods", "free")["metadata"]
    marked = store.delete("pods", "bound")
    assert marked["metadata"]["deletionTimestamp"] == "2023-11-14T22:13:50Z"
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert store.get("pods", "bound")["metadata"]["deletionGracePeriodSeconds"] == 30
    store.delete("pods", "done")
    store.delete("pods", "bound", grace_seconds=0)
    assert store.list("pods")[0] == []


def test_list_paging_is_ordered_and_complete() -> None:
    store = ObjectStore()
    store.create("namespaces", {"metadata": {"name": "b"}})
    names = [("default", f"p{i:02d}") for i in range(10)] + [("b", f"q{i}") for i in range(5)]
    for ns, name in names:
        store.create("pods", pod(name, role="x" if name.endswith(("1", "3")) else "y"), ns)
    raws, rv, token = store.list_raw("pods", limit=4)
    seen, pages = list(raws), 1
    while token:
        raws, _, token = store.list_raw("pods", limit=4, continue_token=token)
        seen += raws
        pages += 1
    keys = [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in map(json.loads, seen)]
    assert keys == sorted(names) and pages == 4
    assert [o["metadata"]["name"] for o in store.list("pods", "b")[0]] == [
        f"q{i}" for i in range(5)
    ]
    assert len(store.list("pods", label_selector="role=x")[0]) == 4
    with pytest.raises(ApiError) as err:
        store.list_raw("pods", continue_token="garbage!")
    assert err.value.code == 400
    with pytest.raises(ApiError) as err:
        store.list("pods", field_selector="spec.nope=1")
    assert err.value.code == 400


def test_subscribers_see_every_change_in_order() -> None:
    store = ObjectStore()
    seen: list[tuple[str, str]] = []

    def on_change(t: str, r: str, o: dict) -> None:
        seen.append((t, o["metadata"]["name"]))
        if o["metadata"]["name"] == "a" and t == "ADDED":
            store.create("pods", pod("from-callback"))  # delivered after this callback returns

    unsubscribe = store.subscribe(on_change)
    store.create("pods", pod("a"))
    store.mutate("pods", "a", "default", lambda o: o["metadata"]["labels"].update(k="v"))
    store.delete("pods", "a")
    unsubscribe()
    store.create("pods", pod("late"))
    assert seen == [("ADDED", "a"), ("ADDED", "from-callback"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_events_since_filters_and_expires() -> None:
    store = ObjectStore(history=100)
    rv = store.resource_version()
    store.create("pods", pod("a", tier="web"))
    store.create("configmaps", {"metadata": {"name": "c"}})
    store.mutate("pods", "a", "default", lambda o: o["metadata"]["labels"].update(tier="db"))
    assert [t for t, _ in store.events_since("pods", rv, None)] == ["ADDED", "MODIFIED"]
    assert [t for t, _ in store.events_since("pods", rv, "default", "tier=web")] == [
        "ADDED",
        "DELETED",
    ]
    assert store.events_since("pods", rv, "other") == []
    for i in range(400):
        store.create("configmaps", {"metadata": {"name": f"x{i}"}})
    with pytest.raises(ApiError) as err:
        store.events_since("pods", rv, None)
    assert (err.value.code, err.value.reason) == (410, "Expired")


def test_snapshot_and_restore_round_trip() -> None:
    store = ObjectStore()
    store.create("nodes", {"metadata": {"name": "n"}})
    store.create("pods", pod("a", "n"))
    other = ObjectStore()
    other.restore(json.loads(json.dumps(store.snapshot())))
    assert other.counts() == store.counts() and store.counts()["pods"] == 1
    assert other.get("pods", "a") == store.get("pods", "a")
    assert other.resource_version() == store.resource_version()
    assert other.create("pods", pod("b"))["metadata"]["resourceVersion"] == str(
        int(store.resource_version()) + 1
    )


def test_node_field_selector_follows_rebinding_and_deletion() -> None:
    store = ObjectStore()
    store.create("pods", pod("a", "n1"))
    store.create("pods", pod("b", "n1"))
    store.create("pods", pod("c"))

    def on(node: str, extra: str = "") -> list[str]:
        sel = f"spec.nodeName={node}" + extra
        return [o["metadata"]["name"] for o in store.list("pods", field_selector=sel)[0]]

    assert (on("n1"), on(""), on("n2")) == (["a", "b"], ["c"], [])
    store.mutate("pods", "c", "default", lambda o: o["spec"].update(nodeName="n2"))
    store.mutate("pods", "a", "default", lambda o: o["spec"].update(nodeName="n2"))
    assert (on("n1"), on(""), on("n2")) == (["b"], [], ["a", "c"])
    assert on("n2", ",metadata.name!=a") == ["c"]
    store.delete("pods", "a", grace_seconds=0)
    raws, _, token = store.list_raw("pods", field_selector="spec.nodeName=n2", limit=1)
    assert len(raws) == 1 and token == ""


def test_readers_get_stored_versions_that_never_change() -> None:
    # Subscribers and `copy=False` callers get the stored version itself (no copy); a later
    # version must not change it, not even its resourceVersion (their metadata once was shared).
    store = ObjectStore()
    seen: list[dict] = []
    store.subscribe(lambda t, r, o: seen.append(o))
    created = store.create("pods", pod("a", tier="web"), copy=False)
    assert seen[-1] is created
    mutated = store.mutate("pods", "a", None, lambda o: o["metadata"]["labels"].update(x="1"))
    stored = store.mutate("pods", "a", None, lambda o: o["metadata"]["labels"].pop("x"), copy=False)
    assert stored is seen[-1] and stored["metadata"]["labels"] == {"tier": "web"}
    store.mutate("pods", "a", None, lambda o: o["metadata"]["labels"].update(x="2"))
    rvs = [o["metadata"]["resourceVersion"] for o in seen]
    assert rvs == sorted(set(rvs), key=int) and len(rvs) == 4
    assert created["metadata"]["labels"] == {"tier": "web"}
    mutated["metadata"]["labels"]["mine"] = "a private copy"  # copies are the caller's
    assert store.altered() == []


def test_altered_names_a_stored_version_changed_in_place() -> None:
    store = ObjectStore()
    store.subscribe(lambda t, r, o: o["metadata"].setdefault("labels", {}).update(bad="1"))
    store.create("configmaps", {"metadata": {"name": "c"}})
    rv = store.resource_version()
    assert store.altered() == ["configmaps/default/c", f"configmaps at rv {rv}"]


def test_versions_are_compact_utf8_json_and_copies_are_json_shaped() -> None:
    store = ObjectStore()
    store.create("configmaps", {"metadata": {"name": "c"}, "data": {"note": "café ✓"}})
    raw = store.get_raw("configmaps", "c")
    assert "café ✓".encode() in raw and b"\\u" not in raw and b'": ' not in raw
    assert json.loads(raw) == store.get("configmaps", "c")
    # A tuple becomes a list, as it would over HTTP; what JSON cannot hold is refused.
    made = store.create("configmaps", {"metadata": {"name": "t"}, "data": {"k": ("a", "b")}})
    assert made["data"]["k"] == ["a", "b"]
    with pytest.raises(TypeError):
        store.create("configmaps", {"metadata": {"name": "x"}, "data": {"k": object()}})


def test_delete_without_a_copy_and_the_deleted_event_leave_stored_versions_alone() -> None:
    store = ObjectStore()
    seen: list[tuple[str, dict]] = []
    store.subscribe(lambda t, r, o: seen.append((t, o)))
    created = store.create(
        "configmaps", {"metadata": {"name": "c"}, "data": {"k": "v"}}, copy=False
    )
    before = json.loads(json.dumps(created))
    gone = store.delete("configmaps", "c", copy=False)
    kind, event_obj = seen[-1]
    assert kind == "DELETED" and gone is event_obj
    assert int(gone["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert {**gone, "metadata": before["metadata"]} == before
    assert created == before and store.altered() == []


def test_a_store_without_string_sharing_holds_the_same_objects() -> None:
    shared, plain = ObjectStore(clock=Tick()), ObjectStore(clock=Tick(), share_strings=False)
    for store in (shared, plain):
        store.create("pods", pod("a", tier="web"))
        store.mutate("pods", "a", None, lambda o: o["metadata"]["labels"].update(x="1"))
        store.delete("pods", "a", grace_seconds=30)

    def strip(o: dict) -> dict:
        return {**o, "metadata": {**o["metadata"], "uid": ""}}

    assert [strip(o) for o in shared.list("pods")[0]] == [strip(o) for o in plain.list("pods")[0]]
    assert plain.altered() == [] and shared.altered() == []


def test_a_shallow_mutate_replaces_parts_and_shares_the_rest() -> None:
    store = ObjectStore(clock=Tick(), share_strings=False)
    before = store.create("pods", pod("a", "n1", tier="web"), copy=False)
    snapshot = json.loads(json.dumps(before))

    def put(p: dict) -> None:
        p["status"] = {"phase": "Running"}
        p["metadata"]["labels"] = {"tier": "db"}

    after = store.mutate("pods", "a", None, put, copy=False, shallow=True)
    assert after["status"]["phase"] == "Running" and after["metadata"]["labels"] == {"tier": "db"}
    # The pod strategy's derived field is kept on the new status, not written into the old one.
    assert after["status"]["qosClass"] == before["status"]["qosClass"]
    assert after["spec"] is before["spec"]  # untouched parts are the stored version's own
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert before == snapshot and store.altered() == []
    assert store.get("pods", "a") == json.loads(json.dumps(after))
    # Nothing changed: no new version, as with a decoded copy.
    rv = store.resource_version()
    store.mutate("pods", "a", None, lambda p: p.update(status=dict(p["status"])), shallow=True)
    assert store.resource_version() == rv


def test_a_write_notifies_watchers_blocked_in_wait_events() -> None:
    import threading

    store = ObjectStore(clock=Tick())
    after = int(store.resource_version())
    got: list[list[tuple[str, bytes]]] = []
    waiter = threading.Thread(
        target=lambda: got.append(store.wait_events("pods", after, None, timeout=30)[0])
    )
    waiter.start()
    while not store._waiting:  # blocked in the condition's wait (counted under the lock)
        threading.Event().wait(0.001)
    store.create("pods", pod("a"))
    waiter.join(10)
    assert not waiter.is_alive() and [t for t, _ in got[0]] == ["ADDED"]
    assert store._waiting == 0


def test_a_raw_subscriber_gets_each_version_with_its_encoding() -> None:
    store = ObjectStore(clock=Tick())
    seen: list[tuple[str, dict, bytes]] = []
    plain: list[tuple[str, dict]] = []
    store.subscribe(lambda t, r, o, raw: seen.append((t, o, raw)), raw=True)
    store.subscribe(lambda t, r, o: plain.append((t, o)))
    store.create("pods", pod("a"))
    assert seen[-1][2] == store.get_raw("pods", "a")
    store.mutate("pods", "a", None, lambda o: o["metadata"].update(labels={"x": "1"}))
    store.delete("pods", "a", grace_seconds=0)
    assert [t for t, _, _ in seen] == ["ADDED", "MODIFIED", "DELETED"]
    assert all(json.loads(raw) == obj for _, obj, raw in seen)
    assert [(t, o) for t, o, _ in seen] == plain
