"""API abuse: malformed, hostile and slow requests against the cluesd API; one JSON line.

By default it starts a real cluesd service in this process (the sandbox API server, the
kubernetes backend and the sim power manager, a TCP listener with a bearer token), so the
daemon's log is watched too; `--address HOST:PORT --token-file F` aims at a running one.
Every request is raw bytes over a socket: wrong methods on every route, odd paths and query
strings, bad and missing tokens, broken HTTP (negative, duplicated or lying Content-Length,
smuggling shapes, oversized headers and bodies, garbage bytes), hostile JSON (deeply nested,
not an object, invalid UTF-8), and slow clients (silent connections and bodies that never
arrive, 40 at once) while a normal request must still be answered fast.

Counted: requests, 5xx answers, stalls (an answer, or a normal request during the slow
clients, taking more than 1 s), tracebacks (in an answer or the daemon's log), answers that
are not JSON `{error, code}` (informational), connections closed with no answer to a
complete request, and wrong statuses (where one answer is right: 405 for a method a route does
not take, 401 without the token, 400 for a bad query, JSON nested too deep or a negative
Content-Length, 408 for a body shorter than its Content-Length, 413 for too large). Exits 1
unless 5xx, stalls, tracebacks and wrong statuses are 0 (issue 15's floor).

    python bench/api_abuse.py [--address HOST:PORT --token-file FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STALL = 1.0
TOKEN = "abuse-token-0123456789"
ROUTES = {
    "/healthz": "GET", "/v1/status": "GET", "/v1/nodes": "GET", "/v1/passes": "GET",
    "/v1/nodes/wn-1": "GET", "/v1/nodes/wn-1/disable": "POST", "/v1/actions": "GET",
    "/v1/transitions": "GET", "/v1/explain/node/wn-1": "GET",
    "/v1/explain/pod/default/p0": "GET", "/v1/openapi.json": "GET",
}  # fmt: skip
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW")


class Tally:
    def __init__(self) -> None:
        self.requests = self.fivexx = self.stalls = self.tracebacks = 0
        self.not_json = self.no_answer = self.wrong_status = 0
        self.examples: list[str] = []

    def note(self, what: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(what)


def exchange(addr: tuple[str, int], raw: bytes, read_timeout: float = 5.0) -> tuple[float, bytes]:
    """Send `raw`, read until the server closes or `read_timeout`; (seconds, answer)."""
    t0 = time.monotonic()
    out = b""
    with socket.create_connection(addr, timeout=read_timeout) as s:
        try:
            s.sendall(raw)
            while chunk := s.recv(65536):
                out += chunk
        except OSError:  # reset after a refused request, or the timeout
            pass
    return time.monotonic() - t0, out


def judge(t: Tally, what: str, took: float, answer: bytes, expect: int | None = None) -> None:
    t.requests += 1
    head, _, body = answer.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if expect is not None and status != expect:
        t.wrong_status += 1
        t.note(f"{status} instead of {expect}: {what}")
    if took > STALL:
        t.stalls += 1
        t.note(f"stall {took:.2f}s: {what}")
    if status >= 500:
        t.fivexx += 1
        t.note(f"{status}: {what}")
    if b"Traceback" in answer:
        t.tracebacks += 1
        t.note(f"traceback: {what}")
    if not answer:
        t.no_answer += 1
        t.note(f"no answer: {what}")
    elif answer and b" 200 " not in head.split(b"\r\n")[0] and b"HEAD" not in what.encode():
        try:
            doc = json.loads(body.split(b"\r\n0\r\n")[0])
            assert isinstance(doc, dict) and doc.get("code") == status
        except (ValueError, AssertionError):
            t.not_json += 1
            t.note(f"not JSON {status}: {what}")


def request(method: str, path: str, token: str | None, body: bytes = b"",
            headers: dict[str, str] | None = None, version: str = "HTTP/1.1") -> bytes:  # fmt: skip
    h = {"Host": "cluesd", "Connection": "close", **(headers or {})}
    if token is not None:
        h.setdefault("Authorization", f"Bearer {token}")
    if body and "Content-Length" not in h and "Transfer-Encoding" not in h:
        h["Content-Length"] = str(len(body))
    lines = [f"{method} {path} {version}", *(f"{k}: {v}" for k, v in h.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def cases(token: str) -> Iterator[tuple[str, bytes, int | None]]:
    """(what, raw request, the status it must get, or None where several are right)."""
    for path, allowed in ROUTES.items():
        for method in METHODS:
            if method != allowed:
                yield f"{method} {path}", request(method, path, token), 405
    for path in ("/", "/v1", "/v2/status", "/v1/status/x", "/v1/nodes/a/b/c", "//v1//status",
                 "/v1/nodes/%2e%2e/disable", "/v1/nodes/%00", "/v1/nodes/%zz", "/v1/nodes/é",
                 "/v1/nodes/" + "a" * 300, "/v1/" + "x" * 10_000, "/v1/nodes/wn-1/explode",
                 "/v1/explain/nothing", "/v1/status?" + "a=1&" * 2000, "*"):  # fmt: skip
        yield f"GET {path[:40]}", request("GET", path, token), None
    for q in (
        "limit=",
        "limit=0",
        "limit=-1",
        "limit=abc",
        "limit=1e3",
        "limit=99999999999999",
        "limit=1&limit=x",
        "since=",
        "since=nan",
        "since=inf",
        "since=-1e400",
        "node=",
        "node=" + "n" * 5000,
        "kind=",
        "kind=,,",
        "zzz=1",
        "limit=%ff",
        "limit=5&limit=6",
    ):
        for res in ("actions", "transitions"):
            yield f"GET /v1/{res}?{q[:30]}", request("GET", f"/v1/{res}?{q}", token), 400
    post = "/v1/nodes/wn-4/disable"
    for name, tok in (("no token", None), ("wrong", "nope"), ("empty", ""),
                      ("basic", None), ("lower", None)):  # fmt: skip
        extra = {"Authorization": {"basic": f"Basic {TOKEN}", "lower": f"bearer{TOKEN}"}[name]} if (
            name in ("basic", "lower")) else {}  # fmt: skip
        for path in ("/v1/status", post, "/nope", "/v1/openapi.json"):
            yield f"token {name} {path}", request("POST" if path == post else "GET", path, tok,
                                                  headers=extra), 401  # fmt: skip
    deep = b"[" * 100_000 + b"]" * 100_000
    bodies = {"deep array": deep, "deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
              "deep in string": b'{"a": "' + b"[" * 5000 + b'"}', "not json": b"{nope",
              "array": b"[1, 2]", "number": b"7", "null": b"null", "bad utf-8": b'{"a": "\xff"}',
              "nan": b'{"a": NaN}', "dup keys": b'{"a": 1, "a": 2}', "big": b'{"a": "' +
              b"x" * 900_000 + b'"}', "too big": b"x" * (2 << 20)}  # fmt: skip
    expect = {"deep array": 400, "deep object": 400, "not json": 400, "bad utf-8": 400,
              "too big": 413}  # fmt: skip
    for name, body in bodies.items():
        yield f"body {name}", request("POST", post, token, body,
                                      {"Content-Type": "application/json"}), expect.get(name)  # fmt: skip
    expect = {"CL > body": 408, "CL negative": 400, "CL garbage": 400, "CL huge": 413,
              "CL twice": 400, "chunked huge": 413, "chunked bad": 400}  # fmt: skip
    for name, headers, body in (
        ("CL > body", {"Content-Length": "100"}, b"{}"),
        ("CL negative", {"Content-Length": "-5"}, b"{}"),
        ("CL garbage", {"Content-Length": "ten"}, b"{}"),
        ("CL huge", {"Content-Length": "999999999999"}, b"{}"),
        ("CL twice", {"Content-Length": "2\r\nContent-Length: 3"}, b"{}"),
        ("CL + chunked", {"Content-Length": "2", "Transfer-Encoding": "chunked"}, b"0\r\n\r\n"),
        ("chunked huge", {"Transfer-Encoding": "chunked"},
         b"".join(b"10000\r\n" + b"x" * 0x10000 + b"\r\n" for _ in range(20)) + b"0\r\n\r\n"),
        ("chunked bad", {"Transfer-Encoding": "chunked"}, b"zz\r\nabc\r\n0\r\n\r\n"),
        ("TE gzip", {"Transfer-Encoding": "gzip"}, b"{}"),
        ("header 100k", {"X-Big": "a" * 100_000}, b""),
        ("500 headers", {f"X-{i}": "v" for i in range(500)}, b""),
        ("bad header", {"Bad Header": "x"}, b""),
    ):  # fmt: skip
        yield f"http {name}", request("POST", post, token, body, headers), expect.get(name)
    yield "http/1.0", request("GET", "/v1/status", token, version="HTTP/1.0"), None
    yield "http/2.0", request("GET", "/v1/status", token, version="HTTP/2.0"), None
    yield "no host", request("GET", "/v1/status", token).replace(b"Host: cluesd\r\n", b""), 400
    yield "http/0.9", b"GET /v1/status\r\n\r\n", 400
    yield "garbage", bytes(range(256)) * 4 + b"\r\n\r\n", 400
    yield "tls hello", bytes.fromhex("16030100a5010000a10303") + b"\x00" * 200, 400
    keep = request("GET", "/v1/status", token, headers={"Connection": "keep-alive"})
    yield "pipelined", keep * 2 + request("GET", "/v1/nodes", token), None
    yield "smuggle", request("POST", post, token, b"0\r\n\r\nGET /v1/status HTTP/1.1\r\n\r\n",
                             {"Transfer-Encoding": "chunked", "Content-Length": "4"}), None  # fmt: skip


def slow_clients(addr: tuple[str, int], token: str, t: Tally) -> None:
    """40 silent or body-withholding connections at once; a normal request meanwhile."""
    held = []
    for i in range(40):
        s = socket.create_connection(addr, timeout=10)
        if i % 2:
            s.sendall(request("POST", "/v1/nodes/wn-4/disable", token, b"{",
                              {"Content-Length": "1000"}))  # fmt: skip
        else:
            s.sendall(b"GET /v1/sta")  # headers that never end
        held.append(s)
    try:
        took, answer = exchange(addr, request("GET", "/v1/status", token))
        judge(t, "normal request during 40 slow clients", took, answer, 200)
        for s in held[1::2]:  # the withheld bodies got 408 within BODY_TIMEOUT
            s.settimeout(STALL + 1)
            t0 = time.monotonic()
            got = b""
            try:
                while chunk := s.recv(4096):
                    got += chunk
            except OSError:
                pass
            judge(t, "withheld body", time.monotonic() - t0, got, 408)
    finally:
        for s in held:
            s.close()


class _Log(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "Traceback" in record.getMessage():
            self.tracebacks.append(f"{record.name}: {record.getMessage()[:200]}")


@contextmanager
def own_daemon() -> Iterator[tuple[tuple[str, int], str, _Log]]:
    from clues_py.config.load import config_from_dict
    from clues_py.daemon.service import Service
    from clues_py.sandbox import Sandbox

    log = _Log()
    logging.getLogger().addHandler(log)
    sandbox = Sandbox(port=0, pod_start_seconds=0.05).start()
    with tempfile.TemporaryDirectory(prefix="clues-abuse-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "token").write_text(TOKEN)
        (tmp / "token").chmod(0o600)
        raw: dict[str, Any] = {
            "cluster_name": "abuse",
            "daemon": {"state_db": str(tmp / "clues.db"), "listen": "127.0.0.1:0",
                       "token_file": str(tmp / "token"), "tick": 0.2, "metrics_listen": None},
            "backend": {"kind": "kubernetes",
                        "kubeconfig": sandbox.write_kubeconfig(str(tmp / "kubeconfig"))},
            "power": {"sim": {"kind": "sim", "url": sandbox.url}},
            "templates": [{"name": "wn", "power": "sim", "nodes": "wn-[1-4]", "cpu": 4,
                           "memory": "8Gi", "boot_seconds": 0.2, "shutdown_seconds": 0.1}],
        }  # fmt: skip
        service = Service(config_from_dict(raw, source="abuse")).start()
        try:
            host, port = service.address.rsplit(":", 1)
            yield (host, int(port)), TOKEN, log
        finally:
            service.stop()
            sandbox.stop()
            logging.getLogger().removeHandler(log)


def run(addr: tuple[str, int], token: str, log: _Log | None) -> dict[str, Any]:
    t = Tally()
    for what, raw, expect in cases(token):
        took, answer = exchange(addr, raw)
        judge(t, what, took, answer, expect)
    slow_clients(addr, token, t)
    threads = [threading.Thread(target=lambda: judge(t, "concurrent status", *exchange(
        addr, request("GET", "/v1/status", token)), 200)) for _ in range(20)]  # fmt: skip
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if log is not None:
        t.tracebacks += len(log.tracebacks)
        for tb in log.tracebacks[:3]:
            t.note(f"log traceback: {tb}")
    return {"bench": "api_abuse", "requests": t.requests, "5xx": t.fivexx,
            "stalls_over_1s": t.stalls, "tracebacks": t.tracebacks, "not_json": t.not_json,
            "no_answer": t.no_answer, "wrong_status": t.wrong_status,
            "floor": "5xx, stalls, tracebacks and wrong statuses 0",
            "examples": t.examples}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--address", help="HOST:PORT of a running cluesd (default: start one)")
    ap.add_argument("--token-file", help="its bearer token")
    args = ap.parse_args()
    if args.address:
        host, port = args.address.rsplit(":", 1)
        token = Path(args.token_file).read_text().strip() if args.token_file else ""
        line = run((host, int(port)), token, None)
    else:
        with own_daemon() as (addr, token, log):
            line = run(addr, token, log)
    print(json.dumps(line))
    return 1 if any(line[k] for k in ("5xx", "stalls_over_1s", "tracebacks", "wrong_status")) else 0


if __name__ == "__main__":
    sys.exit(main())
