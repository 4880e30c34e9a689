"""`cluesd` process: config, logging, signals, the HTTP API and the daemon loop.

Everything that makes the daemon a well-behaved Unix service lives here, so
`daemon.py` stays about planning and acting. Exit codes: 0 clean stop, 2 bad
configuration, 1 anything else that prevents start-up.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from clues_py import __version__
from clues_py.config import Config, ConfigError, load_config

log = logging.getLogger("clues.service")

DEFAULT_CONFIG = "/etc/clues/clues.yaml"


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        t = time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created))
        return f"{t}.{int(record.msecs):03d}Z"


def setup_logging(level: str = "INFO", log_file: str | None = None) -> None:
    """One readable line per event: time, level, component, message."""
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(_UTCFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The kubernetes client and urllib3 are chatty at INFO about retries we already report.
    for noisy in ("urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class Service:
    """A daemon plus its API server, started and stopped together."""

    def __init__(self, cfg: Config, **daemon_kwargs: object) -> None:
        from clues_py.api.server import ApiServer
        from clues_py.daemon import Daemon

        self.cfg = cfg
        self.daemon = Daemon(cfg, **daemon_kwargs)  # type: ignore[arg-type]
        self.api = ApiServer(self.daemon, cfg.daemon.listen, token_file=cfg.daemon.token_file)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return str(self.api.address)

    def start(self) -> Service:
        self.api.start()
        self.daemon.start()
        self._thread = threading.Thread(
            target=self.daemon.serve_forever, name="clues-loop", daemon=True
        )
        self._thread.start()
        log.info("cluesd %s started; API on %s", __version__, self.address)
        return self

    def stop(self) -> None:
        self.daemon.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.api.stop()
        self.daemon.close()
        log.info("cluesd stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cluesd", description="clues-py daemon: powers cluster nodes on and off."
    )
    parser.add_argument(
        "-c",
        "--config",
        default=os.environ.get("CLUES_CONFIG", DEFAULT_CONFIG),
        help=f"YAML configuration (default: $CLUES_CONFIG or {DEFAULT_CONFIG})",
    )
    parser.add_argument("--log-level", default=None, help="override daemon.log_level")
    parser.add_argument("--check", action="store_true", help="validate the config and exit")
    parser.add_argument("--version", action="version", version=f"cluesd {__version__}")
    args = parser.parse_args(argv)

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"cluesd: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"cluesd: cannot read configuration {args.config}: {exc.strerror}. "
            "Pass one with -c FILE (an example is in etc/clues.yaml).",
            file=sys.stderr,
        )
        return 2
    if args.check:
        print(f"OK: {args.config}")
        return 0
    setup_logging(args.log_level or cfg.daemon.log_level, cfg.daemon.log_file)

    try:
        service = Service(cfg).start()
    except Exception as exc:
        log.error("cannot start: %s", exc)
        return 1

    stopped = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        log.info("received %s; finishing in-flight actions", signal.Signals(signum).name)
        stopped.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    while not stopped.wait(1.0):
        pass
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
