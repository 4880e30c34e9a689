"""`clues demo`: an OSCAR-shaped burst on an embedded sandbox cluster, watched live.

Starts the sandbox API server (with a master node and a node-exporter
DaemonSet), cluesd with the `sim` power manager and N managed nodes that are
all off, then submits image-upload Jobs through the official Kubernetes client,
as OSCAR would. It shows `clues status` live and ends with the run's metrics.
All durations of the scenario are divided by `speed`. Every view of the demo uses one
clock, the wall clock: the live view's `t=`, `clues status` (time in state), `clues
history`, kubectl's AGE and the summary (`--json` adds `speed`: multiply by it to compare
with `clues sim` on the same workload). While it runs, the API address is published for
this user's other `clues` commands (runtime.py), so `clues status --watch` just works.

`--kueue` runs OSCAR as OSCAR runs it with Kueue (`pkg/utils/kueue.go`, `pkg/handlers/
job.go`): a ResourceFlavor, a ClusterQueue whose quota is the managed nodes' total, a
LocalQueue per service, and Jobs with a UUID name, created suspended with the queue label
and cpu/memory as limits only; the sandbox's mini-Kueue admits them. `--provisioning` adds
Kueue's provisioning admission check, so Kueue asks clues-py for the nodes first.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from clues_py.cli import demo_kueue
from clues_py.cli.runtime import publish, withdraw
from clues_py.outcome import JobTiming, summarize

NAMESPACE = "oscar-svc"
SERVICE = "posenet"
# Scenario seconds, before the speed-up.
ARRIVAL_WINDOW = 60.0
JOB_SECONDS = 120.0
BOOT_SECONDS = 60.0
SHUTDOWN_SECONDS = 30.0
IDLE_TIME = 60.0


@dataclass
class _JobBook:
    """Per-job timings seen from the sandbox's own event stream (exact, no polling)."""

    submit: dict[str, float] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)
    run_seconds: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_event(self, etype: str, resource: str, obj: dict[str, Any]) -> None:
        now = time.monotonic()
        labels = obj.get("metadata", {}).get("labels") or {}
        if resource == "pods" and labels.get("job-name"):
            if obj.get("status", {}).get("phase") in ("Running", "Succeeded"):
                with self.lock:
                    self.started.setdefault(labels["job-name"], now)
        elif resource == "jobs" and obj.get("metadata", {}).get("namespace") == NAMESPACE:
            conds = obj.get("status", {}).get("conditions") or []
            if any(c.get("type") == "Complete" and c.get("status") == "True" for c in conds):
                with self.lock:
                    self.finished.setdefault(obj["metadata"]["name"], now)


def demo_config(
    *, sandbox_url: str, kubeconfig: str, state_db: str, nodes: int, speed: float
) -> dict[str, Any]:
    """The cluesd configuration of the demo, with every duration compressed by `speed`."""
    width = max(2, len(str(nodes)))
    return {
        "cluster_name": "demo",
        "idle_time": IDLE_TIME / speed,
        "max_booting": nodes,
        "pending_grace": 2.0 / speed,
        "boot_timeout": 10 * BOOT_SECONDS / speed,
        "drain_timeout": max(1.0, 60.0 / speed),
        "shutdown_timeout": 10 * SHUTDOWN_SECONDS / speed,
        "retry_backoff": 30.0 / speed,
        "daemon": {
            "state_db": state_db,
            # A private socket next to the state: TCP would need a token file.
            "listen": f"unix:{Path(state_db).parent / 'cluesd.sock'}",
            "tick": max(0.1, 5.0 / speed),
            "workers": 8,
            "log_level": "WARNING",
            "metrics_listen": None,
        },
        "backend": {"kind": "kubernetes", "kubeconfig": kubeconfig, "pending_grace": 2.0 / speed},
        "power": {"sim": {"kind": "sim", "url": sandbox_url}},
        "templates": [
            {
                "name": "wn",
                "power": "sim",
                "nodes": f"wn-[{1:0{width}d}-{nodes:0{width}d}]",
                "cpu": 4,
                "memory": "8Gi",
                "pods": 110,
                "watts_idle": 120,
                "watts_busy": 250,
                "boot_seconds": BOOT_SECONDS / speed,
                "shutdown_seconds": SHUTDOWN_SECONDS / speed,
            }
        ],
    }


def _job_manifest(name: str, kueue: bool = False) -> dict[str, Any]:
    """An OSCAR asynchronous invocation: the service image run by OSCAR's watchdog binary.

    The sandbox cannot know how long `fwatchdog` runs the user's script: the demo's
    sandbox gives such commands a default duration (JOB_SECONDS, sped up). With `kueue`,
    OSCAR's Kueue shape (`demo_kueue.queued`).
    """
    res = {"cpu": "1", "memory": "2Gi"}
    labels = {"oscar_service": SERVICE}
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": dict(labels)},
        "spec": {
            "backoffLimit": 3,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "oscar-container",
                            "image": "ghcr.io/grycap/posenet:latest",
                            "command": ["/oscar/bin/fwatchdog"],
                            "env": [{"name": "EVENT", "value": f'{{"key": "{name}.jpg"}}'}],
                            "volumeMounts": [
                                {"name": "oscar-config", "mountPath": "/oscar/config"}
                            ],
                            "resources": {"limits": res, "requests": res},
                        }
                    ],
                    "volumes": [{"name": "oscar-config", "configMap": {"name": SERVICE}}],
                },
            },
        },
    }
    return demo_kueue.queued(job, SERVICE) if kueue else job


def _service_config() -> dict[str, Any]:
    """The ConfigMap OSCAR keeps per service (its pods mount it; without it they cannot start)."""
    return {
        "metadata": {"name": SERVICE, "namespace": NAMESPACE},
        "data": {"script.sh": '#!/bin/sh\npython3 /opt/posenet/run.py "$INPUT_FILE_PATH"\n'},
    }


def _submit_jobs(
    kubeconfig: str,
    arrivals: list[tuple[float, str, float]],
    book: _JobBook,
    t0: float,
    kueue: bool = False,
) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kubeconfig)
    batch = client.BatchV1Api(api_client)
    for at, name, duration in arrivals:
        delay = t0 + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        with book.lock:
            book.submit[name] = time.monotonic()
            book.run_seconds[name] = duration
        batch.create_namespaced_job(NAMESPACE, _job_manifest(name, kueue))
    api_client.close()


def _node_exporter() -> dict[str, Any]:
    """A DaemonSet like every real cluster has: its pods must not keep nodes on."""
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "node-exporter", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"app": "node-exporter"}},
            "template": {
                "metadata": {"labels": {"app": "node-exporter"}},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [
                        {
                            "name": "node-exporter",
                            "image": "prom/node-exporter",
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                        }
                    ],
                },
            },
        },
    }


def run_demo(
    speed: float = 4.0,
    json_out: bool = False,
    jobs: int = 100,
    nodes: int = 10,
    live: bool = True,
    seed: int = 1,
    timeout: float | None = None,
    kueue: bool = False,
    provisioning: bool = False,
) -> int:
    """Run the demo; returns the exit code (0 when every job succeeded and every node is off)."""
    from clues_py.api.client import ApiClient
    from clues_py.cli.render import render_status
    from clues_py.config.load import config_from_dict
    from clues_py.daemon.service import Service, setup_logging
    from clues_py.sandbox import Sandbox

    if speed <= 0 or jobs < 1 or nodes < 1:
        print("clues demo: --speed, --jobs and --nodes must be positive", file=sys.stderr)
        return 2
    setup_logging("WARNING")
    rng = random.Random(seed)
    kueue = kueue or provisioning
    # Every job runs for the sandbox's default duration: what OSCAR's fwatchdog gets. With
    # Kueue the names are OSCAR's: the service and a UUID (seeded, so runs repeat).
    arrivals = sorted(
        (
            rng.uniform(0, ARRIVAL_WINDOW) / speed,
            demo_kueue.job_name(SERVICE, rng) if kueue else f"{SERVICE}-{i:03d}",
            JOB_SECONDS / speed,
        )
        for i in range(jobs)
    )
    expected = (
        ARRIVAL_WINDOW
        + BOOT_SECONDS
        + JOB_SECONDS * (1 + jobs / (4 * nodes))
        + IDLE_TIME
        + SHUTDOWN_SECONDS
    )
    deadline_s = timeout if timeout is not None else max(60.0, 3 * expected / speed)

    minutes = expected / speed / 60

    with tempfile.TemporaryDirectory(prefix="clues-demo-") as tmp:
        sandbox = Sandbox(port=0, default_pod_seconds=JOB_SECONDS / speed).start()
        service = None
        try:
            sandbox.add_node(
                "master",
                cpu="2",
                memory="4Gi",
                labels={"node-role.kubernetes.io/control-plane": ""},
                taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
            )
            sandbox.ensure_namespace(NAMESPACE)
            sandbox.store.create("configmaps", _service_config(), NAMESPACE)
            sandbox.store.create("daemonsets", _node_exporter(), "kube-system")
            if kueue:
                demo_kueue.create_queues(sandbox, NAMESPACE, SERVICE, nodes, provisioning)
            kubeconfig = sandbox.write_kubeconfig(str(Path(tmp) / "kubeconfig"))
            cfg = config_from_dict(
                demo_config(
                    sandbox_url=sandbox.url,
                    kubeconfig=kubeconfig,
                    state_db=str(Path(tmp) / "clues.db"),
                    nodes=nodes,
                    speed=speed,
                ),
                source="<clues demo>",
            )
            book = _JobBook()
            sandbox.store.subscribe(book.on_event)
            service = Service(cfg).start()
            api = ApiClient(service.address)
            t0 = time.monotonic()
            submitter = threading.Thread(
                target=_submit_jobs, args=(kubeconfig, arrivals, book, t0, kueue), daemon=True
            )
            submitter.start()
            published = publish(service.address)
            _print_header(
                jobs, nodes, speed, minutes, service.address, published, sandbox.url, kubeconfig,
                sys.stderr if json_out else sys.stdout,
            )  # fmt: skip
            if kueue:
                demo_kueue.announce(NAMESPACE, SERVICE, provisioning, json_out)
            ok = _watch_until_done(
                api, book, jobs, t0, deadline_s, json_out, live, render_status, speed
            )
            end = time.monotonic()
            status = api.status()
            metrics = _metrics(service, book, cfg, t0, end, speed)
            metrics["nodes_on_at_end"] = sum(1 for n in status["nodes"] if n["state"] != "off")
            metrics["speed"] = speed
            metrics["mode"] = (
                "kueue+provisioning" if provisioning else "kueue" if kueue else "plain"
            )
        finally:
            if service is not None:
                withdraw(service.address)
                service.stop()
            sandbox.stop()
    if json_out:
        print(json.dumps(metrics))
    else:
        _print_summary(metrics, ok)
    return 0 if ok and metrics["jobs_completed"] == jobs and metrics["nodes_on_at_end"] == 0 else 1


def _watch_until_done(
    api: Any,
    book: _JobBook,
    jobs: int,
    t0: float,
    deadline_s: float,
    quiet: bool,
    live: bool,
    render: Any,
    speed: float,
) -> bool:
    """Show the live status until every job is done and every managed node is off again."""
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    console = Console()
    use_live = live and not quiet and console.is_terminal
    last_line = 0.0

    def frame() -> tuple[bool, str]:
        status = api.status()
        with book.lock:
            done, submitted, started = len(book.finished), len(book.submit), len(book.started)
        all_off = all(n["state"] == "off" for n in status["nodes"])
        header = (
            f"t={time.monotonic() - t0:5.0f}s  jobs: {submitted}/{jobs} submitted, "
            f"{started} started, {done} completed"
        )
        return done >= jobs and all_off, header + "\n" + render(status, color=False)

    if use_live:
        with Live(console=console, refresh_per_second=4, transient=False) as view:
            while time.monotonic() - t0 < deadline_s:
                finished, text = frame()
                view.update(Text(text))
                if finished:
                    return True
                time.sleep(0.25)
        return False
    while time.monotonic() - t0 < deadline_s:
        finished, text = frame()
        if finished:
            return True
        if not quiet and time.monotonic() - last_line >= max(1.0, 10.0 / speed):
            last_line = time.monotonic()
            print(text.splitlines()[0] + "  |  " + text.splitlines()[-1], flush=True)
        time.sleep(0.1)
    return False


def _metrics(
    service: Any, book: _JobBook, cfg: Any, t0: float, end: float, speed: float
) -> dict[str, Any]:
    store = service.daemon.store
    rows = store.transitions(limit=1_000_000)
    wall = time.time() - time.monotonic()  # store times are wall clock; book times monotonic
    transitions = [dict(r, at=float(r["at"]) - wall) for r in rows]
    actions = store.actions(limit=1_000_000)
    node_template = {n: t.name for t in cfg.templates for n in t.node_names}
    with book.lock:
        timings = [
            JobTiming(
                submit=book.submit[name],
                started=book.started.get(name),
                finished=book.finished.get(name),
                core_seconds=book.run_seconds[name],
            )
            for name in book.submit
        ]
    return summarize(
        name="demo",
        transitions=transitions,
        power_on_actions=sum(1 for a in actions if a["kind"] == "power_on" and a["status"] == "ok"),
        power_off_actions=sum(
            1 for a in actions if a["kind"] == "power_off" and a["status"] == "ok"
        ),
        jobs=timings,
        templates={t.name: t for t in cfg.templates},
        node_template=node_template,
        start=t0,
        end=end,
        scale=1.0,  # wall-clock seconds, like every other view of the demo
    )


def _print_summary(m: dict[str, Any], ok: bool) -> None:
    w = m["wait_seconds"]
    verdict = "OK" if ok else "DID NOT FINISH"
    print(
        f"\nclues demo {verdict}: {m['jobs_completed']}/{m['jobs']} jobs completed, "
        f"{m['nodes_on_at_end']} managed nodes on at the end\n"
        f"  node-seconds powered {m['node_seconds_powered']:.0f} (ready {m['node_seconds_ready']:.0f}; "
        f"offline lower bound {m['lower_bound_node_seconds']:.0f})\n"
        f"  power-on actions {m['power_on_actions']}, power-off actions {m['power_off_actions']}, "
        f"failed boots {m['failed_boots']}\n"
        f"  job wait mean {w['mean']:.1f}s p50 {w['p50']:.1f}s p95 {w['p95']:.1f}s max {w['max']:.1f}s; "
        f"makespan {m['makespan_seconds']:.0f}s; energy {m['energy_kwh']:.3f} kWh\n"
        f"  (wall-clock seconds; the scenario ran x{m['speed']:g} faster than real time)"
    )


def _print_header(
    jobs: int,
    nodes: int,
    speed: float,
    minutes: float,
    address: str,
    published: Path | None,
    sandbox_url: str,
    kubeconfig: str,
    out: TextIO,
) -> None:
    took = f"{minutes:.1f} min" if minutes >= 2 else f"{minutes * 60:.0f} s"
    watch = "clues status --watch" if published else f"CLUES_ADDRESS={address} clues status --watch"
    where = f"published in {published}" if published else "could not publish it for other commands"
    print(
        f"clues demo: {jobs} jobs onto {nodes} nodes at speed x{speed:g}, about {took}."
        f" Times shown are wall-clock seconds (a {JOB_SECONDS / 60:g} min job takes"
        f" {JOB_SECONDS / speed:.0f} s).\n"
        f"  watch it from another terminal: {watch}   (also: clues nodes, clues history)\n"
        f"  cluesd API: {address} ({where})\n"
        f"  sandbox API: {sandbox_url}   kubectl --kubeconfig {kubeconfig} get nodes,pods -A\n",
        file=out,
        flush=True,
    )
