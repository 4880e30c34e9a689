"""`sim` power manager: switches the sandbox's emulated machines over its HTTP hook.

A powered-on machine registers its Node after `boot_seconds` (or never, with
probability `failure_rate`); a powered-off one disappears after
`shutdown_seconds`. It talks to `/sandbox/v1/machines` over HTTP, so it drives a
standalone `clues sandbox` as well as the demo's embedded one.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Annotated, Any

from clues_py.contracts import (
    DAY,
    HOUR,
    OwnedInstance,
    PluginContext,
    PluginError,
    PowerState,
    Range,
)
from clues_py.model import ManagedNode, NodeTemplate, format_cpu

_STATES = {
    "on": PowerState.ON,
    "booting": PowerState.BOOTING,
    "stopping": PowerState.STOPPING,
    "off": PowerState.OFF,
}


class SimPowerManager:
    @dataclass(frozen=True)
    class Config:
        url: str = ""  # sandbox API URL; default: the `sandbox_url` the host passes in
        # default: the template's boot_seconds / shutdown_seconds
        boot_seconds: Annotated[float, Range(0, DAY)] | None = None
        shutdown_seconds: Annotated[float, Range(0, DAY)] | None = None
        # probability that a boot never registers a Node
        failure_rate: Annotated[float, Range(0, 1)] = 0.0
        seed: Annotated[int, Range(0, 2**63 - 1)] | None = None
        timeout: Annotated[float, Range(0.1, HOUR)] = 10.0

    def __init__(self, config: Config, context: PluginContext) -> None:
        url = config.url or str(context.extras.get("sandbox_url", ""))
        if not url:
            raise PluginError(
                f"power.{context.instance}: no sandbox url; set `url:` to the sandbox API "
                "(e.g. http://127.0.0.1:6443) or start it with `clues sandbox`"
            )
        if not 0.0 <= config.failure_rate <= 1.0:
            raise PluginError(
                f"power.{context.instance}.failure_rate: {config.failure_rate} is not in [0, 1]"
            )
        self._url = url.rstrip("/")
        self._cfg = config
        self._ctx = context
        self._rng = random.Random(config.seed)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self._url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self._cfg.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            detail = exc.read().decode(errors="replace")[:300]
            raise PluginError(f"sandbox {method} {path}: HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise PluginError(f"sandbox at {self._url} unreachable: {exc}") from exc
        return json.loads(raw) if raw else None

    def power_on(self, node: ManagedNode, template: NodeTemplate) -> str:
        r = template.resources
        boot = (
            self._cfg.boot_seconds if self._cfg.boot_seconds is not None else template.boot_seconds
        )
        self._call(
            "POST",
            "/sandbox/v1/machines",
            {
                "name": node.name,
                "cpu": format_cpu(r.cpu_millis),
                "memory": str(r.memory_bytes),
                "gpus": r.gpus,
                "pods": r.pods or 110,
                "labels": {
                    **template.label_map,
                    "clues-py.io/template": template.name,
                    "clues-py.io/cluster": self._ctx.cluster_name,
                },
                "taints": [
                    {"key": t.key, "value": t.value, "effect": t.effect} for t in template.taints
                ],
                "boot_seconds": boot,
                "fail": self._rng.random() < self._cfg.failure_rate,
            },
        )
        return f"sim://{node.name}"

    def _shutdown_seconds(self, node: ManagedNode) -> float:
        if self._cfg.shutdown_seconds is not None:
            return self._cfg.shutdown_seconds
        t = self._ctx.templates.get(node.template)
        return t.shutdown_seconds if t else 0.0

    def power_off(self, node: ManagedNode) -> None:
        # A machine that is already gone is off: power-off is idempotent.
        self._call(
            "DELETE",
            f"/sandbox/v1/machines/{node.name}?shutdown_seconds={self._shutdown_seconds(node)}",
        )

    def describe(self, node: ManagedNode) -> PowerState:
        m = self._call("GET", f"/sandbox/v1/machines/{node.name}")
        if m is None:
            return PowerState.OFF
        return _STATES.get(str(m.get("state")), PowerState.UNKNOWN)

    def list_owned(self) -> list[OwnedInstance]:
        data = self._call("GET", "/sandbox/v1/machines") or {}
        out = []
        for m in data.get("items", []):
            labels = m.get("labels") or {}
            if labels.get("clues-py.io/cluster") != self._ctx.cluster_name:
                continue
            out.append(
                OwnedInstance(
                    provider_id=f"sim://{m['name']}",
                    node_name=m["name"],
                    template=labels.get("clues-py.io/template", ""),
                    state=_STATES.get(str(m.get("state")), PowerState.UNKNOWN),
                )
            )
        return out

    def close(self) -> None:
        pass
