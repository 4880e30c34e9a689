"""`cluesd` process: config, logging, signals, the HTTP API and the daemon loop.

Everything that makes the daemon a well-behaved Unix service lives here, so
`daemon.py` stays about planning and acting. The config goes through `preflight` first,
the same checks as `clues config check`. Exit codes: 0 clean stop, 2 bad configuration
(found by preflight or at start-up; systemd does not restart it), 1 anything else that
prevents start-up.
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
from typing import TYPE_CHECKING, Any

from clues_py import __version__
from clues_py.config.load import LOG_LEVELS, Config, ConfigError
from clues_py.daemon.heap import HeapSettler, StartupHeap
from clues_py.daemon.preflight import EXIT_CONFIG, check_file
from clues_py.redact import SCRUBBER, config_secrets

if TYPE_CHECKING:
    from clues_py.metrics import DaemonMetrics, MetricsServer

log = logging.getLogger("clues.service")

DEFAULT_CONFIG = "/etc/clues/clues.yaml"
# Seconds start-up waits for the first pass before serving the API anyway (decision 0028).
WEB_START_LIMIT = 20.0


class _UTCFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{t}.{int(record.msecs):03d}Z"


def setup_logging(level: str = "INFO", log_file: str | None = None) -> None:
    """One readable line per event: time, level, component, message."""
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(_UTCFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    # Secret values from the config never reach a log line (filled in by Service).
    handler.addFilter(SCRUBBER)
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
        # Only what binding and the initial sync need is imported here; start() imports the
        # metrics stack before the loop starts and the web stack after the first pass
        # (decisions 0023, 0028).
        from clues_py.api.server import ApiServer
        from clues_py.daemon.daemon import Daemon

        self.cfg = cfg
        SCRUBBER.add(config_secrets(cfg))  # before any plugin can log
        self.daemon = Daemon(cfg, **daemon_kwargs)  # type: ignore[arg-type]
        self.api = ApiServer(
            self.daemon.control, cfg.daemon.listen, token_file=cfg.daemon.token_file
        )
        self.metrics: DaemonMetrics | None = None
        self.metrics_server: MetricsServer | None = None
        self._thread: threading.Thread | None = None
        self.elector, self.recorder = _kubernetes_extras(self.daemon, cfg)
        from clues_py.daemon.hooks import Hooks

        self.hooks = Hooks(
            cfg.hooks, cluster=cfg.cluster_name, store=self.daemon.store, now=self.daemon.clock.now
        )
        self.hooks.attach(self.daemon.bus)
        self.daemon.actuator.pre_hook = self.hooks.pre

    @property
    def address(self) -> str:
        return str(self.api.address)

    @property
    def metrics_address(self) -> str | None:
        return self.metrics_server.address if self.metrics_server else None

    def start(self) -> Service:
        """Bind the API socket, sync and plan, then import and serve the API.

        The order is decision 0028's (it refines 0023): the socket is bound first (a taken
        address still fails start-up at once; clients that connect early wait in its backlog,
        they are not refused), then the backend lists the cluster and the loop makes its
        first pass; only then are FastAPI and uvicorn imported and the app built. That work
        holds the GIL for seconds, and overlapping it with the list only delayed the first
        pass, which is what a restart is waiting for. If the first pass has not come within
        `WEB_START_LIMIT` (a cluster that cannot be listed), the API starts anyway so that
        `clues status` can say why. The metrics are attached before the loop starts, so they
        see every pass."""
        self.api.bind()
        try:
            self.daemon.start()
            self._start_metrics()
            if self.elector is not None:
                self.elector.start()
            if self.recorder is not None:
                self.recorder.start()
            self._thread = threading.Thread(
                target=self.daemon.serve_forever, name="clues-loop", daemon=True
            )
            self._thread.start()
            self.daemon.pass_log.first_pass.wait(WEB_START_LIMIT)
            self.api.start()
        except BaseException:
            self.stop()
            raise
        log.info(
            "cluesd %s started; API on %s; metrics on %s",
            __version__,
            self.address,
            self.metrics_address or "(disabled)",
        )
        return self

    def _start_metrics(self) -> None:
        from clues_py.metrics import DaemonMetrics, MetricsServer

        self.metrics = DaemonMetrics(self.daemon, self.daemon.clock.now)
        listen = self.cfg.daemon.metrics_listen
        if not listen:
            return
        server = MetricsServer(self.metrics, listen)
        try:
            self.metrics_server = server.start()
        except OSError as exc:
            # Planning and powering matter more than /metrics; the `up` alert reports it.
            log.error(
                "cannot serve /metrics on %s: %s; running without metrics "
                "(set daemon.metrics_listen to a free HOST:PORT, or null)",
                server.address,
                exc.strerror or exc,
            )

    def reload(self, path: str) -> bool:
        """SIGHUP: re-read `path` and apply what can change at runtime; keep the old on error."""
        try:
            # The start-up checks but constructing providers (they need a restart anyway).
            cfg = check_file(path, build=False).cfg
            restart = self.daemon.reload(cfg)
        except ConfigError as exc:
            log.error("reload: invalid configuration, keeping the running one:\n%s", exc)
            return False
        if cfg.daemon.log_level != self.cfg.daemon.log_level:
            setup_logging(cfg.daemon.log_level, self.cfg.daemon.log_file)
        self.cfg = self.daemon.cfg
        if restart:
            log.warning("reload: changes to %s take effect after a restart", ", ".join(restart))
        return True

    def stop(self) -> None:
        self.daemon.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.api.stop()
        if self.metrics_server is not None:
            self.metrics_server.stop()
        if self.metrics is not None:
            self.metrics.close()
        self.hooks.close()
        self.daemon.close()
        if self.recorder is not None:
            self.recorder.stop()
        if self.elector is not None:
            # After in-flight actions finished: the standby takes over at once.
            self.elector.stop(release=True)
        log.info("cluesd stopped")


def _kubernetes_extras(daemon: Any, cfg: Config) -> tuple[Any, Any]:
    """Leader elector (if enabled) and event recorder, for the kubernetes backend only."""
    from plugins.backends.kubernetes import KubernetesBackend

    if not isinstance(daemon.backend, KubernetesBackend):
        if cfg.leader_election.enabled:
            raise ValueError("leader_election needs the kubernetes backend (it uses a Lease)")
        return None, None
    from plugins.backends import k8s_events, k8s_lease

    le = cfg.leader_election
    elector = None
    if le.enabled:
        settings = k8s_lease.LeaseSettings(
            le.lease_name,
            le.namespace,
            le.lease_duration,
            le.renew_deadline,
            le.retry_period,
            le.identity or "",
        )
        elector = k8s_lease.LeaseElector(
            k8s_lease.api_client_for(daemon.backend),
            settings,
            on_change=lambda _leader: daemon.wake(),
        )
        daemon.is_leader = elector.is_leader
    recorder = k8s_events.EventRecorder(
        k8s_lease.api_client_for(daemon.backend),
        namespace=daemon.backend.config.namespace,
        is_leader=daemon.is_leader,
    )
    daemon.bus.subscribe(recorder.on_event)
    return elector, recorder


def main(argv: Sequence[str] | None = None) -> int:
    # Until the first pass: no cyclic collections over the growing cluster cache (decision
    # 0023); whatever way main() ends, the collector is back.
    heap = StartupHeap()
    try:
        return _main(argv, heap)
    finally:
        heap.restore()


def _main(argv: Sequence[str] | None, heap: StartupHeap) -> int:
    parser = argparse.ArgumentParser(
        prog="cluesd", description="clues-py daemon: powers cluster nodes on and off."
    )
    parser.add_argument(
        "-c",
        "--config",
        default=os.environ.get("CLUES_CONFIG", DEFAULT_CONFIG),
        help=f"YAML configuration (default: $CLUES_CONFIG or {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        type=str.upper,
        choices=LOG_LEVELS,
        help="override daemon.log_level",
    )
    parser.add_argument("--check", action="store_true", help="validate the config and exit")
    parser.add_argument("--version", action="version", version=f"cluesd {__version__}")
    args = parser.parse_args(argv)

    # The same checks as `clues config check`: a config that passes here starts.
    try:
        checked = check_file(args.config)
    except ConfigError as exc:
        print(f"cluesd: invalid configuration:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        checked.close()
        print(f"OK: {args.config}")
        return 0
    cfg = checked.cfg
    try:
        setup_logging(args.log_level or cfg.daemon.log_level, cfg.daemon.log_file)
    except OSError as exc:  # the log file went away since the check
        checked.close()
        print(f"cluesd: {cfg.issue('daemon.log_file', str(exc))}", file=sys.stderr)
        return EXIT_CONFIG

    # Handlers only set flags: taking a lock (Event.set, logging) inside a handler can
    # deadlock against the interrupted main thread.
    flags = {"stop": 0, "reload": False}

    def on_term(signum: int, frame: FrameType | None) -> None:
        flags["stop"] = signum

    def on_hup(signum: int, frame: FrameType | None) -> None:
        flags["reload"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, on_hup)
    try:
        service = Service(cfg, backend=checked.backend, power=checked.power)
        HeapSettler().attach(service.daemon.bus)  # process-wide, so cluesd's own policy
        service.start()
    except ConfigError as exc:
        log.error("cannot start: invalid configuration:\n%s", exc)
        return EXIT_CONFIG
    except Exception as exc:
        log.error("cannot start: %s", exc)
        return 1

    while not flags["stop"]:
        time.sleep(0.1)
        if not heap.settled:
            heap.settle(service.daemon.pass_log.first_pass_at is not None)
        if flags["reload"]:
            flags["reload"] = False
            log.info("received SIGHUP; reloading %s", args.config)
            service.reload(args.config)
    log.info("received %s; finishing in-flight actions", signal.Signals(flags["stop"]).name)
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
