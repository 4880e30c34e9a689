"""Leader election on a coordination.k8s.io/v1 Lease served by the sandbox.

First two `LeaseElector`s driven step by step with injected clocks (no sleeps): who wins, who
waits, takeover after expiry, 409 on a stale resourceVersion, release. Then two real `cluesd`
processes: only the leader acts, the standby serves status with leader=false, kill -9 of the
leader hands over within the lease duration, SIGTERM releases at once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config as k8s_config

from clues_py.api.client import ApiClient
from clues_py.sandbox import Sandbox
from plugins.backends.k8s_lease import LeaseElector, LeaseSettings
from tests.e2e.daemon.conftest import base_config, pod_manifest, write_config
from tests.tools import command, wait_for, wait_started

pytestmark = pytest.mark.e2e

SETTINGS = LeaseSettings("clues-py", "kube-system", 15.0, 10.0, 2.0)


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _lease(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.store.get("leases", "clues-py", "kube-system")


@pytest.fixture
def api(sandbox: Sandbox, tmp_path: Path) -> Iterator[Any]:
    client = k8s_config.new_client_from_config(
        config_file=sandbox.write_kubeconfig(str(tmp_path / "kubeconfig"))
    )
    yield client
    client.close()


def test_one_leader_takeover_after_expiry_and_release(sandbox: Sandbox, api: Any) -> None:
    clock = _Clock()
    a = LeaseElector(api, LeaseSettings(**{**SETTINGS.__dict__, "identity": "a"}), monotonic=clock)
    b = LeaseElector(api, LeaseSettings(**{**SETTINGS.__dict__, "identity": "b"}), monotonic=clock)

    assert a.try_acquire_or_renew() and a.is_leader()
    assert not b.try_acquire_or_renew() and not b.is_leader()
    spec = _lease(sandbox)["spec"]
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0 and spec["acquireTime"].endswith("Z")

    # a renews; b keeps waiting even well past the first renewTime.
    for _ in range(10):
        clock.t += 2
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()
    assert _lease(sandbox)["spec"]["acquireTime"] == spec["acquireTime"]

    # a stops renewing (hung, or killed): it stops acting after renew_deadline...
    clock.t += 10
    assert not a.is_leader()
    # ...and b takes over once the lease duration has passed since it last saw a change.
    assert not b.try_acquire_or_renew()
    clock.t += 5
    assert b.try_acquire_or_renew() and b.is_leader()
    spec = _lease(sandbox)["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1

    # a comes back: it sees b's valid lease and does not fight.
    assert not a.try_acquire_or_renew() and not a.is_leader()

    # b releases on a clean stop: a acquires at once, no expiry wait.
    b.stop(release=True)
    assert _lease(sandbox)["spec"]["holderIdentity"] == ""
    assert a.try_acquire_or_renew() and a.is_leader()
    assert _lease(sandbox)["spec"]["leaseTransitions"] == 1  # release, then a fresh acquire


def test_stale_resource_version_gets_409_and_loses(sandbox: Sandbox, api: Any) -> None:
    clock = _Clock()
    a = LeaseElector(api, LeaseSettings(**{**SETTINGS.__dict__, "identity": "a"}), monotonic=clock)
    b = LeaseElector(api, LeaseSettings(**{**SETTINGS.__dict__, "identity": "b"}), monotonic=clock)
    assert a.try_acquire_or_renew()
    a.stop(release=True)
    # Both read the free lease; b writes first, a's write carries the old resourceVersion.
    lease = _lease(sandbox)
    assert b.try_acquire_or_renew()
    assert not a._write(lease["metadata"]["resourceVersion"], a._spec(1.0, 1.0, 0), clock())
    assert not a.is_leader() and b.is_leader()
    assert _lease(sandbox)["spec"]["holderIdentity"] == "b"


# ---------------------------------------------------------------------- two real cluesd


def _cluesd(sandbox: Sandbox, tmp: Path, name: str) -> tuple[subprocess.Popen[str], str, Path]:
    tmp.mkdir()
    address = f"unix:{tmp}/clues.sock"
    cfg = base_config(sandbox, tmp)
    cfg["daemon"].update(listen=address, metrics_listen=None, log_level="INFO")
    cfg["leader_election"] = {
        "enabled": True,
        "lease_duration": 4,
        "renew_deadline": 3,
        "retry_period": 0.5,
        "identity": name,
    }
    path = write_config(tmp / "clues.yaml", cfg)
    log = tmp / "cluesd.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [*command("cluesd"), "-c", str(path)],
            stdout=out,
            stderr=out,
            text=True,
        )
    return proc, address, log


def _leader(address: str) -> bool | None:
    try:
        return bool(ApiClient(address).status()["leader"])
    except Exception:
        return None


def test_two_cluesd_only_the_leader_acts_and_kill_9_hands_over(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    procs = {}
    try:
        for name in ("one", "two"):
            procs[name] = _cluesd(sandbox, tmp_path / name, name)
        addresses = {n: p[1] for n, p in procs.items()}
        for name, (proc, address, log) in procs.items():
            wait_started(proc, lambda a=address: _leader(a) is not None, f"cluesd {name}", log)
        holder = wait_for(lambda: _lease(sandbox)["spec"]["holderIdentity"], timeout=30)
        standby = "two" if holder == "one" else "one"
        wait_for(lambda: _leader(addresses[holder]) is True)
        assert _leader(addresses[standby]) is False
        # The standby watches (hot): it sees the same nodes and demand.
        sandbox.store.create("pods", pod_manifest("p0", duration="60s"), "default")
        wait_for(lambda: ApiClient(addresses[holder]).actions(limit=5))

        def standby_sees_node() -> bool:
            nodes = ApiClient(addresses[standby]).status()["nodes"]
            return any(n["name"] == "wn-1" and n["state"] in ("idle", "used") for n in nodes)

        wait_for(standby_sees_node)  # hot standby: it observes the node the leader started
        assert ApiClient(addresses[standby]).actions(limit=5) == []
        # Exactly one machine was started, by the leader.
        assert len([m for m in sandbox.machines.list() if m["name"].startswith("wn-")]) == 1

        procs[holder][0].send_signal(signal.SIGKILL)
        procs[holder][0].wait(timeout=10)
        killed_at = time.monotonic()
        wait_for(lambda: _leader(addresses[standby]) is True, timeout=20)
        took = time.monotonic() - killed_at
        spec = _lease(sandbox)["spec"]
        assert spec["holderIdentity"] == standby and spec["leaseTransitions"] >= 1
        print(json.dumps({"kill9_takeover_seconds": round(took, 2), "lease_duration": 4}))

        # A clean SIGTERM releases the lease: nobody holds it afterwards.
        procs[standby][0].send_signal(signal.SIGTERM)
        assert procs[standby][0].wait(timeout=30) == 0
        assert _lease(sandbox)["spec"]["holderIdentity"] == ""
        assert "released lease" in procs[standby][2].read_text()
    finally:
        for proc, _, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
