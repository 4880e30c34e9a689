"""SQLite store: node lifecycle state, transitions, actions, decisions and small metadata.

The store is the daemon's memory across restarts (together with the power managers'
`list_owned()`). It only persists and queries; deciding what a transition means is the
lifecycle FSM's job, and what the cluster currently shows (`ManagedNode.observed`) is
never stored - the backend rebuilds it after a restart.

One connection, in WAL mode with `synchronous=NORMAL`, shared by the daemon loop and the
actuator's worker threads behind a lock. Each public write is one transaction, so a crash
(even `kill -9`) leaves either all of it or none of it. The schema is versioned with
`PRAGMA user_version`; migrations run in order at open, and a database written by a
newer clues-py is refused rather than guessed at.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clues_py.model import ManagedNode, NodeState

# skipped: vetoed before it started; interrupted: the daemon restarted while it ran.
ACTION_STATUSES = ("pending", "running", "ok", "failed", "skipped", "interrupted")
_FINAL_STATUSES = ("ok", "failed", "skipped", "interrupted")
_HAS_SEEN_READY = "seen_ready_at" in ManagedNode.__dataclass_fields__


class StoreError(Exception):
    """The state database cannot be opened, migrated or written."""


def _v1(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE nodes (
            name TEXT PRIMARY KEY,
            template TEXT NOT NULL,
            state TEXT NOT NULL,
            since REAL NOT NULL DEFAULT 0,
            enabled INTEGER NOT NULL DEFAULT 1,
            attempts INTEGER NOT NULL DEFAULT 0,
            retry_at REAL NOT NULL DEFAULT 0,
            provider_id TEXT NOT NULL DEFAULT '',
            last_used REAL NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        """CREATE TABLE transitions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            node TEXT NOT NULL,
            old TEXT NOT NULL,
            new TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT ''
        )"""
    )
    db.execute("CREATE INDEX transitions_node_at ON transitions(node, at)")
    db.execute(
        """CREATE TABLE actions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            node TEXT NOT NULL,
            template TEXT NOT NULL DEFAULT '',
            policy TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'pending',
            error TEXT NOT NULL DEFAULT '',
            finished_at REAL
        )"""
    )
    db.execute("CREATE INDEX actions_node_at ON actions(node, at)")
    db.execute("CREATE INDEX actions_status ON actions(status)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _v2(db: sqlite3.Connection) -> None:
    # `clues explain` reads why a pod or node was (not) acted on; kept apart from actions
    # because most decisions are "nothing to do, because ...".
    db.execute(
        """CREATE TABLE decisions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            key TEXT NOT NULL,
            reason TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX decisions_key_at ON decisions(key, at)")
    # When the node was last Ready: lets the FSM's unknown-grace timer survive a restart.
    db.execute("ALTER TABLE nodes ADD COLUMN seen_ready_at REAL NOT NULL DEFAULT 0")


# Index i holds the migration from schema version i to i+1. Append only; never edit.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2)
SCHEMA_VERSION = len(MIGRATIONS)


class Store:
    """Thread-safe persistence of managed nodes and the history of what happened to them."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._batch_depth = 0  # > 0 inside `batch()`
        self._batch_open = False  # its transaction has begun (at its first write)
        memory = self.path == ":memory:"
        try:
            if not memory:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so each public
            # write is exactly one transaction.
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open state database {self.path}: {exc} "
                "(check daemon.state_db and that the directory is writable)"
            ) from exc
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except StoreError:
            self._db.close()
            raise
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(
                f"cannot use state database {self.path}: {exc} "
                "(is it a clues-py database, and is it writable?)"
            ) from exc

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make every write inside one transaction (a pass's many transitions, one commit).

        Other threads' writes wait until it ends; a failure inside rolls all of it back. The
        transaction begins at the first write: most passes write nothing."""
        with self._lock:
            if self._batch_depth:
                self._batch_depth += 1
                try:
                    yield
                finally:
                    self._batch_depth -= 1
                return
            self._batch_depth, self._batch_open = 1, False
            try:
                yield
            except BaseException:
                self._batch_depth = 0
                if self._batch_open:
                    self._db.execute("ROLLBACK")
                raise
            self._batch_depth = 0
            if self._batch_open:
                self._db.execute("COMMIT")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._batch_depth:  # part of the batch, which begins here if nothing did
                if not self._batch_open:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._batch_open = True
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"state database {self.path} has schema version {version}, but this "
                    f"clues-py knows only up to {SCHEMA_VERSION} (it was written by a newer "
                    "clues-py; upgrade, or point daemon.state_db at another file)"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                with self._tx() as db:
                    MIGRATIONS[target - 1](db)
                    # PRAGMA does not take parameters; target is our own int.
                    db.execute(f"PRAGMA user_version={target}")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def journal_mode(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    # ------------------------------------------------------------------ nodes

    def load_nodes(self) -> dict[str, ManagedNode]:
        """Every stored node, as last saved; `observed` is None (the backend fills it in)."""
        out: dict[str, ManagedNode] = {}
        for r in self._query("SELECT * FROM nodes ORDER BY name"):
            try:
                state = NodeState(r["state"])
            except ValueError:
                # A state this version does not know (downgrade): let the FSM re-derive it.
                state = NodeState.UNKNOWN
            out[r["name"]] = ManagedNode(
                name=r["name"],
                template=r["template"],
                state=state,
                since=r["since"],
                enabled=bool(r["enabled"]),
                attempts=r["attempts"],
                retry_at=r["retry_at"],
                provider_id=r["provider_id"],
                last_used=r["last_used"],
                last_error=r["last_error"],
                **({"seen_ready_at": r["seen_ready_at"]} if _HAS_SEEN_READY else {}),
            )
        return out

    @staticmethod
    def _upsert(db: sqlite3.Connection, n: ManagedNode) -> None:
        db.execute(
            """INSERT INTO nodes (name, template, state, since, enabled, attempts, retry_at,
                                  provider_id, last_used, last_error, updated_at,
                                  seen_ready_at)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT(name) DO UPDATE SET
                 template=excluded.template, state=excluded.state, since=excluded.since,
                 enabled=excluded.enabled, attempts=excluded.attempts,
                 retry_at=excluded.retry_at, provider_id=excluded.provider_id,
                 last_used=excluded.last_used, last_error=excluded.last_error,
                 updated_at=excluded.updated_at, seen_ready_at=excluded.seen_ready_at""",
            (
                n.name,
                n.template,
                str(n.state),
                n.since,
                int(n.enabled),
                n.attempts,
                n.retry_at,
                n.provider_id,
                n.last_used,
                n.last_error,
                time.time(),
                getattr(n, "seen_ready_at", 0.0),
            ),
        )

    def save_node(self, node: ManagedNode) -> None:
        """Insert or update one node."""
        with self._tx() as db:
            self._upsert(db, node)

    def delete_node(self, name: str) -> None:
        """Forget a node (removed from the config); its history stays."""
        with self._tx() as db:
            db.execute("DELETE FROM nodes WHERE name=?", (name,))

    def save_transition(
        self, node: ManagedNode, old: NodeState, new: NodeState, reason: str, at: float
    ) -> None:
        """Record a state change and the node's new row in one transaction."""
        with self._tx() as db:
            self._upsert(db, node)
            db.execute(
                "INSERT INTO transitions (at, node, old, new, reason) VALUES (?,?,?,?,?)",
                (at, node.name, str(old), str(new), reason),
            )

    def transitions(
        self, node: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest first: dicts with id, at, node, old, new, reason."""
        where, args = _filters(node, since)
        return self._query(
            f"SELECT * FROM transitions{where} ORDER BY at DESC, id DESC LIMIT ?",
            (*args, limit),
        )

    # ------------------------------------------------------------------ actions

    def add_action(
        self, at: float, kind: str, node: str, template: str, reason: str, policy: str = ""
    ) -> int:
        """Record an action as `pending` before it starts; returns its id."""
        with self._tx() as db:
            cur = db.execute(
                """INSERT INTO actions (at, kind, node, template, policy, reason, status)
                   VALUES (?,?,?,?,?,?,'pending')""",
                (at, str(kind), node, template, policy, reason),
            )
            return int(cur.lastrowid or 0)

    def finish_action(
        self, action_id: int, status: str, error: str = "", at: float | None = None
    ) -> bool:
        """Move an unfinished action to `running` (with `at`: re-stamped with the time its
        operation started) or a final status (which also sets `finished_at`). The first final status wins: later ones, and `running` after it,
        change nothing and return False (a drain the FSM gave up on stays `failed` even if
        the worker reports back afterwards)."""
        if status not in ACTION_STATUSES:
            raise ValueError(f"action status must be one of {ACTION_STATUSES}, not {status!r}")
        finished = (time.time() if at is None else at) if status in _FINAL_STATUSES else None
        with self._tx() as db:
            if status == "running" and at is not None:
                # The record is stamped when its operation starts, not when it was planned
                # (a drain's later steps keep the first stamp).
                cur = db.execute(
                    "UPDATE actions SET status=?, error=?, "
                    "at=CASE WHEN status='pending' THEN ? ELSE at END "
                    "WHERE id=? AND status IN ('pending','running')",
                    (status, error, at, action_id),
                )
            else:
                cur = db.execute(
                    "UPDATE actions SET status=?, error=?, finished_at=? "
                    "WHERE id=? AND status IN ('pending','running')",
                    (status, error, finished, action_id),
                )
            if cur.rowcount == 1:
                return True
            if db.execute("SELECT 1 FROM actions WHERE id=?", (action_id,)).fetchone() is None:
                raise StoreError(f"no action with id {action_id} in {self.path}")
            return False

    def actions(
        self, node: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest first: dicts with every column of the actions table."""
        where, args = _filters(node, since)
        return self._query(
            f"SELECT * FROM actions{where} ORDER BY at DESC, id DESC LIMIT ?", (*args, limit)
        )

    def unfinished_actions(self) -> list[dict[str, Any]]:
        """Actions left pending or running: the daemon stopped (or crashed) during them."""
        return self._query(
            "SELECT * FROM actions WHERE status IN ('pending','running') ORDER BY id"
        )

    # ------------------------------------------------------------------ decisions and meta

    def add_decision(self, at: float, key: str, reason: str) -> None:
        """Why a pod (`ns/name`) or a node was or was not acted upon."""
        with self._tx() as db:
            db.execute("INSERT INTO decisions (at, key, reason) VALUES (?,?,?)", (at, key, reason))

    def decisions(
        self, key: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        where, args = _filters(key, since, column="key")
        return self._query(
            f"SELECT * FROM decisions{where} ORDER BY at DESC, id DESC LIMIT ?", (*args, limit)
        )

    def prune(self, before: float) -> int:
        """Delete history (transitions, finished actions, decisions) older than `before`."""
        with self._tx() as db:
            n = db.execute("DELETE FROM transitions WHERE at < ?", (before,)).rowcount
            n += db.execute(
                "DELETE FROM actions WHERE at < ? AND status NOT IN ('pending','running')",
                (before,),
            ).rowcount
            n += db.execute("DELETE FROM decisions WHERE at < ?", (before,)).rowcount
            return n

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return str(rows[0]["value"]) if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?,?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _filters(
    value: str | None, since: float | None, column: str = "node"
) -> tuple[str, tuple[Any, ...]]:
    clauses: list[str] = []
    args: list[Any] = []
    if value is not None:
        clauses.append(f"{column}=?")
        args.append(value)
    if since is not None:
        clauses.append("at >= ?")
        args.append(since)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(args)
