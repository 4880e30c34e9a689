"""List+watch loop for one resource kind (the client-go informer pattern), on a daemon thread.

list (paginated, record the list resourceVersion) -> watch from it with bookmarks and a
server-side timeout -> resume from the last seen resourceVersion when the watch ends ->
relist on 410 Gone (HTTP 410 or an ERROR event carrying a 410 Status) or when the
server's resourceVersion goes back (an API server restarted with empty storage) -> on any
other failure, reconnect with capped, jittered exponential backoff and relist: what was
missed while the watch was down is not trusted to a resume.

Health: from the first failure until a list succeeds again the informer is *down*
(`synced()` is False, `down_for()` says for how long); each change of that state is
reported once through `on_state` (the backend logs it), never once per attempt.

Responses are requested with `_preload_content=False` and parsed as JSON here, which is
several times faster than the client's model deserialisation. A list is handed to `replace`
as a generator of items; while the cache converts one page, the next is fetched as bytes
(not parsed) by a helper thread, so the server and we work at the same time, and the raw
objects of only one page are alive at a time (the peak memory of a relist stays near the
converted data). What an object means is left to the `apply`/`replace`
callbacks (`k8s_cache`); building the API calls is left to `kubernetes.py`.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from kubernetes.client.exceptions import ApiException

try:  # orjson is optional; it roughly halves parse time of big lists.
    import orjson

    loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    loads = json.loads

log = logging.getLogger(__name__)

# Items per list page: a 150k-pod relist is 30 requests (each costs the client a few ms
# of Python; 1,000 a page took half a second more at 5k/150k), and one page of decoded
# pods is a few MB.
LIST_PAGE_SIZE = 5000
CONNECT_TIMEOUT = 5.0
LIST_READ_TIMEOUT = 120.0


class GoneError(Exception):
    """The resourceVersion we hold is too old (or the server's went back): relist."""


def went_back(new: str, old: str) -> bool:
    """True when resourceVersion `new` is older than `old`. Versions are opaque in the API
    conventions, but every server we know (etcd revisions, the sandbox) counts up in
    decimal; anything else is never called older."""
    return new.isdigit() and old.isdigit() and int(new) < int(old)


# (event type, object) -> changed?
ApplyFn = Callable[[str, dict[str, Any]], bool]
# items (a generator: consume it once, in order; it may raise mid-way) -> changed?
ReplaceFn = Callable[[Iterable[dict[str, Any]]], bool]
# keyword arguments -> raw urllib3 response (a CoreV1Api/BatchV1Api list method)
CallFn = Callable[..., Any]
# one list page's body -> (items, continue token, resourceVersion)
DecodeFn = Callable[[bytes], tuple[Sequence[Any], str, str]]


def decode_list(data: bytes) -> tuple[Sequence[Any], str, str]:
    """A list page parsed as plain JSON: its items are dicts."""
    body = loads(data)
    meta = body.get("metadata") or {}
    return (
        body.get("items") or (),
        meta.get("continue") or "",
        str(meta.get("resourceVersion") or ""),
    )


def _iter_lines(resp: Any) -> Iterator[bytes]:
    """Newline-delimited frames of a watch response, as soon as each arrives."""
    buf = b""
    if getattr(resp, "chunked", False):
        chunks: Iterator[bytes] = resp.stream(amt=None, decode_content=False)
    else:
        chunks = iter(lambda: resp.read1(65536), b"")
    for chunk in chunks:
        # One split per chunk keeps this linear when a chunk carries hundreds of events.
        parts = (buf + chunk).split(b"\n")
        buf = parts.pop()
        for line in parts:
            if line.strip():
                yield line
    if buf.strip():
        yield buf


# How often an optional resource that answered 404 is listed again.
ABSENT_REPROBE = 60.0


class _Prefetch:
    """`fetch(cont)` run on a helper thread; `result()` waits for it and returns or raises."""

    def __init__(self, fetch: Callable[[str], bytes], cont: str, name: str) -> None:
        self._data: bytes | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(fetch, cont), name=f"informer-{name}-page", daemon=True
        )
        self._thread.start()

    def _run(self, fetch: Callable[[str], bytes], cont: str) -> None:
        try:
            self._data = fetch(cont)
        except BaseException as exc:  # handed to the consumer, which decides
            self._error = exc

    def result(self) -> bytes:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._data is not None
        return self._data

    def discard(self) -> None:
        """Drop the page (the consumer stopped early); the fetch finishes on its own."""
        self._data = None


class Informer:
    """Keeps one resource kind mirrored into a cache through `replace` and `apply`."""

    def __init__(
        self,
        name: str,
        call: CallFn,
        replace: ReplaceFn,
        apply: ApplyFn,
        on_change: Callable[[], None],
        *,
        watch_timeout: int = 300,
        backoff_max: float = 30.0,
        backoff_base: float = 0.2,
        wait: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
        optional: bool = False,
        on_state: Callable[[Informer], None] | None = None,
        decode: DecodeFn = decode_list,
    ) -> None:
        self.name = name
        # Optional resources (an API group that may not be installed, e.g. Kueue): a 404
        # counts as "synced and empty" and is probed again every ABSENT_REPROBE seconds.
        self.optional = optional
        self.absent = False
        self._call = call
        self._replace = replace
        self._apply = apply
        self._on_change = on_change
        # How a list page is parsed: plain JSON, or a kind's own typed decoder (k8s_pods).
        self._decode = decode
        self._watch_timeout = watch_timeout
        self._backoff_max = backoff_max
        self._backoff_base = backoff_base
        self._stop = threading.Event()
        # Injected for tests: how to sleep between retries (must return early on stop).
        self._wait = wait or self._stop.wait
        self._rng = rng or random.Random()
        self._listed = threading.Event()
        # monotonic time of the first failure since the last good list; None while healthy
        self._down_since: float | None = None
        self._on_state = on_state
        self._resp_lock = threading.Lock()
        self._resp: Any = None
        self._thread: threading.Thread | None = None
        self.resource_version = ""
        # Counters for tests and metrics.
        self.lists = 0
        self.watches = 0
        self.errors = 0
        self.last_error = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"informer-{self.name}", daemon=True)
        self._thread.start()

    def synced(self) -> bool:
        """Listed at least once and not down since: the cache reflects the server."""
        return self._listed.is_set() and self._down_since is None

    def down_for(self) -> float:
        """Seconds since the cache was last known current: 0 while healthy, inf before the
        first list."""
        if not self._listed.is_set():
            return float("inf")
        since = self._down_since
        return 0.0 if since is None else max(0.0, time.monotonic() - since)

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def _set_down(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.debug("%s: list/watch failed: %s", self.name, self.last_error)
        if self._down_since is None:
            self._down_since = time.monotonic()
            self._state_changed()

    def _set_up(self) -> None:
        if self._down_since is not None:
            self._down_since = None
            self._state_changed()

    def _state_changed(self) -> None:
        if self._on_state is None:
            return
        try:
            self._on_state(self)
        except Exception:
            log.exception("%s: on_state callback failed", self.name)

    def stop(self) -> None:
        """Ask the loop to end and break any blocking read; does not join."""
        self._stop.set()
        with self._resp_lock:
            resp = self._resp
        if resp is not None:
            try:
                resp.shutdown()
            except Exception:  # already closed or released: nothing to interrupt
                pass

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------------ loop

    def _notify(self) -> None:
        # A failing callback is the caller's bug; it must not turn into a relist loop.
        try:
            self._on_change()
        except Exception:
            log.exception("%s: on_change callback failed", self.name)

    def _run(self) -> None:
        """The informer loop; runs on the thread until `stop()`."""
        failures = 0
        rv = ""
        while not self._stop.is_set():
            try:
                if not rv:
                    rv = self._list()
                    failures = 0
                started = time.monotonic()
                rv, events = self._watch(rv)
                # A watch that ends at once with nothing in it is a failure in disguise
                # (proxy cutting connections, server ignoring timeoutSeconds): back off.
                if events or time.monotonic() - started > 1.0:
                    failures = 0
                    continue
                failures += 1
            except GoneError as exc:
                log.info("%s: relisting (%s)", self.name, exc or f"resourceVersion {rv} expired")
                rv = ""
                continue
            except ApiException as exc:
                if self._stop.is_set():
                    break
                if self.optional and exc.status == 404:
                    if not self.absent:
                        log.info("%s: API not served (404); disabled until it appears", self.name)
                    self.absent = True
                    if self._replace([]):
                        self._notify()
                    self._listed.set()
                    self._set_up()
                    rv = ""
                    self._wait(ABSENT_REPROBE)
                    continue
                failures += 1
                rv = ""
                self._set_down(exc)
            except Exception as exc:
                if self._stop.is_set():
                    break
                failures += 1
                rv = ""  # events may have been missed (or the server restarted): relist
                self._set_down(exc)
            delay = min(self._backoff_max, self._backoff_base * 2 ** min(failures, 30))
            self._wait(delay * self._rng.uniform(0.5, 1.0))

    def _open(self, **kwargs: Any) -> Any:
        try:
            resp = self._call(_preload_content=False, **kwargs)
        except ApiException as exc:
            if exc.status == 410:
                raise GoneError(str(exc.reason)) from exc
            raise
        with self._resp_lock:
            self._resp = resp
        if self._stop.is_set():  # stop() ran between the call and the assignment
            resp.shutdown()
        return resp

    def _close(self, resp: Any) -> None:
        with self._resp_lock:
            if self._resp is resp:  # a page fetched ahead may close after a newer call opened
                self._resp = None
        resp.close()
        resp.release_conn()

    def _fetch(self, cont: str) -> bytes:
        """The raw body of one list page (`cont`: the continue token, "" for the first)."""
        kwargs: dict[str, Any] = {"limit": LIST_PAGE_SIZE}
        if cont:
            kwargs["_continue"] = cont
        resp = self._open(_request_timeout=(CONNECT_TIMEOUT, LIST_READ_TIMEOUT), **kwargs)
        try:
            return bytes(resp.data)
        finally:
            self._close(resp)

    def _pages(self, out: dict[str, str]) -> Iterator[dict[str, Any]]:
        """The items of every page; `out["rv"]` is the list's resourceVersion once the last
        page is read. While the cache converts one page, the next one is fetched (as bytes,
        not parsed) by a helper thread: the server prepares it while we convert, and only one
        page of raw objects is alive at a time."""
        data = self._fetch("")
        while True:
            items, cont, rv = self._decode(data)
            del data  # the page's items are the only raw objects kept
            if not cont:
                yield from items
                out["rv"] = rv
                return
            ahead = _Prefetch(self._fetch, cont, self.name)
            try:
                yield from items
                del items
                data = ahead.result()
            finally:
                ahead.discard()

    def _list(self) -> str:
        out: dict[str, str] = {}
        changed = self._replace(self._pages(out))
        if "rv" not in out:
            raise RuntimeError(f"{self.name}: the list was not read to its end")
        rv = out["rv"]
        if went_back(rv, self.resource_version):
            log.warning(
                "%s: the server's resourceVersion went back from %s to %s (API server restarted "
                "with new storage?); cache replaced by the new list",
                self.name,
                self.resource_version,
                rv,
            )
        self.lists += 1
        self.resource_version = rv
        self.absent = False
        self._listed.set()
        self._set_up()
        if changed:
            self._notify()
        return rv

    def _watch(self, rv: str) -> tuple[str, int]:
        """Watch from `rv` until the server ends the stream; return (last rv, events)."""
        resp = self._open(
            watch=True,
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=self._watch_timeout,
            _request_timeout=(CONNECT_TIMEOUT, self._watch_timeout + 30),
        )
        self.watches += 1
        events = 0
        try:
            for line in _iter_lines(resp):
                if self._stop.is_set():
                    break
                event = loads(line)
                kind = event.get("type")
                obj = event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise GoneError(obj.get("message", ""))
                    raise RuntimeError(f"watch error: {obj.get('message') or obj}")
                events += 1
                new_rv = (obj.get("metadata") or {}).get("resourceVersion")
                if new_rv and went_back(str(new_rv), rv):
                    raise GoneError(f"the server's resourceVersion went back from {rv} to {new_rv}")
                if kind != "BOOKMARK" and self._apply(kind, obj):
                    self._notify()
                if new_rv:
                    rv = str(new_rv)
                    self.resource_version = rv
        finally:
            self._close(resp)
        return rv, events
