"""The provisioning admission check of the sandbox's mini-Kueue, as Kueue implements it.

For a Workload holding quota whose ClusterQueue requires an AdmissionCheck with controller
`kueue.x-k8s.io/provisioning-request`, creates PodTemplates `ppt-<request>-<podset>` (the
pod set's template with its flavor's node labels, limits standing in for missing requests)
and the ProvisioningRequest `<workload>-<check>-<attempt>` of the
ProvisioningRequestConfig's class, owned by the Workload. Then it mirrors the request's
conditions into the Workload's check state: Provisioned -> Ready, with pod set updates
naming the request the pods consume; Failed or BookingExpired -> Retry after
min(backoffBaseSeconds^attempt, backoffMaxSeconds), up to backoffLimitCount, then
Rejected; CapacityRevoked -> Rejected; Provisioned=False -> Pending with its message.
AdmissionChecks get their Active condition; requests of finished Workloads are deleted
with their PodTemplates (those of deleted Workloads go with the garbage collector). Who answers the requests (clues-py, in the place of
Cluster Autoscaler) is not its business; quota and admission are `kueue.py`'s.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import Any

from clues_py.sandbox.controllers import kueue_jobs as kj
from clues_py.sandbox.controllers.common import Obj, owner_ref, rfc3339, set_condition
from clues_py.sandbox.controllers.runtime import Runtime

CONTROLLER = "kueue.x-k8s.io/provisioning-request"
REQUEST_API = "autoscaling.x-k8s.io/v1"
MANAGED = {"kueue.x-k8s.io/managed": "true"}
CONSUMES = "autoscaling.x-k8s.io/consume-provisioning-request"
CLASS_ANNOTATION = "autoscaling.x-k8s.io/provisioning-class-name"
PARAM_PREFIX = "provreq.kueue.x-k8s.io/"
_MAX_NAME = 253


def limit_name(name: str) -> str:
    """Kueue's limitObjectName: long names are cut and given a hash suffix."""
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:5]
    return f"{name[: _MAX_NAME - 6]}-{digest}"


def request_name(workload: str, check: str, attempt: int) -> str:
    return limit_name(f"{workload}-{check}-{attempt}")


def template_name(request: str, pod_set: str) -> str:
    return limit_name(f"ppt-{request}-{pod_set}")


def _limits_as_requests(spec: Obj) -> None:
    for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ())):
        res = c.setdefault("resources", {})
        limits = res.get("limits") or {}
        if limits:
            res["requests"] = {**limits, **(res.get("requests") or {})}


def _uses(pod_spec: Mapping[str, Any], resources: set[str]) -> bool:
    for c in (*(pod_spec.get("initContainers") or ()), *(pod_spec.get("containers") or ())):
        res = c.get("resources") or {}
        if resources.intersection({**(res.get("limits") or {}), **(res.get("requests") or {})}):
            return True
    return False


def _condition(obj: Mapping[str, Any], ctype: str) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == ctype and c.get("status") == "True":
            return dict(c)
    return None


class ProvisioningController:
    resources = frozenset(
        {"workloads", "admissionchecks", "provisioningrequestconfigs", "provisioningrequests"}
    )

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._dirty = False

    def observe(self, resource: str, old: Obj | None, new: Obj | None) -> bool:
        self._dirty = True
        return True

    def sync(self) -> None:
        objects = self.rt.cache.objects
        if not self._dirty or not objects["clusterqueues"]:
            return
        self._dirty = False
        configs = objects["provisioningrequestconfigs"]
        checks: dict[str, Obj] = {}
        for name, ac in sorted(objects["admissionchecks"].items()):
            if (ac.get("spec") or {}).get("controllerName") != CONTROLLER:
                continue
            checks[name] = ac
            self._ac_status(ac, self._config(ac, configs) is not None)
        live: set[str] = set()
        for _, wl in sorted(objects["workloads"].items()):
            if kj.is_true(wl, "Finished"):
                continue
            live.add(wl["metadata"].get("uid", ""))
            if not kj.is_true(wl, "QuotaReserved") or kj.is_true(wl, "Admitted"):
                continue
            for state in (wl.get("status") or {}).get("admissionChecks") or ():
                check = checks.get(str(state.get("name", "")))
                if check is not None and state.get("state") == "Pending":
                    self._check(wl, state, check, self._config(check, configs))
        self._clean_up(live)

    @staticmethod
    def _config(ac: Obj, configs: Mapping[str, Obj]) -> Obj | None:
        params = (ac.get("spec") or {}).get("parameters") or {}
        if params.get("kind") != "ProvisioningRequestConfig":
            return None
        return configs.get(str(params.get("name", "")))

    def _ac_status(self, ac: Obj, configured: bool) -> None:
        now = self.rt.clock.now()
        wanted = ((ac.get("spec") or {}).get("parameters") or {}).get("name", "")
        value, reason, message = (
            ("True", "Active", "The admission check is active")
            if configured
            else ("False", "BadParametersRef", f"ProvisioningRequestConfig {wanted!r} not found")
        )
        cond = next(
            (
                c
                for c in (ac.get("status") or {}).get("conditions") or ()
                if c.get("type") == "Active"
            ),
            None,
        )
        if cond is not None and (cond.get("status"), cond.get("reason")) == (value, reason):
            return

        def put(o: Obj) -> None:
            set_condition(o.setdefault("status", {}), "Active", value, reason, message, now)

        self.rt.mutate("admissionchecks", ac["metadata"]["name"], None, put)

    # ------------------------------------------------------------------ one check

    def _check(self, wl: Obj, state: Obj, ac: Obj, prc: Obj | None) -> None:
        check = str(state.get("name", ""))
        if prc is None:
            self._set_state(wl, check, "Pending", "the check is not active")
            return
        spec = prc.get("spec") or {}
        managed = set(spec.get("managedResources") or ())
        pod_sets = [
            ps
            for ps in (wl.get("spec") or {}).get("podSets") or ()
            if int(ps.get("count") or 0) > 0
            and (not managed or _uses((ps.get("template") or {}).get("spec") or {}, managed))
        ]
        if not pod_sets:
            self._set_state(wl, check, "Ready", "the provisioning request is not needed")
            return
        attempt = int(state.get("retryCount") or 0) + 1
        wmeta = wl["metadata"]
        ns = wmeta.get("namespace", "default")
        name = request_name(wmeta["name"], check, attempt)
        pr = self.rt.cache.get("provisioningrequests", f"{ns}/{name}")
        if pr is None:
            self._create(wl, name, pod_sets, spec)
            return
        retry = spec.get("retryStrategy") or {}
        limit = int(retry.get("backoffLimitCount", 3))
        base = float(retry.get("backoffBaseSeconds", 60))
        most = float(retry.get("backoffMaxSeconds", 1800))
        failed = _condition(pr, "Failed") or _condition(pr, "BookingExpired")
        if _condition(pr, "CapacityRevoked"):
            msg = (_condition(pr, "CapacityRevoked") or {}).get("message", "capacity revoked")
            self._set_state(wl, check, "Rejected", str(msg))
        elif failed is not None:
            what = "failure" if failed["type"] == "Failed" else "booking expired"
            msg = str(failed.get("message", ""))
            if attempt <= limit:
                delay = min(base**attempt, most)
                self._set_state(
                    wl,
                    check,
                    "Retry",
                    f"Retrying after {what}: {msg}",
                    retry_count=attempt,
                    requeue_after=int(delay),
                )
            else:
                self._set_state(wl, check, "Rejected", msg)
        elif (ok := _condition(pr, "Provisioned")) is not None:
            updates = [
                {
                    "name": ps.get("name", "main"),
                    "annotations": {
                        CONSUMES: name,
                        CLASS_ANNOTATION: pr["spec"]["provisioningClassName"],
                    },
                }
                for ps in pod_sets
            ]
            self._set_state(wl, check, "Ready", str(ok.get("message", "")), updates=updates)
        else:
            prov = next(
                (
                    c
                    for c in (pr.get("status") or {}).get("conditions") or ()
                    if c.get("type") == "Provisioned"
                ),
                None,
            )
            self._set_state(wl, check, "Pending", str((prov or {}).get("message", "")))

    def _create(self, wl: Obj, name: str, pod_sets: list[Obj], spec: Obj) -> None:
        wmeta = wl["metadata"]
        ns = wmeta.get("namespace", "default")
        admission = (wl.get("status") or {}).get("admission") or {}
        flavors = {
            a.get("name"): a.get("flavors") or {} for a in admission.get("podSetAssignments") or ()
        }
        refs = []
        for ps in pod_sets:
            ps_name = str(ps.get("name", "main"))
            template = copy.deepcopy(ps.get("template") or {})
            pspec = template.setdefault("spec", {})
            selector = dict(pspec.get("nodeSelector") or {})
            for flavor in sorted(set((flavors.get(ps_name) or {}).values())):
                rf = self.rt.cache.get("resourceflavors", flavor) or {}
                selector.update((rf.get("spec") or {}).get("nodeLabels") or {})
            if selector:
                pspec["nodeSelector"] = selector
            _limits_as_requests(pspec)
            pt_name = template_name(name, ps_name)
            pt = {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": {
                    "name": pt_name,
                    "namespace": ns,
                    "labels": dict(MANAGED),
                    "ownerReferences": [owner_ref(wl, kj.WORKLOAD_API, "Workload")],
                },
                "template": template,
            }
            self.rt.create("podtemplates", pt, ns)
            refs.append({"podTemplateRef": {"name": pt_name}, "count": int(ps.get("count") or 0)})
        params = dict(spec.get("parameters") or {})
        for k, v in (wmeta.get("annotations") or {}).items():
            if k.startswith(PARAM_PREFIX):
                params[k[len(PARAM_PREFIX) :]] = v
        pr = {
            "apiVersion": REQUEST_API,
            "kind": "ProvisioningRequest",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": dict(MANAGED),
                "ownerReferences": [owner_ref(wl, kj.WORKLOAD_API, "Workload")],
            },
            "spec": {
                "provisioningClassName": spec.get("provisioningClassName", ""),
                "parameters": params,
                "podSets": refs,
            },
        }
        self.rt.create("provisioningrequests", pr, ns)

    def _set_state(
        self,
        wl: Obj,
        check: str,
        state: str,
        message: str,
        *,
        retry_count: int | None = None,
        requeue_after: int | None = None,
        updates: list[Obj] | None = None,
    ) -> None:
        current = next(
            (
                c
                for c in (wl.get("status") or {}).get("admissionChecks") or ()
                if c.get("name") == check
            ),
            None,
        )
        if current is not None and (current.get("state"), current.get("message", "")) == (
            state,
            message,
        ):
            return
        now = rfc3339(self.rt.clock.now())
        uid = wl["metadata"].get("uid")

        def put(w: Obj) -> None:
            if w["metadata"].get("uid") != uid:
                return
            for c in (w.get("status") or {}).get("admissionChecks") or ():
                if c.get("name") != check:
                    continue
                if c.get("state") != state:
                    c["lastTransitionTime"] = now
                c.update(state=state, message=message)
                if retry_count is not None:
                    c["retryCount"] = retry_count
                if requeue_after is not None:
                    c["requeueAfterSeconds"] = requeue_after
                if updates is not None:
                    c["podSetUpdates"] = updates

        meta = wl["metadata"]
        self.rt.mutate("workloads", meta["name"], meta.get("namespace"), put)

    # ------------------------------------------------------------------ clean-up

    def _clean_up(self, live: set[str]) -> None:
        """Delete requests (and their PodTemplates) whose Workload finished or is gone."""
        for key, pr in sorted(self.rt.cache.objects["provisioningrequests"].items()):
            owner = next(
                (
                    r
                    for r in pr["metadata"].get("ownerReferences") or ()
                    if r.get("kind") == "Workload"
                ),
                None,
            )
            if owner is None or owner.get("uid") in live:
                continue
            ns, _, name = key.partition("/")
            for ref in (pr.get("spec") or {}).get("podSets") or ():
                self.rt.delete(
                    "podtemplates", (ref.get("podTemplateRef") or {}).get("name", ""), ns
                )
            self.rt.delete("provisioningrequests", name, ns)
