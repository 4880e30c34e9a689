"""The benches' join agent, as its own process: plays the kubelets of cloud VMs (bench/stack.py).

What user data (`kubeadm join`) does on a real instance: once moto reports an instance of
the cluster running, the sandbox machine of its tagged node name boots (its Node registers
after --boot-seconds); once no live instance is left for a name, its machine shuts down
(the Node goes away). It runs apart from cluesd and the sandbox so that killing cluesd
never touches it, and it records, at every poll, how many live instances each node name
has: `--stats FILE` gets {"max_live": {node: n}, "polls": n, "errors": [...]}, rewritten
atomically whenever it changes. Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

TAG_CLUSTER, TAG_NODE = "clues-py.io/cluster", "clues-py.io/node"
EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15"


def ec2_driver(port: int) -> Any:
    import libcloud.compute.drivers.ec2 as ec2
    from libcloud.compute.providers import get_driver

    ec2.NAMESPACE = EC2_NAMESPACE  # moto answers with this namespace
    return get_driver("ec2")(
        "agent", "agent", region="us-east-1", host="127.0.0.1", port=port, secure=False,
        signature_version="4",
    )  # fmt: skip


def machines(url: str, method: str = "GET", path: str = "", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{url}/sandbox/v1/machines{path}", data=data, method=method,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        if exc.code == 409:  # still stopping from the previous instance: next poll
            return None
        raise


class Agent:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.driver = ec2_driver(args.moto_port)
        self.max_live: dict[str, int] = {}
        self.joined: set[str] = set()
        self.errors: list[str] = []
        self.polls = 0
        self._written = ""

    def step(self) -> None:
        live: dict[str, int] = {}
        running: set[str] = set()
        nodes = self.driver.list_nodes(ex_filters={f"tag:{TAG_CLUSTER}": self.args.cluster})
        for inst in nodes:
            name = (inst.extra.get("tags") or {}).get(TAG_NODE, "")
            if str(inst.state) in ("pending", "running"):
                live[name] = live.get(name, 0) + 1
            if str(inst.state) == "running" and name:
                running.add(name)
        for name, count in live.items():
            self.max_live[name] = max(self.max_live.get(name, 0), count)
        states = {m["name"]: m["state"] for m in machines(self.args.sandbox)["items"]}
        for name in sorted(running):
            if states.get(name) not in ("on", "booting"):
                body = {"name": name, "cpu": "4", "memory": "8Gi",
                        "boot_seconds": self.args.boot_seconds}  # fmt: skip
                machines(self.args.sandbox, "POST", "", body)
                self.joined.add(name)
        for name, state in states.items():
            if name in self.joined and name not in live and state in ("on", "booting"):
                machines(self.args.sandbox, "DELETE", f"/{name}?shutdown_seconds=0")
        self.polls += 1

    def write_stats(self) -> None:
        text = json.dumps({"max_live": self.max_live, "errors": self.errors[-20:]})
        if text == self._written:
            return
        path = Path(self.args.stats)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        self._written = text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moto-port", type=int, required=True)
    parser.add_argument("--sandbox", required=True, help="sandbox API URL")
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--stats", required=True)
    parser.add_argument("--boot-seconds", type=float, default=0.3)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args()
    stop = {"now": False}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent = Agent(args)
    while not stop["now"]:
        try:
            agent.step()
        except Exception as exc:  # a server busy for a moment must not stop the agent
            agent.errors.append(f"{type(exc).__name__}: {exc}")
        agent.write_stats()
        time.sleep(args.interval)
    agent.write_stats()
    return 0


if __name__ == "__main__":
    sys.exit(main())
