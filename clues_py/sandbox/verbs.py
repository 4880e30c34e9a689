"""The REST verbs of the sandbox API server: list, create, update, patch, delete, subresources.

`Verbs` is mixed into `server.ApiServer`; each method takes a parsed `Request` and talks to the
`ObjectStore`. It applies what the real API server adds around storage: defaults and status
resets on create, status-subresource separation, patch formats, dry runs, preconditions,
binding and PDB-checked eviction. Routing and watches are `server.py`'s.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from clues_py.sandbox import disruption, resources, schema, strategy, tables, workload_rules
from clues_py.sandbox.encoding import ListBody
from clues_py.sandbox.httpio import Request, wants_table
from clues_py.sandbox.meta import clone, conflict
from clues_py.sandbox.objects import ApiError, ObjectStore, rfc3339
from clues_py.sandbox.patch import APPLY_PATCH, STRATEGIC_PATCH, PatchError, apply_patch

Obj = dict[str, Any]


def _success(code: int = 201) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


class Verbs:
    store: ObjectStore
    _evict_lock: threading.Lock

    def _list(self, req: Request) -> Obj | ListBody:
        info = req.info
        assert info is not None
        try:
            limit = int(req.query.get("limit") or 0)
        except ValueError:
            raise ApiError(400, "BadRequest", "limit must be an integer") from None
        raws, rv, nxt = self.store.list_raw(
            info.plural,
            req.namespace,
            req.query.get("labelSelector", ""),
            req.query.get("fieldSelector", ""),
            limit,
            req.query.get("continue", ""),
        )
        if wants_table(req):
            return self._table(req, [json.loads(r) for r in raws], rv, nxt)
        meta = {"resourceVersion": rv}
        if nxt:
            meta["continue"] = nxt
        return ListBody(
            {"kind": info.list_kind, "apiVersion": info.api_version, "metadata": meta}, raws
        )

    def _table(self, req: Request, objs: list[Obj], rv: str, nxt: str = "") -> Obj:
        assert req.info is not None
        include = req.query.get("includeObject", "Metadata")
        return tables.table(req.info.plural, objs, self.store.clock(), rv, include, nxt)

    def _create(self, req: Request) -> tuple[int, Obj]:
        info = req.info
        assert info is not None
        obj = req.document()
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the request body must be a JSON object")
        _check_kind(info, obj)
        _prepare_create(info, obj)
        workload_rules.prepare(info.plural, obj, self.store)
        strategy.validate_create(info, obj)
        if req.dry_run():
            name = (obj.get("metadata") or {}).get("name")
            if name:
                try:
                    self.store.get(info.plural, name, req.namespace)
                    raise ApiError(409, "AlreadyExists", f'{info.plural} "{name}" already exists')
                except ApiError as e:
                    if e.code != 404:
                        raise
            obj.setdefault("metadata", {}).setdefault(
                "creationTimestamp", rfc3339(self.store.clock())
            )
            return 201, obj
        return 201, self.store.create(info.plural, obj, req.namespace)

    def _merge_into(self, req: Request, current: Obj, new: Obj) -> Obj:
        """What a write through this endpoint may change: status via /status, the rest otherwise."""
        info = req.info
        assert info is not None
        if req.sub == "status":
            merged = dict(current)
            merged["status"] = new.get("status")
            meta = dict(current["metadata"])
            if (new.get("metadata") or {}).get("resourceVersion"):
                meta["resourceVersion"] = new["metadata"]["resourceVersion"]
            merged["metadata"] = meta
            return merged
        if "status" in info.subresources and info.plural != "namespaces":
            new["status"] = current.get("status")
            if new["status"] is None:
                new.pop("status")
        return new

    def _update(self, req: Request) -> Obj:
        info = req.info
        assert info is not None and req.name is not None
        obj = req.document()
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the request body must be a JSON object")
        _check_kind(info, obj)
        if (obj.get("metadata") or {}).get("name") not in (None, req.name):
            raise ApiError(
                400, "BadRequest", "the name of the object does not match the name on the URL"
            )
        current = self.store.get(info.plural, req.name, req.namespace)
        obj.setdefault("metadata", {})["name"] = req.name
        new = self._merge_into(req, current, obj)
        if req.sub is None:
            workload_rules.prepare(info.plural, new, self.store, current)
        strategy.validate_update(info, current, new)
        if req.dry_run():
            return new
        return self.store.update(info.plural, new, req.namespace)

    def _patch(self, req: Request) -> tuple[int, Obj]:
        info = req.info
        assert info is not None and req.name is not None
        ctype = req.headers.get("Content-Type", "")
        if ctype.startswith(APPLY_PATCH):
            return self._server_side_apply(req)
        body = req.document()

        def fn(obj: Obj) -> None:
            rv = obj["metadata"]["resourceVersion"]
            try:
                patched = apply_patch(ctype, obj, body)
            except PatchError as e:
                reason = {415: "UnsupportedMediaType", 422: "Invalid"}.get(e.code, "BadRequest")
                raise ApiError(e.code, reason, str(e)) from None
            want = (patched.get("metadata") or {}).get("resourceVersion")
            if want and want != rv:
                raise conflict(info, req.name or "")
            patched.setdefault("metadata", {})["resourceVersion"] = rv
            new = self._merge_into(req, clone(obj), patched)
            if req.sub is None:
                workload_rules.prepare(info.plural, new, self.store, obj)
            strategy.validate_update(info, obj, new)
            obj.clear()
            obj.update(new)

        if req.dry_run():
            obj = self.store.get(info.plural, req.name, req.namespace)
            fn(obj)
            return 200, obj
        return 200, self.store.mutate(info.plural, req.name, req.namespace, fn)

    def _server_side_apply(self, req: Request) -> tuple[int, Obj]:
        """Server-side apply without field ownership: create if absent, else strategic merge."""
        body = req.document()
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the apply patch must be an object")
        try:
            self.store.get_raw(req.info.plural, req.name or "", req.namespace)  # type: ignore[union-attr]
        except ApiError as e:
            if e.code != 404:
                raise
            body.setdefault("metadata", {})["name"] = req.name
            req.body = json.dumps(body).encode()
            return self._create(req)
        req.body = json.dumps(body).encode()
        req.headers = {**dict(req.headers.items()), "Content-Type": STRATEGIC_PATCH}
        return self._patch(req)

    def _delete(self, req: Request) -> Obj:
        info = req.info
        assert info is not None and req.name is not None
        workload_rules.check_delete(info.plural, req.name)
        opts = req.document() or {}
        grace = opts.get("gracePeriodSeconds", req.query.get("gracePeriodSeconds"))
        pre = opts.get("preconditions") or {}
        if pre or req.dry_run() or "dryRun" in opts:
            current = self.store.get(info.plural, req.name, req.namespace)
            for field in ("uid", "resourceVersion"):
                if pre.get(field) and pre[field] != current["metadata"].get(field):
                    raise ApiError(
                        409,
                        "Conflict",
                        f"Precondition failed: {field} in precondition: {pre[field]}, {field} in object meta: {current['metadata'].get(field)}",
                    )
            if req.dry_run() or opts.get("dryRun") == ["All"]:
                return current
        return self.store.delete(
            info.plural,
            req.name,
            req.namespace,
            None if grace in (None, "") else int(grace),
            workload_rules.propagation(info, opts, req.query),
        )

    def _delete_collection(self, req: Request) -> Obj:
        info = req.info
        assert info is not None
        items, rv = self.store.list(
            info.plural,
            req.namespace,
            req.query.get("labelSelector", ""),
            req.query.get("fieldSelector", ""),
        )
        opts = req.document() or {}
        grace = opts.get("gracePeriodSeconds", req.query.get("gracePeriodSeconds"))
        out = []
        for obj in items:
            meta = obj["metadata"]
            try:
                out.append(
                    self.store.delete(
                        info.plural,
                        meta["name"],
                        meta.get("namespace"),
                        None if grace in (None, "") else int(grace),
                        workload_rules.propagation(info, opts, req.query),
                    )
                )
            except ApiError as e:
                if e.code != 404:
                    raise
        return {
            "kind": info.list_kind,
            "apiVersion": info.api_version,
            "metadata": {"resourceVersion": rv},
            "items": out,
        }

    def _bind(self, req: Request) -> Obj:
        body = req.document() or {}
        node = (body.get("target") or {}).get("name")
        if not node:
            raise ApiError(
                422, "Invalid", f'Binding "{req.name}" is invalid: target.name: Required value'
            )

        def bind(pod: Obj) -> None:
            spec = pod.setdefault("spec", {})
            if spec.get("nodeName"):
                raise ApiError(
                    409,
                    "Conflict",
                    f'pod {req.name} is already assigned to node "{spec["nodeName"]}"',
                )
            spec["nodeName"] = node
            status = pod.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append(
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": rfc3339(self.store.clock()),
                }
            )
            status["conditions"] = conds

        self.store.mutate("pods", req.name or "", req.namespace, bind)
        return _success()

    def _evict(self, req: Request) -> Obj:
        body = req.document() or {}
        with self._evict_lock:
            pod = self.store.get("pods", req.name or "", req.namespace)
            disruption.check_eviction(self.store, pod)
            if req.dry_run():
                return _success()
            grace = (body.get("deleteOptions") or {}).get("gracePeriodSeconds")
            self.store.delete("pods", req.name or "", req.namespace, grace)
        return _success()

    # ------------------------------------------------------------------------- watch


def _check_kind(info: resources.ResourceInfo, obj: Obj) -> None:
    kind = obj.get("kind")
    if kind and kind != info.kind:
        raise ApiError(
            400,
            "BadRequest",
            f"the kind {kind!r} in the body does not match the resource {info.plural!r} ({info.kind})",
        )


def _prepare_create(info: resources.ResourceInfo, obj: Obj) -> None:
    """What a client may not set on create: status, for kinds whose status is a subresource.

    Nodes are the exception (kubelets register with their status). Defaults are the store's
    (`strategy.prepare_create`), so they apply to the sandbox's own controllers too.
    """
    if "status" in info.subresources and info.plural != "nodes":
        status = schema.status_type(info.api_version, info.kind)
        obj["status"] = schema.zero_json(status) if status else {}
