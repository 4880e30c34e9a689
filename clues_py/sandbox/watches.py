"""Watches of the sandbox API server: an initial list, then changes, bookmarks and timeouts.

`Watches` is mixed into `server.ApiServer`. A watch streams chunked events from the store's
history (`ObjectStore.wait_events`) as JSON lines or length-prefixed protobuf frames
(`encoding.watch_encoder`), sends bookmarks when asked, reports a resume point that left the
history as a 410 Expired ERROR event, and ends on timeoutSeconds, server stop or client hang-up.
`sendInitialEvents=true` (client-go's streaming list, which kubectl >= 1.35 uses for `wait` and
`rollout status`) sends the current objects as ADDED events, then a bookmark annotated
`k8s.io/initial-events-end`, then the changes after it.
"""

from __future__ import annotations

import json
import threading
import time

from clues_py.sandbox.encoding import watch_encoder
from clues_py.sandbox.httpio import Handler, Request
from clues_py.sandbox.objects import ApiError, ObjectStore


class Watches:
    store: ObjectStore
    bookmark_interval: float
    _stopping: threading.Event

    def _watch(self, handler: Handler, req: Request) -> None:
        info = req.info
        assert info is not None
        ls, fs = req.query.get("labelSelector", ""), req.query.get("fieldSelector", "")
        rv = req.query.get("resourceVersion", "")
        timeout = float(req.query.get("timeoutSeconds") or 0) or None
        bookmarks = req.flag("allowWatchBookmarks")
        self.store.list_raw(info.plural, None, ls, fs, 1)  # validates the selectors before the 200
        ctype, frame = watch_encoder(
            req.headers.get("Accept"), {"kind": info.kind, "apiVersion": info.api_version}
        )
        handler.start_stream(ctype)
        cursor = None
        streaming_list = req.flag("sendInitialEvents")
        try:
            initial: list[bytes] = []
            if rv in ("", "0") or streaming_list:
                # NotOlderThan: the current state is never older than the rv asked for.
                raws, rv, _ = self.store.list_raw(info.plural, req.namespace, ls, fs)
                initial = [frame("ADDED", r) for r in raws]
                if streaming_list:
                    end_mark = {
                        "kind": info.kind,
                        "apiVersion": info.api_version,
                        "metadata": {
                            "resourceVersion": rv,
                            "annotations": {"k8s.io/initial-events-end": "true"},
                        },
                    }
                    initial.append(frame("BOOKMARK", json.dumps(end_mark).encode()))
            try:
                cursor, after = self.store.open_cursor(int(rv))
            except (ApiError, ValueError) as e:
                err = (
                    e
                    if isinstance(e, ApiError)
                    else ApiError(400, "BadRequest", f"invalid resourceVersion {rv!r}")
                )
                if err.code == 410:
                    err = ApiError(410, "Expired", err.message)
                handler.write_chunk(frame("ERROR", json.dumps(err.status()).encode()))
                handler.end_stream()
                return
            for i in range(0, len(initial), 500):
                handler.write_chunk(b"".join(initial[i : i + 500]))
            end = None if timeout is None else time.monotonic() + timeout
            next_bookmark = time.monotonic() + self.bookmark_interval
            while not self._stopping.is_set():
                now = time.monotonic()
                if end is not None and now >= end:
                    break
                wait = min(next_bookmark - now, 1.0, (end - now) if end else 1.0)
                try:
                    events, after = self.store.wait_events(
                        info.plural, after, req.namespace, ls, fs, max(wait, 0), cursor
                    )
                except ApiError as e:
                    handler.write_chunk(frame("ERROR", json.dumps(e.status()).encode()))
                    break
                if events:
                    handler.write_chunk(b"".join(frame(t, raw) for t, raw in events))
                if bookmarks and time.monotonic() >= next_bookmark:
                    mark = {
                        "kind": info.kind,
                        "apiVersion": info.api_version,
                        "metadata": {"resourceVersion": str(after)},
                    }
                    handler.write_chunk(frame("BOOKMARK", json.dumps(mark).encode()))
                if time.monotonic() >= next_bookmark:
                    next_bookmark = time.monotonic() + self.bookmark_interval
                if not events and handler.peer_closed():
                    return
        except (BrokenPipeError, ConnectionResetError, OSError):
            handler.close_connection = True
            return
        finally:
            if cursor is not None:
                self.store.close_cursor(cursor)
        handler.end_stream()
