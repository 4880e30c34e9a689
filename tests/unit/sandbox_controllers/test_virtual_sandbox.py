"""Controllers end to end inside one process on virtual time (no HTTP, no sleeping)."""

from __future__ import annotations

import pytest

from clues_py.sandbox import Sandbox

DUR = "sandbox.clues-py.io/duration"
CODE = "sandbox.clues-py.io/exit-code"


@pytest.fixture
def sb():
    s = Sandbox(virtual=True, serve_http=False, pod_start_seconds=0.5).start()
    yield s
    s.stop()


def pod(name, cpu="1", **ann):
    return {
        "metadata": {"name": name, "annotations": ann},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}
            ],
        },
    }


def job(name, *, parallelism=1, completions=1, cpu="1", suspend=False, backoff=6, ttl=None, **ann):
    spec = {
        "parallelism": parallelism,
        "completions": completions,
        "backoffLimit": backoff,
        "suspend": suspend,
        "template": {
            "metadata": {"annotations": ann},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu}}}
                ],
            },
        },
    }
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {"metadata": {"name": name}, "spec": spec}


def phases(sb):
    return {p["metadata"]["name"]: p["status"]["phase"] for p in sb.store.list("pods")[0]}


def cond(obj, ctype):
    for c in obj.get("status", {}).get("conditions", []):
        if c["type"] == ctype:
            return c
    return None


def test_pod_runs_for_its_duration_then_succeeds(sb):
    sb.add_node("n1")
    sb.store.create("pods", pod("p", **{DUR: "10s"}), "default")
    t0 = sb.now()
    sb.settle()
    assert sb.store.get("pods", "p", "default")["spec"]["nodeName"] == "n1"
    assert phases(sb) == {"p": "Pending"}
    sb.advance_to(t0 + 0.5)
    running = sb.store.get("pods", "p", "default")
    assert running["status"]["phase"] == "Running" and running["status"]["podIP"]
    sb.advance_to(t0 + 10.4)
    assert phases(sb) == {"p": "Running"}
    sb.advance_to(t0 + 10.5)
    assert phases(sb) == {"p": "Succeeded"}


def test_exit_code_fails_and_bad_annotation_is_explained(sb):
    sb.add_node("n1")
    sb.store.create("pods", pod("bad", **{DUR: "1s", CODE: "2"}), "default")
    sb.store.create("pods", pod("typo", **{DUR: "soon"}), "default")
    sb.advance(5)
    assert phases(sb) == {"bad": "Failed", "typo": "Failed"}
    typo = sb.store.get("pods", "typo", "default")["status"]
    assert typo["reason"] == "InvalidAnnotation" and DUR in typo["message"]


def test_unschedulable_message_is_written_once_and_machine_fixes_it(sb):
    sb.add_node("n1", cpu="2")
    sb.store.create("pods", pod("big", cpu="6", **{DUR: "1s"}), "default")
    sb.settle()
    first = sb.store.get("pods", "big", "default")
    c = cond(first, "PodScheduled")
    assert (c["status"], c["reason"]) == ("False", "Unschedulable")
    assert c["message"].startswith("0/1 nodes are available: 1 Insufficient cpu.")
    sb.store.create("pods", pod("other", cpu="5"), "default")  # triggers another pass
    sb.settle()
    assert (
        sb.store.get("pods", "big", "default")["metadata"]["resourceVersion"]
        == first["metadata"]["resourceVersion"]
    )
    sb.machines.power_on("big-node", cpu="8", boot_seconds=30)
    assert sb.machines.state("big-node") == "booting"
    sb.advance(29)
    assert "nodeName" not in sb.store.get("pods", "big", "default")["spec"]
    sb.advance(1)
    assert sb.machines.state("big-node") == "on"
    assert sb.store.get("pods", "big", "default")["spec"]["nodeName"] == "big-node"


def test_failed_machine_never_joins(sb):
    sb.machines.power_on("broken", boot_seconds=5, fail=True)
    sb.advance(60)
    assert sb.machines.state("broken") == "on"
    assert sb.store.list("nodes")[0] == []


def test_job_runs_to_completion_deterministically():
    def run():
        s = Sandbox(virtual=True, serve_http=False).start()
        s.add_node("n1", cpu="2")
        s.add_node("n2", cpu="2")
        s.store.create("jobs", job("j", parallelism=3, completions=5, **{DUR: "10s"}), "default")
        t0 = s.now()
        seen = []
        while (t := s.step()) is not None:
            st = s.store.get("jobs", "j", "default")["status"]
            seen.append((t - t0, st.get("active", 0), st.get("succeeded", 0)))
        final = s.store.get("jobs", "j", "default")
        placed = sorted(
            (p["metadata"]["name"], p["spec"]["nodeName"]) for p in s.store.list("pods")[0]
        )
        s.stop()
        return seen + placed, final

    seen, final = run()
    assert cond(final, "Complete")["status"] == "True"
    assert final["status"]["succeeded"] == 5
    # Three at a time, 10.5 s per wave (start delay + duration): the second wave ends at 21 s.
    assert [x for x in seen if len(x) == 3][-1][0] == pytest.approx(21.0)
    assert run()[0] == seen


def test_job_counts_the_pods_it_creates_as_active_in_the_same_write():
    # As the Job controller's `active += diff`: no status write says 0 active after creating.
    s = Sandbox(virtual=True, serve_http=False).start()
    statuses = []
    s.store.subscribe(lambda t, r, o: r == "jobs" and statuses.append(o.get("status") or {}))
    s.store.create("jobs", job("j", parallelism=2, completions=2, **{DUR: "10s"}), "default")
    s.settle()
    assert [st.get("active", 0) for st in statuses] == [0, 2]  # created, then both pods
    s.add_node("n1", cpu="2")
    s.advance(20)
    assert [st.get("active", 0) for st in statuses][-1] == 0 and statuses[-1]["succeeded"] == 2
    s.stop()


def test_suspended_job_waits_and_backoff_limit_fails(sb):
    sb.add_node("n1", cpu="4")
    sb.store.create("jobs", job("s", suspend=True, **{DUR: "1s"}), "default")
    sb.store.create("jobs", job("f", backoff=1, **{DUR: "1s", CODE: "1"}), "default")
    sb.advance(30)
    s = sb.store.get("jobs", "s", "default")
    assert cond(s, "Suspended")["status"] == "True"
    assert not [p for p in phases(sb) if p.startswith("s-")]
    f = sb.store.get("jobs", "f", "default")
    assert cond(f, "Failed")["reason"] == "BackoffLimitExceeded" and f["status"]["failed"] == 2

    def resume(j):
        j["spec"]["suspend"] = False

    sb.store.mutate("jobs", "s", "default", resume)
    sb.advance(5)
    s = sb.store.get("jobs", "s", "default")
    assert cond(s, "Complete")["status"] == "True"
    assert cond(s, "Suspended")["status"] == "False"


def test_power_off_fails_pods_and_job_replaces_them(sb):
    sb.machines.power_on("w1", cpu="2", boot_seconds=1)
    sb.store.create("jobs", job("j", **{DUR: "100s"}), "default")
    sb.advance(5)
    [first] = [n for n, ph in phases(sb).items() if ph == "Running"]
    sb.machines.power_off("w1", shutdown_seconds=10)
    pod_status = sb.store.get("pods", first, "default")["status"]
    assert (pod_status["phase"], pod_status["reason"]) == ("Failed", "Terminated")
    assert sb.machines.state("w1") == "stopping"
    sb.settle()
    node = sb.store.get("nodes", "w1")
    assert cond(node, "Ready")["status"] == "False"
    sb.advance(10)
    assert sb.machines.state("w1") == "off" and sb.store.list("nodes")[0] == []
    st = sb.store.get("jobs", "j", "default")["status"]
    assert st["failed"] == 1 and st["active"] == 1  # a replacement waits for a node
    sb.machines.power_on("w1", boot_seconds=1)
    sb.advance(110)
    assert cond(sb.store.get("jobs", "j", "default"), "Complete")["status"] == "True"


def test_daemonset_pod_per_ready_node_and_cleanup(sb):
    sb.add_node(
        "master", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    )
    sb.add_node("n1")
    sb.add_node("n2", ready=False)
    ds = {
        "metadata": {"name": "agent", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "a", "image": "agent"}]},
            },
        },
    }
    sb.store.create("daemonsets", ds, "kube-system")
    sb.advance(2)

    def placed():
        return sorted(p["spec"]["nodeName"] for p in sb.store.list("pods", "kube-system")[0])

    assert placed() == ["n1"]
    sb.machines.power_on("n3", boot_seconds=1)
    sb.advance(3)
    assert placed() == ["n1", "n3"]
    status = sb.store.get("daemonsets", "agent", "kube-system")["status"]
    assert (status["desiredNumberScheduled"], status["numberReady"]) == (2, 2)
    sb.store.delete("nodes", "n1")
    sb.advance(3)
    assert placed() == ["n3"]
    sb.store.delete("daemonsets", "agent", "kube-system")
    sb.advance(3)
    assert placed() == []


def test_graceful_delete_is_finalized_and_ttl_removes_finished_jobs(sb):
    sb.add_node("n1")
    sb.store.create("pods", pod("p"), "default")
    sb.advance(1)
    sb.store.delete("pods", "p", "default")  # default grace 30 s; the sandbox kills in 1 s
    assert sb.store.get("pods", "p", "default")["metadata"]["deletionTimestamp"]
    sb.advance(1)
    assert phases(sb) == {}
    sb.store.create("jobs", job("t", ttl=60, **{DUR: "1s"}), "default")
    sb.advance(5)
    assert cond(sb.store.get("jobs", "t", "default"), "Complete")
    sb.advance(60)
    assert sb.store.list("jobs")[0] == [] and phases(sb) == {}


def test_node_created_without_status_becomes_ready(sb):
    sb.store.create("nodes", {"metadata": {"name": "hand-made"}})
    sb.settle()
    node = sb.store.get("nodes", "hand-made")
    assert cond(node, "Ready")["status"] == "True"
    assert node["status"]["allocatable"]["cpu"] == "4"


def test_ensure_namespace_and_snapshot_round_trip(sb, tmp_path):
    assert sb.ensure_namespace("oscar-svc")["metadata"]["name"] == "oscar-svc"
    assert sb.ensure_namespace("oscar-svc")["metadata"]["name"] == "oscar-svc"
    sb.add_node("n1")
    sb.store.create("pods", pod("p"), "oscar-svc")
    sb.advance(1)
    sb.save(tmp_path / "snap.json")
    other = Sandbox(virtual=True, serve_http=False).start()
    try:
        other.load(tmp_path / "snap.json")
        assert other.store.get("pods", "p", "oscar-svc")["status"]["phase"] == "Running"
        assert other.machines.state("n1") == "on"
        other.machines.power_off("n1", shutdown_seconds=1)
        assert other.store.get("pods", "p", "oscar-svc")["status"]["phase"] == "Failed"
        other.advance(2)
        # The node is gone, and PodGC removed its pods with it.
        assert other.store.list("nodes")[0] == [] and other.store.list("pods")[0] == []
    finally:
        other.stop()


def test_running_pods_finish_after_a_snapshot_reload(sb, tmp_path):
    sb.add_node("n1")
    sb.store.create("pods", pod("p", **{DUR: "100s"}), "default")
    sb.advance(50)
    sb.save(tmp_path / "snap.json")
    other = Sandbox(virtual=True, serve_http=False).start()
    try:
        other.advance_to(sb.now())
        other.load(tmp_path / "snap.json")
        other.advance(49)
        assert phases(other) == {"p": "Running"}
        other.advance(2)
        assert phases(other) == {"p": "Succeeded"}
    finally:
        other.stop()
