"""The sandbox serves Kueue and ProvisioningRequests as a real cluster would, to kubectl and
the official client: both Kueue versions over one storage, the Job webhook, admission."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from clues_py.sandbox import Sandbox
from tests.e2e.kueue.conftest import Kubectl, manifest
from tests.kueue_objects import OSCAR_NS, conditions
from tests.tools import wait_for

pytestmark = pytest.mark.e2e

V1BETA1_CQ = """\
apiVersion: kueue.x-k8s.io/v1beta1
kind: ClusterQueue
metadata:
  name: old-style
spec:
  cohort: research
  admissionChecks: [prov]
  namespaceSelector: {}
  resourceGroups:
  - coveredResources: [cpu]
    flavors:
    - name: default-flavor
      resources:
      - {name: cpu, nominalQuota: "4"}
"""


def test_kubectl_applies_and_reads_both_kueue_versions(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=V1BETA1_CQ)
    new = json.loads(
        kubectl("get", "clusterqueues.v1beta2.kueue.x-k8s.io", "old-style", "-o", "json")
    )
    assert new["apiVersion"] == "kueue.x-k8s.io/v1beta2"
    assert new["spec"]["cohortName"] == "research" and "cohort" not in new["spec"]
    assert new["spec"]["admissionChecksStrategy"] == {"admissionChecks": [{"name": "prov"}]}
    old = json.loads(
        kubectl("get", "clusterqueues.v1beta1.kueue.x-k8s.io", "old-style", "-o", "json")
    )
    assert old["apiVersion"] == "kueue.x-k8s.io/v1beta1" and old["spec"]["cohort"] == "research"
    listed = json.loads(kubectl("get", "clusterqueues.v1beta1.kueue.x-k8s.io", "-o", "json"))
    assert [i["spec"]["cohort"] for i in listed["items"]] == ["research"]
    assert "old-style" in kubectl("get", "cq")  # short name, storage version preferred
    # A merge patch in v1beta1 terms lands on the v1beta2 field.
    kubectl(
        "patch",
        "clusterqueues.v1beta1.kueue.x-k8s.io",
        "old-style",
        "--type=merge",
        "-p",
        '{"spec": {"cohort": "physics"}}',
    )
    again = json.loads(kubectl("get", "cq", "old-style", "-o", "json"))
    assert again["spec"]["cohortName"] == "physics"


def test_oscar_job_is_queued_admitted_and_run_by_the_mini_kueue(
    sandbox: Sandbox, kubectl: Kubectl
) -> None:
    sandbox.add_node("wn-1", cpu="4", memory="8Gi")
    kubectl("apply", "-f", "-", stdin=manifest("kueue.yaml", QUOTA_CPU='"4"', QUOTA_MEMORY="8Gi"))
    job = manifest("oscar-job.yaml").replace("suspend: true", "suspend: false")
    kubectl("apply", "-f", "-", stdin=job)  # the webhook suspends it; Kueue then admits it
    name = "posenet-4b1f0d1e-8c0a-4d5e-9f3b-2a7c6e9d1b40"
    out = wait_for(
        lambda: json.loads(kubectl("get", "workloads", "-n", OSCAR_NS, "-o", "json"))["items"]
    )
    [wl] = out
    assert wl["metadata"]["ownerReferences"][0]["name"] == name
    assert wl["spec"]["podSets"][0]["count"] == 1
    done = wait_for(
        lambda: (
            (j := sandbox.store.get("jobs", name, OSCAR_NS))
            and conditions(j).get("Complete", ("",))[0] == "True"
            and j
        )
    )
    events = [
        e["reason"]
        for e in sandbox.store.list("events", OSCAR_NS)[0]
        if e["involvedObject"]["name"] == name
    ]
    assert {"CreatedWorkload", "Started", "Completed"} <= set(events)
    assert done["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "1", "memory": "2Gi"}
    }
    wait_for(
        lambda: (
            conditions(sandbox.store.list("workloads", OSCAR_NS)[0][0]).get("Finished", ("",))[0]
            == "True"
        )
    )
    status = json.loads(kubectl("get", "cq", "oscar-cq", "-o", "json"))["status"]
    assert status["flavorsReservation"][0]["resources"][0]["total"] == "0"


def test_official_client_lists_and_watches_v1beta1_workloads(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cfg = k8s.Configuration()
    k8s_config.load_kube_config(
        config_file=sandbox.write_kubeconfig(tmp_path / "kc"), client_configuration=cfg
    )
    api = k8s.ApiClient(cfg)
    try:
        custom = k8s.CustomObjectsApi(api)
        body = {
            "apiVersion": "kueue.x-k8s.io/v1beta1",
            "kind": "Workload",
            "metadata": {"name": "w", "namespace": OSCAR_NS},
            "spec": {
                "queueName": "q",
                "priorityClassName": "high",
                "priorityClassSource": "kueue.x-k8s.io/workloadpriorityclass",
                "podSets": [
                    {
                        "name": "main",
                        "count": 1,
                        "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}},
                    }
                ],
            },
        }
        made = custom.create_namespaced_custom_object(
            "kueue.x-k8s.io", "v1beta1", OSCAR_NS, "workloads", body
        )
        assert (
            made["apiVersion"] == "kueue.x-k8s.io/v1beta1"
            and made["spec"]["priorityClassName"] == "high"
        )
        stored = sandbox.store.get("workloads", "w", OSCAR_NS)
        assert stored["spec"]["priorityClassRef"]["kind"] == "WorkloadPriorityClass"
        listed = custom.list_cluster_custom_object("kueue.x-k8s.io", "v1beta1", "workloads")
        rv = listed["metadata"]["resourceVersion"]
        resp = custom.list_cluster_custom_object(
            "kueue.x-k8s.io",
            "v1beta1",
            "workloads",
            watch=True,
            resource_version=rv,
            timeout_seconds=5,
            _preload_content=False,
        )
        sandbox.store.mutate(
            "workloads",
            "w",
            OSCAR_NS,
            lambda o: o["metadata"].setdefault("labels", {}).update(a="b"),
        )
        line = next(iter(resp.stream(decode_content=False)))
        event = json.loads(line.splitlines()[0])
        assert event["type"] == "MODIFIED"
        assert event["object"]["apiVersion"] == "kueue.x-k8s.io/v1beta1"
        assert (
            event["object"]["spec"]["priorityClassSource"] == "kueue.x-k8s.io/workloadpriorityclass"
        )
        resp.release_conn()
    finally:
        api.close()
