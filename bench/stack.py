"""The process stack of the chaos and outage benches: moto, the sandbox, a join agent, cluesd.

Each part runs as its own process on 127.0.0.1 so that any one can be killed or restarted
without touching the others: moto (EC2, driven through libcloud), the sandbox API server
(`clues sandbox`, restartable empty on the same port), the join agent
(`bench/join_agent.py`, which plays the VMs' kubelets and counts live instances per node
name) and cluesd (restarted on the same state DB). This module starts, stops and observes
them; what to do with them is `chaos.py`'s and `outage.py`'s business.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

HERE = Path(__file__).resolve().parent
KEY_ENV, SECRET_ENV = "CLUES_BENCH_EC2_KEY", "CLUES_BENCH_EC2_SECRET"
EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_work_dir(keep: str | None, prefix: str, run: Callable[[Path], T]) -> T:
    """`run(directory)` in `keep` (left for a post-mortem) or in a temporary directory."""
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return run(Path(keep))
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        return run(Path(tmp))


def wait(pred: Callable[[], Any], timeout: float, interval: float = 0.05) -> bool:
    """Poll `pred` until it is truthy (True) or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except Exception:  # a server still starting, a DB not created yet
            pass
        time.sleep(interval)
    return False


class Stack:
    def __init__(self, work: Path, cluster: str, nodes: int = 5) -> None:
        self.work, self.cluster, self.nodes = work, cluster, nodes
        self.env = {**os.environ, KEY_ENV: "AKIDBENCH", SECRET_ENV: "bench-secret"}
        self.env.pop("CLUES_TEST_CRASH_AT", None)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.cluesd: subprocess.Popen[bytes] | None = None
        self.sandbox: subprocess.Popen[bytes] | None = None
        self.db = work / "clues.db"
        self.log = work / "cluesd.log"
        self.kubeconfig = work / "kubeconfig"
        self.stats = work / "agent.json"
        self.phases: dict[str, set[str]] = {}  # pod -> every phase seen
        self._stopping = False

    def _spawn(self, argv: list[str], name: str, env: dict[str, str] | None = None) -> Any:
        # moto logs every request on stderr, and its tracebacks are not ours to count.
        err: Any = subprocess.DEVNULL
        if name != "moto":
            err = open(self.work / f"{name}.stderr", "ab")  # noqa: SIM115 - the process owns it
        proc = subprocess.Popen(argv, env=env or self.env, stdout=subprocess.DEVNULL, stderr=err)
        self.procs.append(proc)
        return proc

    def start(self, **config: Any) -> None:
        """Start moto, the sandbox and the agent; write cluesd's config (`config` overrides)."""
        sys.path.insert(0, str(HERE))
        from join_agent import ec2_driver
        from kubernetes import client
        from kubernetes import config as kube_config

        self.moto_port, self.sandbox_port = free_port(), free_port()
        self._spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                     str(self.moto_port)], "moto")  # fmt: skip
        self.start_sandbox()
        self.ec2 = ec2_driver(self.moto_port)
        assert wait(lambda: self.ec2.list_nodes() is not None, 60), "moto did not start"
        images = self.ec2.list_images(ex_filters={"name": "amzn2-ami-hvm-*x86_64-gp2"})
        self.image = images[0].id
        self._spawn([sys.executable, str(HERE / "join_agent.py"), "--moto-port",
                     str(self.moto_port), "--sandbox", self.sandbox_url, "--cluster",
                     self.cluster, "--stats", str(self.stats)], "agent")  # fmt: skip
        self.core = client.CoreV1Api(kube_config.new_client_from_config(str(self.kubeconfig)))
        self._watch_pods()
        self.write_config(**config)

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def start_sandbox(self) -> None:
        """A sandbox with an empty store on the same port (also after `kill_sandbox`)."""
        self.kubeconfig.unlink(missing_ok=True)
        self.sandbox = self._spawn([sys.executable, "-m", "clues_py.cli.main", "sandbox",
                                    "--port", str(self.sandbox_port), "--kubeconfig",
                                    str(self.kubeconfig)], "sandbox")  # fmt: skip
        up = lambda: urllib.request.urlopen(f"{self.sandbox_url}/version", timeout=2)  # noqa: E731
        assert wait(lambda: self.kubeconfig.exists() and up(), 60), "the sandbox did not start"

    def kill_sandbox(self) -> None:
        """The API server goes away at once (SIGKILL: no graceful end of the watches)."""
        assert self.sandbox is not None
        self.sandbox.kill()
        self.sandbox.wait(timeout=30)

    def write_config(self, **overrides: Any) -> None:
        sock = Path(tempfile.mkdtemp(prefix="clues-bench-")) / "cluesd.sock"
        cfg: dict[str, Any] = {
            "cluster_name": self.cluster,
            "idle_time": 1.0, "pending_grace": 0.5, "boot_timeout": 60, "drain_timeout": 10,
            "shutdown_timeout": 30, "retry_backoff": 1.0, "retry_backoff_max": 5.0,
            "reconcile_interval": 5.0,
            "daemon": {"state_db": str(self.db), "listen": f"unix:{sock}", "tick": 0.2,
                       "metrics_listen": None, "log_file": str(self.log)},
            "backend": {"kind": "kubernetes", "kubeconfig": str(self.kubeconfig)},
            "power": {"cloud": {
                "kind": "libcloud", "driver": "ec2", "image": self.image, "size": "t2.micro",
                "key_env": KEY_ENV, "secret_env": SECRET_ENV, "region": "us-east-1",
                "host": "127.0.0.1", "port": self.moto_port, "secure": False,
                "signature_version": "4", "ec2_namespace": EC2_NAMESPACE}},
            "templates": [{"name": "wn", "power": "cloud", "nodes": f"wn-[1-{self.nodes}]",
                           "cpu": 4, "memory": "8Gi", "boot_seconds": 0.3,
                           "shutdown_seconds": 0.2}],
        }  # fmt: skip
        for key, value in overrides.items():
            if isinstance(value, dict):
                cfg[key] = {**cfg.get(key, {}), **value}
            else:
                cfg[key] = value
        self.config = self.work / "clues.yaml"
        self.config.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def start_cluesd(self, crash_at: str = "") -> None:
        """cluesd on the same state DB; `crash_at` arms the test-only fault point."""
        env = dict(self.env)
        if crash_at:
            env["CLUES_TEST_CRASH_AT"] = crash_at
        argv = [sys.executable, "-m", "clues_py.daemon.service", "-c", str(self.config)]
        self.cluesd = self._spawn(argv, "cluesd", env)

    def kill_cluesd(self) -> None:
        if self.cluesd is not None and self.cluesd.poll() is None:
            self.cluesd.send_signal(signal.SIGKILL)
        if self.cluesd is not None:
            self.cluesd.wait(timeout=30)

    def stop(self) -> None:
        self._stopping = True
        self.kill_cluesd()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    # ------------------------------------------------------------------ observations

    def store(self) -> dict[str, tuple[str, str]]:
        """node -> (state, provider id), read-only while cluesd may write (WAL)."""
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            rows = con.execute("SELECT name, state, provider_id FROM nodes")
            return {r[0]: (r[1], r[2]) for r in rows}
        finally:
            con.close()

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            return list(con.execute(sql, args))
        finally:
            con.close()

    def live(self) -> dict[str, list[str]]:
        """node name -> ids of its pending/running instances."""
        out: dict[str, list[str]] = {}
        for n in self.ec2.list_nodes(ex_filters={"tag:clues-py.io/cluster": self.cluster}):
            if str(n.state) in ("pending", "running"):
                out.setdefault(n.extra["tags"].get("clues-py.io/node", ""), []).append(n.id)
        return out

    def agent_stats(self) -> dict[str, Any]:
        if not self.stats.exists():
            return {"max_live": {}, "errors": []}
        return dict(json.loads(self.stats.read_text()))

    def _watch_pods(self) -> None:
        """Record every pod's phases from a watch: pods of a deleted Node are garbage
        collected, so a list at the end cannot tell whether they ran."""
        from kubernetes import watch

        def loop() -> None:
            while not self._stopping:
                try:
                    stream = watch.Watch().stream(
                        self.core.list_namespaced_pod, "default", timeout_seconds=30
                    )
                    for ev in stream:
                        pod = ev["object"]
                        self.phases.setdefault(pod.metadata.name, set()).add(pod.status.phase)
                except Exception:  # the watch ended or broke (the sandbox restarted): again
                    time.sleep(0.2)

        threading.Thread(target=loop, name="pod-watch", daemon=True).start()

    def ran(self, names: set[str] | None = None) -> int:
        """How many pods (of `names`) were seen Succeeded."""
        phases = dict(self.phases)
        return sum(
            1 for n, ph in phases.items() if "Succeeded" in ph and (names is None or n in names)
        )

    def running(self, names: set[str]) -> bool:
        phases = dict(self.phases)
        return all(phases.get(n, set()) & {"Running", "Succeeded"} for n in names)

    def submit(self, name: str, seconds: int | None, cpu: str = "3") -> None:
        """A pod of `cpu` of a node's 4 that runs `seconds` (None: until deleted)."""
        annotations = {"sandbox.clues-py.io/duration": f"{seconds}s"} if seconds else {}
        self.core.create_namespaced_pod("default", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"restartPolicy": "Never", "containers": [{
                "name": "c", "image": "busybox",
                "resources": {"requests": {"cpu": cpu, "memory": "2Gi"}}}]},
        })  # fmt: skip
