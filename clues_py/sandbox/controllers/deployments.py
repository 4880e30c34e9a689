"""The apps/v1 Deployment controller of the sandbox: ReplicaSets per template, rollouts, status.

Each sync of a Deployment finds the ReplicaSet whose template matches (creating it,
with the next `deployment.kubernetes.io/revision`, when rolling out), takes one
step of the strategy (`rollout.py`: RollingUpdate bounded by maxSurge and
maxUnavailable, or Recreate), prunes old ReplicaSets past revisionHistoryLimit and
writes the status and conditions `kubectl rollout status` reads. ReplicaSet status
changes re-sync it, so a rollout advances as pods become available. Pods are the
ReplicaSet controller's (`replicasets.py`); `kubectl rollout undo` is client-side
(it patches the template back) and needs nothing here.
"""

from __future__ import annotations

from typing import Any

from clues_py.sandbox.controllers import rollout
from clues_py.sandbox.controllers.common import Obj, key_of, owner_ref
from clues_py.sandbox.controllers.events import EventRecorder
from clues_py.sandbox.controllers.owned import OwnerController
from clues_py.sandbox.controllers.replicalogic import desired
from clues_py.sandbox.controllers.runtime import Runtime
from clues_py.sandbox.meta import clone

SOURCE = "deployment-controller"


class DeploymentController(OwnerController):
    def __init__(self, runtime: Runtime, events: EventRecorder) -> None:
        super().__init__(runtime, events, "deployments", frozenset({"replicasets"}))

    # ----------------------------------------------------------------- one deployment
    def reconcile(self, d: Obj) -> None:
        spec = d.get("spec") or {}
        uid = d["metadata"].get("uid", "")
        template = spec.get("template") or {}
        owned = self.rt.cache.owned("replicasets", uid)
        matching = [r for r in owned if rollout.same_template(_template(r), template)]
        new_obj = max(
            matching, key=lambda r: r["metadata"].get("creationTimestamp", ""), default=None
        )
        old_objs = [r for r in owned if r is not new_obj]
        old = [rollout.RS.from_k8s(r) for r in old_objs]
        max_old = max((r.revision for r in old), default=0)
        event: tuple[str, str] | None = None
        if new_obj is not None:
            new_obj, found = self._sync_revision(d, new_obj, max_old)
            if found:
                event = (
                    "FoundNewReplicaSet",
                    f'Found new replica set "{new_obj["metadata"]["name"]}"',
                )
        new = rollout.RS.from_k8s(new_obj) if new_obj is not None else None
        everyone = ([new] if new else []) + old
        strategy = (spec.get("strategy") or {}).get("type") or "RollingUpdate"
        if spec.get("paused") or rollout.is_scaling_event(d, everyone):
            self._apply(d, rollout.scale_step(d, new, old), new_obj, old_objs)
        elif strategy == "Recreate":
            old_pods = any(r.replicas > 0 for r in old)
            if new is None and not any(r.spec_replicas for r in old) and not old_pods:
                new_obj = self._create_rs(d, max_old + 1, desired(d))
                if new_obj is not None:
                    new = rollout.RS.from_k8s(new_obj)
                    event = _created(new_obj)
            else:
                step = rollout.recreate_step(d, new, old, old_pods)
                self._apply(d, step, new_obj, old_objs)
        else:
            if new is None:
                new_obj = self._create_rs(d, max_old + 1, rollout.new_rs_replicas(d, None, old))
                if new_obj is not None:
                    new = rollout.RS.from_k8s(new_obj)
                    event = _created(new_obj)
            elif not self._apply(d, rollout.rolling_step(d, new, old), new_obj, old_objs):
                self._cleanup(d, old)
        if spec.get("paused") and new is not None:
            self._cleanup(d, old)
        self._write_status(d, new, old, event)

    def _sync_revision(self, d: Obj, rs: Obj, max_old: int) -> tuple[Obj, bool]:
        """Give the current ReplicaSet the newest revision (a rollback makes an old one new)."""
        md = d["metadata"]
        found = rollout.progressing(d.get("status") or {}) is None
        current = rollout.revision_of(rs)
        wanted = max(current, max_old + 1)
        if current < wanted:

            def bump(r: Obj) -> None:
                ann = r["metadata"].setdefault("annotations", {})
                if current:
                    history = [
                        h for h in str(ann.get(rollout.REVISION_HISTORY, "")).split(",") if h
                    ]
                    ann[rollout.REVISION_HISTORY] = ",".join([*history, str(current)])
                ann[rollout.REVISION] = str(wanted)

            rmd = rs["metadata"]
            rs = self.rt.mutate("replicasets", rmd["name"], rmd.get("namespace"), bump) or rs
        if ((md.get("annotations") or {}).get(rollout.REVISION)) != str(wanted):

            def mark(o: Obj) -> None:
                o["metadata"].setdefault("annotations", {})[rollout.REVISION] = str(wanted)

            self.rt.mutate("deployments", md["name"], md.get("namespace"), mark)
        return rs, found

    def _create_rs(self, d: Obj, revision: int, replicas: int) -> Obj | None:
        md = d["metadata"]
        spec = d.get("spec") or {}
        collisions = int((d.get("status") or {}).get("collisionCount") or 0)
        template: dict[str, Any] = clone(spec.get("template") or {})
        h = rollout.template_hash(template, collisions)
        tmd = template.setdefault("metadata", {})
        tmd.setdefault("labels", {})[rollout.HASH_LABEL] = h
        selector: dict[str, Any] = clone(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[rollout.HASH_LABEL] = h
        surge, _ = rollout.fenceposts(d)
        annotations = rollout.copied_annotations(d)
        annotations.update(
            {
                rollout.REVISION: str(revision),
                rollout.DESIRED_REPLICAS: str(desired(d)),
                rollout.MAX_REPLICAS: str(desired(d) + surge),
            }
        )
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{md['name']}-{h}",
                "namespace": md.get("namespace"),
                "labels": dict(tmd.get("labels") or {}),
                "annotations": annotations,
                "ownerReferences": [owner_ref(d, "apps/v1", "Deployment")],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": selector,
                "template": template,
            },
        }
        out = self.rt.create("replicasets", rs, md.get("namespace"))
        if out is None:
            return None
        if replicas > 0:
            self._scaled(d, out["metadata"]["name"], 0, replicas)

        def mark(o: Obj) -> None:
            o["metadata"].setdefault("annotations", {})[rollout.REVISION] = str(revision)

        self.rt.mutate("deployments", md["name"], md.get("namespace"), mark)
        return out

    def _apply(self, d: Obj, step: dict[str, int], new_obj: Obj | None, old: list[Obj]) -> bool:
        """Scale ReplicaSets to the step's counts (with the replicas annotations); True if any."""
        if not step:
            return False
        surge, _ = rollout.fenceposts(d)
        want, most = str(desired(d)), str(desired(d) + surge)
        for rs in ([new_obj] if new_obj else []) + old:
            name = rs["metadata"]["name"]
            if name not in step:
                continue
            target, before = step[name], desired(rs)

            def put(r: Obj, target: int = target) -> None:
                r.setdefault("spec", {})["replicas"] = target
                ann = r["metadata"].setdefault("annotations", {})
                ann[rollout.DESIRED_REPLICAS] = want
                ann[rollout.MAX_REPLICAS] = most

            self.rt.mutate("replicasets", name, rs["metadata"].get("namespace"), put)
            if target != before:
                self._scaled(d, name, before, target)
        return True

    def _scaled(self, d: Obj, rs: str, before: int, after: int) -> None:
        verb = "up" if after > before else "down"
        self.events.record(
            d,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled {verb} replica set {rs} from {before} to {after}",
            source=SOURCE,
        )

    def _cleanup(self, d: Obj, old: list[rollout.RS]) -> None:
        ns = d["metadata"].get("namespace")
        for name in rollout.to_delete(d, old):
            self.rt.delete("replicasets", name, ns)

    def _write_status(
        self,
        d: Obj,
        new: rollout.RS | None,
        old: list[rollout.RS],
        event: tuple[str, str] | None,
    ) -> None:
        now = self.rt.clock.now()
        # Read again: this sync may have changed the ReplicaSets.
        current = self.rt.cache.get("deployments", key_of(d)) or d
        status = rollout.deployment_status(current, new, ([new] if new else []) + old, now, event)
        self.write_status(current, status)
        due = rollout.deadline(current, status)
        self.wake_at(d, None if due is None else due + 0.001, earliest=False)


def _template(rs: Obj) -> Obj:
    return (rs.get("spec") or {}).get("template") or {}


def _created(rs: Obj) -> tuple[str, str]:
    return ("NewReplicaSetCreated", f'Created new replica set "{rs["metadata"]["name"]}"')
