"""Store tests against real SQLite files under tmp_path (nothing is faked)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from clues_py.model import ManagedNode, NodeState
from clues_py.store import SCHEMA_VERSION, Store, StoreError


def _node(name: str = "wn-1", **kw: object) -> ManagedNode:
    return ManagedNode(name=name, template="wn", **kw)  # type: ignore[arg-type]


def test_node_round_trip_and_upsert(tmp_path):
    s = Store(tmp_path / "c.db")
    n = _node(
        state=NodeState.POWERING_ON,
        since=12.5,
        enabled=False,
        attempts=2,
        retry_at=99.0,
        provider_id="i-123",
        last_used=7.0,
        last_error="boom",
        seen_ready_at=11.0,
    )
    s.save_node(n)
    assert s.load_nodes() == {"wn-1": n}
    s.save_node(n.with_(state=NodeState.IDLE, attempts=0))
    loaded = s.load_nodes()
    assert len(loaded) == 1
    assert loaded["wn-1"].state is NodeState.IDLE and loaded["wn-1"].attempts == 0
    assert loaded["wn-1"].observed is None
    s.close()


def test_survives_reopen(tmp_path):
    path = tmp_path / "sub" / "dir" / "c.db"  # parent dirs are created
    s = Store(path)
    n = _node(state=NodeState.IDLE, since=10.0)
    s.save_transition(n, NodeState.POWERING_ON, NodeState.IDLE, "node Ready", 10.0)
    s.set_meta("last_scale_up", "5.0")
    aid = s.add_action(1.0, "power_on", "wn-1", "wn", "pod default/p pending", policy="scale-up")
    s.close()

    s2 = Store(path)
    assert s2.load_nodes()["wn-1"] == n
    (t,) = s2.transitions()
    assert (t["node"], t["old"], t["new"], t["reason"], t["at"]) == (
        "wn-1",
        "powering_on",
        "idle",
        "node Ready",
        10.0,
    )
    assert s2.get_meta("last_scale_up") == "5.0"
    assert s2.get_meta("nope", "dflt") == "dflt"
    (a,) = s2.actions()
    assert a["id"] == aid and a["status"] == "pending" and a["policy"] == "scale-up"
    s2.close()


def test_wal_mode_and_schema_version(tmp_path):
    s = Store(tmp_path / "c.db")
    assert s.journal_mode() == "wal"
    assert s.schema_version == SCHEMA_VERSION
    s.close()
    raw = sqlite3.connect(tmp_path / "c.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_memory_store():
    s = Store(":memory:")
    s.save_node(_node())
    assert list(s.load_nodes()) == ["wn-1"]
    s.close()


def test_actions_lifecycle_filters_and_order(tmp_path):
    s = Store(tmp_path / "c.db")
    a1 = s.add_action(1.0, "power_on", "wn-1", "wn", "r1")
    a2 = s.add_action(2.0, "power_on", "wn-2", "wn", "r2")
    a3 = s.add_action(3.0, "power_off", "wn-1", "wn", "r3")
    s.finish_action(a1, "ok", at=4.0)
    s.finish_action(a2, "running")
    assert [a["id"] for a in s.actions()] == [a3, a2, a1]
    assert [a["id"] for a in s.actions(node="wn-1")] == [a3, a1]
    assert [a["id"] for a in s.actions(since=2.0)] == [a3, a2]
    assert [a["id"] for a in s.actions(limit=1)] == [a3]
    assert [a["id"] for a in s.unfinished_actions()] == [a2, a3]
    s.finish_action(a2, "failed", error="quota exceeded", at=5.0)
    row = s.actions(node="wn-2")[0]
    assert (row["status"], row["error"], row["finished_at"]) == ("failed", "quota exceeded", 5.0)
    assert s.actions(node="wn-1")[1]["finished_at"] == 4.0
    s.finish_action(a3, "interrupted", "daemon restarted", at=6.0)
    assert s.unfinished_actions() == []
    assert s.actions(limit=1)[0]["finished_at"] == 6.0
    # The first final status wins; nothing moves a finished action back or over.
    assert s.finish_action(a3, "ok", at=7.0) is False
    assert s.finish_action(a3, "running") is False
    assert (s.actions(limit=1)[0]["status"], s.actions(limit=1)[0]["finished_at"]) == (
        "interrupted",
        6.0,
    )
    with pytest.raises(ValueError, match="status must be one of"):
        s.finish_action(a3, "done")
    with pytest.raises(StoreError, match="no action with id 999"):
        s.finish_action(999, "ok")
    s.close()


def test_transitions_filters_decisions_and_prune(tmp_path):
    s = Store(tmp_path / "c.db")
    for i, (old, new) in enumerate([("off", "powering_on"), ("powering_on", "idle")]):
        s.save_transition(_node(state=NodeState(new)), NodeState(old), NodeState(new), "r", i)
    s.save_transition(_node("wn-2"), NodeState.IDLE, NodeState.OFF, "r", 5.0)
    assert [t["new"] for t in s.transitions(node="wn-1")] == ["idle", "powering_on"]
    assert [t["node"] for t in s.transitions(since=1.0)] == ["wn-2", "wn-1"]
    s.add_decision(1.0, "default/p", "no template fits: cpu")
    s.add_decision(2.0, "wn-1", "kept: min_nodes")
    assert [d["reason"] for d in s.decisions(key="default/p")] == ["no template fits: cpu"]
    assert s.prune(before=1.5) == 3  # two transitions, one decision
    assert len(s.transitions()) == 1 and len(s.decisions()) == 1
    s.close()


def test_migrates_from_v1(tmp_path):
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path)
    # The v1 schema exactly as an older clues-py wrote it, with data in it.
    raw.executescript(
        textwrap.dedent(
            """
            CREATE TABLE nodes (name TEXT PRIMARY KEY, template TEXT NOT NULL,
              state TEXT NOT NULL, since REAL NOT NULL DEFAULT 0,
              enabled INTEGER NOT NULL DEFAULT 1, attempts INTEGER NOT NULL DEFAULT 0,
              retry_at REAL NOT NULL DEFAULT 0, provider_id TEXT NOT NULL DEFAULT '',
              last_used REAL NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
              updated_at REAL NOT NULL DEFAULT 0);
            CREATE TABLE transitions (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL,
              node TEXT NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL,
              reason TEXT NOT NULL DEFAULT '');
            CREATE TABLE actions (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL,
              kind TEXT NOT NULL, node TEXT NOT NULL, template TEXT NOT NULL DEFAULT '',
              policy TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
              status TEXT NOT NULL DEFAULT 'pending', error TEXT NOT NULL DEFAULT '',
              finished_at REAL);
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO nodes (name, template, state) VALUES ('wn-7', 'wn', 'used');
            PRAGMA user_version=1;
            """
        )
    )
    raw.commit()
    raw.close()
    s = Store(path)
    assert s.schema_version == SCHEMA_VERSION == 2
    assert s.load_nodes()["wn-7"].state is NodeState.USED
    s.add_decision(1.0, "wn-7", "v2 table works")
    assert s.decisions()[0]["reason"] == "v2 table works"
    s.close()


def test_refuses_newer_schema(tmp_path):
    path = tmp_path / "new.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError) as err:
        Store(path)
    msg = str(err.value)
    assert str(path) in msg and "newer clues-py" in msg and f"up to {SCHEMA_VERSION}" in msg


def test_unopenable_path_names_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open state database .*file/c.db"):
        Store(blocker / "c.db")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match=f"{garbage}"):
        Store(garbage)


def test_unknown_state_loads_as_unknown(tmp_path):
    s = Store(tmp_path / "c.db")
    s.save_node(_node())
    s._db.execute("UPDATE nodes SET state='hibernating'")
    assert s.load_nodes()["wn-1"].state is NodeState.UNKNOWN
    s.close()


def test_concurrent_writes_from_threads(tmp_path):
    s = Store(tmp_path / "c.db")
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            for i in range(100):
                aid = s.add_action(float(i), "power_on", f"wn-{w}", "wn", f"r{i}")
                s.finish_action(aid, "ok", at=float(i))
                n = _node(f"wn-{w}", state=NodeState.IDLE, attempts=i)
                s.save_transition(n, NodeState.OFF, NodeState.IDLE, f"t{i}", float(i))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(s.actions(limit=10_000)) == 800
    assert s.unfinished_actions() == []
    assert len(s.transitions(limit=10_000)) == 800
    nodes = s.load_nodes()
    assert sorted(nodes) == [f"wn-{w}" for w in range(8)]
    assert all(n.attempts == 99 for n in nodes.values())
    assert s._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    s.close()


_WRITER = """
import sys
from clues_py.model import ManagedNode, NodeState
from clues_py.store import Store
s = Store(sys.argv[1])
states = [NodeState.OFF, NodeState.POWERING_ON, NodeState.IDLE, NodeState.USED]
i = 0
while True:
    old, new = states[i % 4], states[(i + 1) % 4]
    n = ManagedNode(name=f"wn-{i % 5}", template="wn", state=new, attempts=i)
    s.save_transition(n, old, new, f"step {i}", float(i))
    aid = s.add_action(float(i), "power_on", n.name, "wn", "r")
    if i % 2:
        s.finish_action(aid, "ok", at=float(i))
    i += 1
    if i == 300:
        print("ready", flush=True)
"""


def test_kill_9_leaves_a_consistent_db(tmp_path):
    path = tmp_path / "k.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"  # blocks until 300 writes are done
    finally:
        proc.kill()  # SIGKILL mid-loop
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
    s = Store(path)
    assert s._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    trans = s.transitions(limit=1_000_000)
    assert len(trans) >= 300
    nodes = s.load_nodes()
    # Node row and its transition are written together: each node's row matches its
    # newest transition, whatever instant the kill hit.
    for name, n in nodes.items():
        last = s.transitions(node=name, limit=1)[0]
        assert str(n.state) == last["new"]
        assert last["reason"] == f"step {n.attempts}"
    # The newest transition's step has a pending/finished action or is the very last write.
    assert len(s.actions(limit=1_000_000)) in (len(trans), len(trans) - 1)
    s.close()


def test_a_batch_begins_its_transaction_at_the_first_write(tmp_path):
    # Most passes write nothing: their batch must not cost a BEGIN/COMMIT of the database.
    s = Store(tmp_path / "c.db")
    with s.batch():
        assert not s._db.in_transaction
        s.save_node(_node())
        assert s._db.in_transaction
        s.save_node(_node("wn-2"))
    assert not s._db.in_transaction and sorted(s.load_nodes()) == ["wn-1", "wn-2"]
    with pytest.raises(RuntimeError), s.batch():
        s.save_node(_node("wn-3"))
        raise RuntimeError("the pass failed")
    assert "wn-3" not in s.load_nodes()  # rolled back with the batch
    with pytest.raises(RuntimeError), s.batch():
        raise RuntimeError("failed before writing")
    assert not s._db.in_transaction
    s.close()
