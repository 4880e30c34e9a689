"""Job arithmetic: parallelism, completions, backoffLimit, suspend and status fields."""

from __future__ import annotations

from clues_py.sandbox.controllers.joblogic import Counts, JobSpec, clean_status, decide


def job(status=None, **spec):
    return {"metadata": {"name": "j", "uid": "ju"}, "spec": spec, "status": status or {}}


def pod(uid, phase="Running", ready=True, deleting=False):
    md = {"name": uid, "uid": uid, "creationTimestamp": f"2026-01-01T00:00:0{uid[-1]}Z"}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    conds = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": md, "spec": {}, "status": {"phase": phase, "conditions": conds}}


def conds(status):
    return {c["type"]: (c["status"], c.get("reason")) for c in status.get("conditions", [])}


def test_defaults():
    s = JobSpec.from_k8s({"spec": {}})
    assert (s.parallelism, s.completions, s.backoff_limit, s.suspend) == (1, None, 6, False)


def test_creates_up_to_parallelism_bounded_by_remaining_completions():
    d = decide(job(parallelism=3, completions=5), [], Counts(), 10.0)
    assert d.create == 3 and d.status["active"] == 0 and d.status["startTime"]
    pods = [pod("p1", "Succeeded"), pod("p2", "Succeeded"), pod("p3", "Succeeded"), pod("p4")]
    d = decide(job(parallelism=3, completions=5), pods, Counts(), 20.0)
    assert d.create == 1  # 2 left to do, 1 running
    assert (d.status["succeeded"], d.status["active"], d.status["ready"]) == (3, 1, 1)


def test_complete_sets_conditions_and_completion_time():
    pods = [pod("p1", "Succeeded"), pod("p2", "Succeeded")]
    d = decide(job(completions=2, parallelism=2), pods, Counts(), 30.0)
    assert d.finished and d.create == 0
    assert conds(d.status)["Complete"] == ("True", "CompletionsReached")
    assert conds(d.status)["SuccessCriteriaMet"][0] == "True"
    assert d.status["completionTime"] == "1970-01-01T00:00:30Z"


def test_counts_survive_pod_deletion():
    counted = Counts()
    decide(job(completions=3), [pod("p1", "Succeeded")], counted, 1.0)
    d = decide(job(completions=3), [pod("p2")], counted, 2.0)  # p1 deleted meanwhile
    assert d.status["succeeded"] == 1


def test_backoff_limit_exceeded_fails_and_deletes_active():
    pods = [pod("p1", "Failed"), pod("p2", "Failed"), pod("p3")]
    d = decide(job(backoffLimit=1, parallelism=2, completions=4), pods, Counts(), 5.0)
    assert conds(d.status)["Failed"] == ("True", "BackoffLimitExceeded")
    assert [p["metadata"]["name"] for p in d.delete] == ["p3"]
    assert d.create == 0 and d.status["failed"] == 2
    d2 = decide(job(backoffLimit=2, completions=4), pods[:2], Counts(), 5.0)
    assert not d2.finished and d2.create == 1


def test_suspend_deletes_active_and_resume_restarts_clock():
    pods = [pod("p1"), pod("p2", deleting=True)]
    d = decide(job(suspend=True, parallelism=2, completions=2), pods, Counts(), 5.0)
    assert conds(d.status)["Suspended"] == ("True", "JobSuspended")
    assert d.create == 0 and [p["metadata"]["name"] for p in d.delete] == ["p1"]
    assert d.status["terminating"] == 1
    resumed = decide(job(d.status, parallelism=2, completions=2), [], Counts(), 50.0)
    assert conds(resumed.status)["Suspended"] == ("False", "JobResumed")
    assert resumed.status["startTime"] == "1970-01-01T00:00:50Z" and resumed.create == 2


def test_scale_down_deletes_pending_before_running():
    pods = [pod("p1"), pod("p2", "Pending", ready=False)]
    d = decide(job(parallelism=1, completions=5), pods, Counts(), 1.0)
    assert [p["metadata"]["name"] for p in d.delete] == ["p2"]


def test_clean_status_omits_zero_counters():
    assert clean_status({"active": 0, "succeeded": 0, "failed": 1, "ready": 0}) == {
        "failed": 1,
        "ready": 0,
    }
