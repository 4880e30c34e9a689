"""StatefulSets, CronJobs, node Leases and PodGC in a virtual sandbox (time moves only by advance)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from clues_py.sandbox import Sandbox, cron, workload_rules
from clues_py.sandbox.meta import ApiError


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    s = Sandbox(virtual=True, serve_http=False, pod_start_seconds=1.0, kill_seconds=1.0)
    s.start()
    s.add_node("n1", cpu="8", memory="16Gi")
    yield s
    s.stop()


def create(sb: Sandbox, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Create as the API does (defaults and validation first)."""
    workload_rules.prepare(resource, obj, sb.store)
    return sb.store.create(resource, obj, "default")


def pods(sb: Sandbox) -> dict[str, str]:
    return {
        p["metadata"]["name"]: p["status"]["phase"]
        for p in sb.store.list("pods", "default")[0]
        if not p["metadata"].get("deletionTimestamp")
    }


def statefulset(replicas: int, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "db"},
        "spec": {
            "replicas": replicas,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "c", "image": "db:1"}]},
            },
            **spec,
        },
    }


def test_statefulset_creates_in_order_and_removes_from_the_top(sb: Sandbox) -> None:
    create(sb, "statefulsets", statefulset(3))
    sb.settle()
    assert pods(sb) == {"db-0": "Pending"}  # db-1 waits for db-0 to be Running and Ready
    sb.advance(1)
    assert pods(sb) == {"db-0": "Running", "db-1": "Pending"}
    sb.advance(2)
    assert pods(sb) == {"db-0": "Running", "db-1": "Running", "db-2": "Running"}
    p = sb.store.get("pods", "db-1", "default")
    assert (p["spec"]["hostname"], p["spec"]["subdomain"]) == ("db-1", "db")
    assert p["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    status = sb.store.get("statefulsets", "db", "default")["status"]
    assert status["readyReplicas"] == 3 and status["currentRevision"] == status["updateRevision"]

    def scale(n: int) -> None:
        def put(o: dict[str, Any]) -> None:
            o["spec"]["replicas"] = n

        sb.store.mutate("statefulsets", "db", "default", put)

    scale(1)
    sb.settle()
    assert sorted(pods(sb)) == ["db-0", "db-1"]  # db-2 terminating first
    sb.advance(1)
    sb.settle()
    assert sorted(pods(sb)) == ["db-0"] or sorted(pods(sb)) == ["db-0", "db-1"]
    sb.advance(2)
    assert sorted(pods(sb)) == ["db-0"]


def test_statefulset_rolling_update_from_the_highest_ordinal_respects_partition(
    sb: Sandbox,
) -> None:
    sts = statefulset(
        3, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    )
    create(sb, "statefulsets", sts)
    sb.advance(5)
    first = sb.store.get("statefulsets", "db", "default")["status"]["updateRevision"]

    def new_image(o: dict[str, Any]) -> None:
        o["spec"]["template"]["spec"]["containers"][0]["image"] = "db:2"

    sb.store.mutate("statefulsets", "db", "default", new_image)
    sb.advance(10)
    images = {
        p["metadata"]["name"]: p["spec"]["containers"][0]["image"]
        for p in sb.store.list("pods", "default")[0]
    }
    assert images == {"db-0": "db:1", "db-1": "db:2", "db-2": "db:2"}
    status = sb.store.get("statefulsets", "db", "default")["status"]
    assert status["currentRevision"] == first != status["updateRevision"]
    assert status["updatedReplicas"] == 2
    revisions = sorted(r["revision"] for r in sb.store.list("controllerrevisions", "default")[0])
    assert revisions == [1, 2]


def test_cronjob_runs_on_schedule_and_keeps_history(sb: Sandbox) -> None:
    cj = {
        "metadata": {"name": "tick"},
        "spec": {
            "schedule": "*/5 * * * *",
            "successfulJobsHistoryLimit": 2,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "x", "command": ["sleep", "30"]}],
                        }
                    }
                }
            },
        },
    }
    create(sb, "cronjobs", cj)
    sb.advance(60 * 16)  # runs at :05, :10 and :15
    jobs = sorted(j["metadata"]["name"] for j in sb.store.list("jobs", "default")[0])
    epoch_minutes = int(sb.now() // 60)
    assert jobs == [f"tick-{epoch_minutes - 6}", f"tick-{epoch_minutes - 1}"]  # oldest pruned
    status = sb.store.get("cronjobs", "tick", "default")["status"]
    assert status["lastScheduleTime"].endswith(":15:00Z") and "active" not in status
    assert status["lastSuccessfulTime"].endswith(":15:31Z")  # started 1 s late, ran 30 s


def test_cronjob_forbid_skips_while_a_run_is_active(sb: Sandbox) -> None:
    cj = {
        "metadata": {"name": "long"},
        "spec": {
            "schedule": "* * * * *",
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {"name": "c", "image": "x", "command": ["sleep", "150"]}
                            ],
                        }
                    }
                }
            },
        },
    }
    create(sb, "cronjobs", cj)
    sb.advance(60 * 4 + 1)  # :01 starts, :02 and :03 are skipped, :04 starts again
    assert len(sb.store.list("jobs", "default")[0]) == 2
    reasons = {e["reason"] for e in sb.store.list("events", "default")[0]}
    assert "JobAlreadyActive" in reasons


def test_cron_schedules_follow_kubernetes_semantics() -> None:
    monday_9 = cron.parse("0 9 * * 1-5")
    thu = 1_767_225_600.0  # 2026-01-01T00:00Z, a Thursday
    assert monday_9.next_after(thu) == thu + 9 * 3600
    # Both day fields restricted: either one matching fires (the 13th or any Friday).
    either = cron.parse("0 0 13 * 5")
    assert either.next_after(thu) == thu + 86400  # Friday the 2nd
    assert cron.parse("@hourly").next_after(thu) == thu + 3600
    with pytest.raises(cron.CronError, match="expected exactly 5 fields"):
        cron.parse("* * *")
    with pytest.raises(cron.CronError, match="timeZone field"):
        cron.parse("TZ=UTC 0 * * * *")


def test_invalid_schedule_is_refused_like_the_api(sb: Sandbox) -> None:
    bad = {"metadata": {"name": "bad"}, "spec": {"schedule": "nope", "jobTemplate": {}}}
    with pytest.raises(ApiError) as err:
        create(sb, "cronjobs", bad)
    assert err.value.code == 422 and 'spec.schedule: Invalid value: "nope"' in err.value.message


def test_node_leases_follow_their_nodes(sb: Sandbox) -> None:
    sb.settle()
    lease = sb.store.get("leases", "n1", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "n1" and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    sb.store.delete("nodes", "n1")
    sb.settle()
    assert sb.store.list("leases", "kube-node-lease")[0] == []


def test_node_leases_are_renewed_every_period_a_slot_at_a_time() -> None:
    # As independent kubelets: each Lease every 10 s, but not all of them at the same moment.
    s = Sandbox(virtual=True, serve_http=False, lease_renew_seconds=10.0)
    s.start()
    try:
        names = [f"n{i:02d}" for i in range(60)]
        for name in names:
            s.add_node(name)
        s.settle()

        def renewed() -> dict[str, str]:
            leases = s.store.list("leases", "kube-node-lease")[0]
            return {x["metadata"]["name"]: x["spec"]["renewTime"] for x in leases}

        held = renewed()
        assert set(held) == set(names)
        seen: dict[str, int] = {}
        for _ in range(20):  # one period in 0.5 s steps
            s.advance(0.5)
            now = renewed()
            changed = [n for n in names if now[n] != held[n]]
            assert len(changed) < len(names) / 2, "a step renews a slot, not every Lease"
            for n in changed:
                seen[n] = seen.get(n, 0) + 1
            held = now
        assert seen == dict.fromkeys(names, 1), "each Lease renewed once per period"
    finally:
        s.stop()


def test_pods_of_a_deleted_node_are_removed_and_counted_failed(sb: Sandbox) -> None:
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "x", "command": ["sleep", "600"]}],
                }
            }
        },
    }
    sb.store.create("jobs", job, "default")
    sb.advance(2)
    (running,) = pods(sb)
    sb.store.delete("nodes", "n1")
    sb.settle()
    assert running not in pods(sb)
    status = sb.store.get("jobs", "j", "default")["status"]
    assert status["failed"] == 1 and status["active"] == 1  # a replacement waits for a node
    events = [e for e in sb.store.list("events", "default")[0] if e["reason"] == "FailedScheduling"]
    assert events  # the replacement has nowhere to go
