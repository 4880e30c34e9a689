"""Full loops over HTTP: kubectl submits OSCAR's Job into the sandbox's mini-Kueue, cluesd
(in-process, `sim` power) decides, `clues explain` says why; nodes go on and off for real.

Each test synchronises on what the daemon decided (its explain answer, its pass counter,
node states), never on time alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from clues_py.cli.main import main
from clues_py.config.load import config_from_dict
from clues_py.daemon.service import Service
from clues_py.sandbox import Sandbox
from tests.e2e.daemon.conftest import base_config
from tests.e2e.kueue.conftest import Kubectl, manifest
from tests.kueue_objects import BEST_EFFORT_ATOMIC, CHECK_CAPACITY, OSCAR_NS, conditions
from tests.tools import passes_later, wait_first_pass, wait_for

pytestmark = pytest.mark.e2e
JOB = "posenet-4b1f0d1e-8c0a-4d5e-9f3b-2a7c6e9d1b40"


class Cluesd:
    def __init__(self, service: Service, address: str) -> None:
        self.service, self.address = service, address

    def explain(self, key: str) -> dict[str, Any]:
        result = CliRunner().invoke(
            main, ["--address", self.address, "explain", "pod", key, "--json"]
        )
        assert result.exit_code == 0, result.output
        doc: dict[str, Any] = json.loads(result.output)
        return doc

    def explain_text(self, key: str) -> str:
        result = CliRunner().invoke(main, ["--address", self.address, "explain", "pod", key])
        assert result.exit_code == 0, result.output
        return result.output

    def states(self) -> dict[str, str]:
        return {n["name"]: n["state"] for n in self.service.daemon.control.status()["nodes"]}

    def passes_later(self, n: int = 5) -> None:
        """Let the daemon run `n` more passes (it has seen everything there is to see)."""
        passes_later(self.service.daemon, n)

    def power_ons(self) -> int:
        return sum(
            1 for a in self.service.daemon.store.actions(limit=1000) if a["kind"] == "power_on"
        )


@pytest.fixture
def cluesd(sandbox: Sandbox, tmp_path: Path) -> Iterator[Callable[..., Cluesd]]:
    started: list[Service] = []

    def start(**overrides: Any) -> Cluesd:
        raw = base_config(sandbox, tmp_path, **overrides)
        service = Service(config_from_dict(raw, source="test")).start()
        started.append(service)
        wait_first_pass(service.daemon)
        return Cluesd(service, raw["daemon"]["listen"])

    yield start
    for s in started:
        s.stop()


def kueue_with_quota(kubectl: Kubectl, cpu: str = '"8"', memory: str = "16Gi") -> None:
    kubectl("apply", "-f", "-", stdin=manifest("kueue.yaml", QUOTA_CPU=cpu, QUOTA_MEMORY=memory))


def workload_of(sandbox: Sandbox, job: str = JOB) -> dict[str, Any] | None:
    for wl in sandbox.store.list("workloads", OSCAR_NS)[0]:
        if any(r.get("name") == job for r in wl["metadata"].get("ownerReferences") or ()):
            return wl
    return None


# ------------------------------------------------------------------ the OSCAR Job, three set-ups


@pytest.mark.parametrize("sandbox", [False], indirect=True)
def test_oscar_job_without_kueue_installed_is_paused_and_powers_nothing(
    sandbox: Sandbox, kubectl: Kubectl, cluesd: Callable[..., Cluesd]
) -> None:
    d = cluesd()
    kubectl("apply", "-f", "-", stdin=manifest("oscar-job.yaml"))
    doc = wait_for(lambda: (e := d.explain(f"job:{OSCAR_NS}/{JOB}"))["decision"] and e)
    assert doc["demand"] is False and doc["pending"] is False
    assert doc["decision"]["reason"] == (
        "paused: its queue label names Kueue LocalQueue oscar-lq-posenet but Kueue is not "
        "installed (no Workload API), so nothing will resume it; not demand"
    )
    d.passes_later()
    assert d.power_ons() == 0 and set(d.states().values()) == {"off"}
    assert sandbox.store.get("jobs", JOB, OSCAR_NS)["spec"]["suspend"] is True
    assert "not demand" in d.explain_text(f"{OSCAR_NS}/{JOB}")


def test_oscar_job_with_kueue_but_no_queues_powers_nothing(
    sandbox: Sandbox, kubectl: Kubectl, cluesd: Callable[..., Cluesd]
) -> None:
    d = cluesd()
    kubectl("apply", "-f", "-", stdin=manifest("oscar-job.yaml"))
    doc = wait_for(lambda: (e := d.explain(f"job:{OSCAR_NS}/{JOB}"))["decision"] and e)
    assert doc["demand"] is False
    assert (
        "LocalQueue oscar-svc/oscar-lq-posenet, which does not exist" in doc["decision"]["reason"]
    )
    d.passes_later()
    assert d.power_ons() == 0 and set(d.states().values()) == {"off"}


def test_oscar_job_with_quota_powers_a_node_runs_and_the_node_goes_off(
    sandbox: Sandbox, kubectl: Kubectl, cluesd: Callable[..., Cluesd]
) -> None:
    d = cluesd()
    kueue_with_quota(kubectl)
    kubectl("apply", "-f", "-", stdin=manifest("oscar-job.yaml"))
    # Kueue reserves quota and admits it; its pod is pending; a node is powered on for it.
    wait_for(lambda: "used" in d.states().values() or "idle" in d.states().values(), timeout=30)
    job = wait_for(
        lambda: (
            (j := sandbox.store.get("jobs", JOB, OSCAR_NS))
            and conditions(j).get("Complete", ("",))[0] == "True"
            and j
        ),
        timeout=30,
    )
    assert job["spec"]["suspend"] is False
    assert conditions(workload_of(sandbox) or {})["Admitted"][0] == "True"
    pod = next(
        p
        for p in sandbox.store.list("pods", OSCAR_NS)[0]
        if p["metadata"]["labels"].get("job-name") == JOB
    )
    assert pod["spec"]["nodeName"].startswith("wn-")
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}
    wait_for(lambda: set(d.states().values()) == {"off"}, timeout=30)
    assert d.power_ons() == 1


def test_oscar_job_without_quota_powers_nothing_and_explain_says_why(
    sandbox: Sandbox, kubectl: Kubectl, cluesd: Callable[..., Cluesd]
) -> None:
    d = cluesd()
    kueue_with_quota(kubectl, cpu='"500m"')  # less than the job's 1 cpu limit
    kubectl("apply", "-f", "-", stdin=manifest("oscar-job.yaml"))
    wl = wait_for(lambda: (w := workload_of(sandbox)) and "QuotaReserved" in conditions(w) and w)
    key = f"workload:{OSCAR_NS}/{wl['metadata']['name']}"
    want = (
        "waits for Kueue quota in ClusterQueue oscar-cq (cpu 0/500m, memory 0/16Gi used); Kueue: "
        "couldn't assign flavors to pod set main: insufficient quota for cpu in flavor "
        "default-flavor, request > maximum capacity (1 > 500m)"
    )
    doc = wait_for(lambda: (e := d.explain(key))["decision"] and e, timeout=15)
    assert doc["decision"]["reason"].startswith(want) and doc["demand"] is False
    job_doc = d.explain(f"job:{OSCAR_NS}/{JOB}")
    assert (
        job_doc["decision"]["reason"]
        == f"counted once, as its Workload {key[9:]}: {doc['decision']['reason']}"
    )
    text = d.explain_text(f"job:{OSCAR_NS}/{JOB}")
    assert "not demand" in text and "waits for Kueue quota in ClusterQueue oscar-cq" in text
    d.passes_later()
    assert d.power_ons() == 0 and set(d.states().values()) == {"off"}


# ------------------------------------------------------------------ quota exhausted, paused Job


def test_exhausted_quota_powers_on_only_for_what_kueue_admits(
    sandbox: Sandbox, kubectl: Kubectl, cluesd: Callable[..., Cluesd]
) -> None:
    d = cluesd()
    kueue_with_quota(kubectl, cpu='"2"')
    for i in range(4):  # 4 x 1 cpu, quota 2: two are admitted, two wait
        job = manifest("oscar-job.yaml").replace(JOB, f"posenet-{i}").replace("2s", "30s")
        kubectl("apply", "-f", "-", stdin=job)

    def not_reserved() -> list[dict[str, Any]]:
        return [
            w
            for w in sandbox.store.list("workloads", OSCAR_NS)[0]
            if conditions(w).get("QuotaReserved", ("",))[0] == "False"
        ]

    waiting = wait_for(lambda: len(ws := not_reserved()) == 2 and ws)
    wait_for(lambda: d.power_ons() >= 1, timeout=30)
    d.passes_later()
    assert d.power_ons() == 1  # one 4-cpu node holds the two admitted jobs
    reason = d.explain(f"workload:{OSCAR_NS}/{waiting[0]['metadata']['name']}")["decision"][
        "reason"
    ]
    assert reason.startswith(
        "waits for Kueue quota in ClusterQueue oscar-cq (cpu 2/2, memory 4Gi/16Gi used)"
    )


def test_paused_job_without_queue_powers_nothing(
    sandbox: Sandbox, kubectl: Kubectl, cluesd: Callable[..., Cluesd]
) -> None:
    d = cluesd()
    kueue_with_quota(kubectl)
    paused = manifest("oscar-job.yaml").replace(
        "    kueue.x-k8s.io/queue-name: oscar-lq-posenet\n", ""
    )
    kubectl("apply", "-f", "-", stdin=paused)
    doc = wait_for(lambda: (e := d.explain(f"job:{OSCAR_NS}/{JOB}"))["decision"] and e)
    assert doc["decision"]["reason"].startswith("paused: suspended Job that no Kueue queue owns")
    d.passes_later()
    assert d.power_ons() == 0 and workload_of(sandbox) is None


# ------------------------------------------------------------------ provisioning admission check


def _watch_provisioned(sandbox: Sandbox) -> list[int]:
    """When Provisioned=True is first seen: how many managed nodes were Ready then."""
    seen: list[int] = []

    def on_event(kind: str, resource: str, obj: dict[str, Any]) -> None:
        if (
            resource == "provisioningrequests"
            and conditions(obj).get("Provisioned", ("",))[0] == "True"
        ) and not seen:
            nodes = sandbox.store.list("nodes")[0]
            seen.append(
                sum(
                    1
                    for n in nodes
                    if n["metadata"]["name"].startswith("wn-")
                    and conditions(n).get("Ready", ("",))[0] == "True"
                )
            )

    sandbox.store.subscribe(on_event)
    return seen


@pytest.mark.parametrize("cls", [CHECK_CAPACITY, BEST_EFFORT_ATOMIC])
def test_provisioning_request_is_provisioned_once_the_nodes_are_ready(
    sandbox: Sandbox, kubectl: Kubectl, cluesd: Callable[..., Cluesd], cls: str
) -> None:
    d = cluesd()
    provisioned_with_nodes = _watch_provisioned(sandbox)
    kubectl("apply", "-f", "-", stdin=manifest("provisioning.yaml", CLASS=cls))
    job = (
        manifest("oscar-job.yaml")
        .replace('cpu: "1"', 'cpu: "3"')
        .replace("backoffLimit: 0", "backoffLimit: 0\n  parallelism: 2\n  completions: 2")
    )
    kubectl("apply", "-f", "-", stdin=job)
    pr = wait_for(lambda: (p := sandbox.store.list("provisioningrequests", OSCAR_NS)[0]) and p[0])
    assert pr["spec"]["provisioningClassName"] == cls
    assert pr["spec"]["podSets"][0]["count"] == 2
    # Two 3-cpu pods: two nodes; Provisioned comes once they are Ready, then Kueue admits.
    done = wait_for(
        lambda: (
            (j := sandbox.store.get("jobs", JOB, OSCAR_NS))
            and conditions(j).get("Complete", ("",))[0] == "True"
            and j
        ),
        timeout=40,
    )
    assert provisioned_with_nodes == [2]
    assert d.power_ons() == 2
    annotations = done["spec"]["template"]["metadata"]["annotations"]
    assert (
        annotations["autoscaling.x-k8s.io/consume-provisioning-request"] == pr["metadata"]["name"]
    )
    events = {
        e["reason"]
        for e in sandbox.store.list("events", "default")[0]
        if e["involvedObject"]["kind"] == "Node"
    }
    assert "PoweringOn" in events
    wait_for(lambda: set(d.states().values()) == {"off"}, timeout=30)


def test_provisioning_request_no_template_fits_fails_and_powers_nothing(
    sandbox: Sandbox, kubectl: Kubectl, cluesd: Callable[..., Cluesd]
) -> None:
    d = cluesd()
    kubectl("apply", "-f", "-", stdin=manifest("provisioning.yaml", CLASS=BEST_EFFORT_ATOMIC))
    huge = manifest("oscar-job.yaml").replace('cpu: "1"', 'cpu: "16"')
    kubectl("apply", "-f", "-", stdin=huge)
    pr = wait_for(
        lambda: (
            (p := sandbox.store.list("provisioningrequests", OSCAR_NS)[0])
            and "Failed" in conditions(p[0])
            and p[0]
        )
    )
    status, reason, message = conditions(pr)["Failed"]
    assert (status, reason) == ("True", "NoTemplateFits")
    assert "fits no template: needs cpu=16" in message
    # Kueue (no retries configured) rejects the check and deactivates the Workload.
    wl = wait_for(lambda: (w := workload_of(sandbox)) and w["spec"].get("active") is False and w)
    assert "fits no template" in conditions(wl)["QuotaReserved"][2]
    d.passes_later()
    assert d.power_ons() == 0


# ------------------------------------------------------------------ stale hidden demand


def test_workload_never_admitted_lets_its_node_go_after_the_timeout(
    sandbox: Sandbox, kubectl: Kubectl, cluesd: Callable[..., Cluesd]
) -> None:
    policies = [{"kind": "scale_up", "hidden_demand_timeout": 3}, "min_nodes", "idle_off", "limits"]
    d = cluesd(policies=policies)
    # An admission check no controller answers: quota is reserved, admission never comes.
    never = """\
apiVersion: kueue.x-k8s.io/v1beta2
kind: AdmissionCheck
metadata: {name: never}
spec: {controllerName: example.com/never-answers}
"""
    kubectl("apply", "-f", "-", stdin=never)
    cq = manifest("kueue.yaml", QUOTA_CPU='"8"', QUOTA_MEMORY="16Gi").replace(
        "  namespaceSelector: {}\n",
        "  namespaceSelector: {}\n  admissionChecksStrategy:\n    admissionChecks: [{name: never}]\n",
    )
    kubectl("apply", "-f", "-", stdin=cq)
    kubectl("apply", "-f", "-", stdin=manifest("oscar-job.yaml"))
    wait_for(lambda: "idle" in d.states().values(), timeout=30)  # powered on for it, no pod came
    wait_for(lambda: set(d.states().values()) == {"off"} and d.power_ons() == 1, timeout=40)
    wl = workload_of(sandbox)
    assert wl is not None and conditions(wl)["QuotaReserved"][0] == "True"
    doc = d.explain(f"workload:{OSCAR_NS}/{wl['metadata']['name']}")
    assert (
        "still no pod (hidden_demand_timeout 3 s): no longer holds or powers on nodes"
        in doc["decision"]["reason"]
    )
    warned = wait_for(
        lambda: [
            e
            for e in sandbox.store.list("events", OSCAR_NS)[0]
            if e["reason"] == "HiddenDemandReleased"
        ]
    )
    assert warned[0]["type"] == "Warning" and warned[0]["involvedObject"]["kind"] == "Workload"
    d.passes_later()
    assert d.power_ons() == 1  # and it never powers one on again
