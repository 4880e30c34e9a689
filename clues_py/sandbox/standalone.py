"""`clues sandbox`: run a sandbox cluster in the foreground until SIGINT/SIGTERM.

Parses `--nodes COUNTxCPUxMEMORY` specs, adds a tainted control-plane node
`master` and workers `node-1`..`node-N`, writes a kubeconfig and prints how to
reach the server. Option parsing is the CLI's job (`clues_py.cli.main`).
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType

from clues_py.model import QuantityError, cpu_millis, to_int
from clues_py.sandbox import Sandbox
from clues_py.sandbox.controllers import podlife
from clues_py.sandbox.controllers.common import CONTROL_PLANE_LABEL

MASTER_TAINT = {"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}


class NodeSpecError(ValueError):
    """A `--nodes` value that is not COUNTxCPUxMEMORY, or another bad `clues sandbox` option."""


def parse_pod_duration(text: str | None) -> float | None:
    """`--default-pod-duration`: how long pods whose command the sandbox cannot read run."""
    if text is None:
        return None
    try:
        return podlife.parse_duration(text, what="--default-pod-duration")
    except podlife.AnnotationError as exc:
        raise NodeSpecError(str(exc)) from None


def parse_node_spec(spec: str) -> tuple[int, str, str]:
    """`"2x4x8Gi"` -> (2, "4", "8Gi"); the error names the bad spec and the expected form."""
    hint = f"--nodes {spec}: expected COUNTxCPUxMEMORY like 2x4x8Gi"
    parts = spec.strip().split("x")
    if len(parts) != 3 or not all(parts):
        raise NodeSpecError(hint)
    count_s, cpu, memory = parts
    try:
        count = int(count_s)
    except ValueError:
        raise NodeSpecError(f"{hint} (COUNT {count_s!r} is not a whole number)") from None
    if count < 0:
        raise NodeSpecError(f"{hint} (COUNT must be >= 0)")
    try:
        if cpu_millis(cpu) <= 0:
            raise NodeSpecError(f"{hint} (CPU {cpu!r} must be > 0)")
    except QuantityError:
        raise NodeSpecError(f"{hint} (CPU {cpu!r} is not a quantity such as 4 or 500m)") from None
    try:
        if to_int(memory) <= 0:
            raise NodeSpecError(f"{hint} (MEMORY {memory!r} must be > 0)")
    except QuantityError:
        raise NodeSpecError(f"{hint} (MEMORY {memory!r} is not a quantity such as 8Gi)") from None
    return count, cpu, memory


def build(sandbox: Sandbox, nodes: list[str]) -> list[str]:
    """Add `master` and the worker nodes to a started sandbox; returns the node names."""
    specs = [parse_node_spec(s) for s in nodes]  # all errors before any node is made
    sandbox.add_node(
        "master",
        cpu="2",
        memory="4Gi",
        labels={CONTROL_PLANE_LABEL: ""},
        taints=[MASTER_TAINT],
    )
    names = ["master"]
    i = 0
    for count, cpu, memory in specs:
        for _ in range(count):
            i += 1
            sandbox.add_node(f"node-{i}", cpu=cpu, memory=memory)
            names.append(f"node-{i}")
    return names


def run_standalone(
    port: int,
    nodes: list[str],
    kubeconfig: str | None,
    snapshot: str | None,
    *,
    stop: threading.Event | None = None,
    default_pod_duration: str | None = None,
    kueue: bool = True,
) -> None:
    """Serve a sandbox on 127.0.0.1:`port` until SIGINT/SIGTERM (or `stop` is set).

    With `snapshot`, the cluster is loaded from that file when it exists and saved
    to it on exit, so a sandbox can be resumed.
    """
    for s in nodes:
        parse_node_spec(s)
    default_pod_seconds = parse_pod_duration(default_pod_duration)
    done = stop or threading.Event()
    sandbox = Sandbox(port=port, default_pod_seconds=default_pod_seconds, kueue=kueue).start()
    try:
        if snapshot and Path(snapshot).exists():
            sandbox.load(snapshot)
            names = sorted(n["metadata"]["name"] for n in sandbox.store.list("nodes")[0])
        else:
            names = build(sandbox, nodes)
        path = kubeconfig or os.path.join(os.getcwd(), "sandbox.kubeconfig")
        sandbox.write_kubeconfig(path)
        print(f"clues sandbox: Kubernetes API at {sandbox.url} with nodes {', '.join(names)}")
        print(f"  kubeconfig: {path}")
        print(f"  try: KUBECONFIG={path} kubectl get nodes")
        print("  power hooks: POST/DELETE " + sandbox.url + "/sandbox/v1/machines  (Ctrl-C stops)")

        def on_signal(signum: int, frame: FrameType | None) -> None:
            done.set()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, on_signal)
            signal.signal(signal.SIGTERM, on_signal)
        done.wait()
    finally:
        if snapshot:
            sandbox.save(snapshot)
        sandbox.stop()
