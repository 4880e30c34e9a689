"""Operator hooks: commands run when nodes are powered, fail, become idle or used.

Configured under `hooks:` (event -> command, timeout, cancel_on_failure). Each
hook runs without a shell (unless `shell: true`) with CLUES_* environment
variables describing the node and the event.

- `pre_power_on` / `pre_power_off` run synchronously on the actuator's worker
  thread right before the provider call (`Hooks.pre`); when one fails and
  `cancel_on_failure` is true (the default) the operation is cancelled: the
  actuator reports DRAIN_ABORTED (the node goes back in service, uncordoned) or
  POWER_ON_FAILED.
- The others follow the daemon's bus (`Hooks.attach`): `post_power_on`/`post_power_off`
  on a successful ActionFinished, `on_error` on a transition into ON_ERROR or
  OFF_ERROR, `on_idle`/`on_used` on a transition into IDLE/USED, `on_terminate` when
  reconciliation has ended an owned instance (InstanceTerminated). They run on a
  small thread pool so a slow hook never blocks the loop; a failure is logged
  and recorded in the store as a decision keyed `hook/<event>/<node>`.

What a hook does is the operator's business; when nodes change state is the FSM's.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from clues_py.config.load import HookConfig
from clues_py.daemon.bus import ActionFinished, Bus, InstanceTerminated, TransitionEvent
from clues_py.model import ManagedNode, NodeState
from clues_py.store import Store

log = logging.getLogger("clues.hooks")

MAX_OUTPUT_CHARS = 500


class HookFailed(Exception):
    """A hook exited non-zero, timed out or could not start; the message says which."""


def run_hook(event: str, spec: HookConfig, env: Mapping[str, str]) -> None:
    """Run one hook to completion; raise HookFailed with its stderr (truncated) on failure."""
    try:
        if isinstance(spec.command, str):
            argv = ["/bin/sh", "-c", spec.command] if spec.shell else shlex.split(spec.command)
        else:
            argv = list(spec.command)
    except ValueError as exc:  # unbalanced quotes (the config loader rejects these too)
        raise HookFailed(f"hook {event}: cannot split {spec.command!r}: {exc}") from None
    if not argv:
        raise HookFailed(f"hook {event}: empty command")
    try:
        # Own session: a timeout kills the hook and everything it started.
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
            start_new_session=True,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise HookFailed(f"hook {event}: cannot run {argv[0]!r}: {exc.strerror or exc}") from exc
    try:
        _, err = proc.communicate(timeout=spec.timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise HookFailed(
            f"hook {event}: timed out after {spec.timeout:g} s and was killed"
        ) from None
    if proc.returncode != 0:
        detail = err.strip()
        if len(detail) > MAX_OUTPUT_CHARS:
            detail = detail[:MAX_OUTPUT_CHARS] + "..."
        raise HookFailed(
            f"hook {event}: {argv[0]} exited with {proc.returncode}"
            + (f": {detail}" if detail else "")
        )


class Hooks:
    def __init__(
        self,
        specs: Mapping[str, HookConfig],
        *,
        cluster: str,
        store: Store | None = None,
        now: Callable[[], float] | None = None,
        workers: int = 2,
    ) -> None:
        self.specs = dict(specs)
        self._cluster = cluster
        self._store = store
        self._now = now
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clues-hook")
        self._lock = threading.Lock()
        self._closed = False
        self._unsubscribe: Callable[[], None] | None = None

    def env(self, event: str, node: ManagedNode, **extra: str) -> dict[str, str]:
        out = {
            "CLUES_EVENT": event,
            "CLUES_NODE": node.name,
            "CLUES_TEMPLATE": node.template,
            "CLUES_STATE": node.state.value,
            "CLUES_PROVIDER_ID": node.provider_id or "",
            "CLUES_CLUSTER": self._cluster,
        }
        out.update({f"CLUES_{k.upper()}": v for k, v in extra.items()})
        return out

    # ------------------------------------------------------------------ synchronous (veto)

    def pre(self, event: str, node: ManagedNode, reason: str = "") -> str | None:
        """Run `pre_power_on`/`pre_power_off` now; the veto message, or None to go ahead."""
        spec = self.specs.get(event)
        if spec is None:
            return None
        try:
            run_hook(event, spec, self.env(event, node, reason=reason))
        except HookFailed as exc:
            if spec.cancel_on_failure:
                log.warning("%s: %s; cancelled", node.name, exc)
                return f"cancelled by {exc}"
            log.warning("%s: %s (cancel_on_failure is false: going ahead)", node.name, exc)
            self._record(event, node.name, str(exc))
        return None

    # ------------------------------------------------------------------ asynchronous (bus)

    def attach(self, bus: Bus) -> None:
        if self._unsubscribe is None and any(not e.startswith("pre_") for e in self.specs):
            self._unsubscribe = bus.subscribe(self._on_event)

    def _on_event(self, event: object) -> None:
        # Runs in the publisher's thread, often under the daemon's lock: only enqueue here.
        if isinstance(event, ActionFinished) and event.ok:
            name = {"power_on": "post_power_on", "power_off": "post_power_off"}.get(event.kind)
            if name and name in self.specs:
                node = ManagedNode(
                    name=event.node, template=event.template, state=NodeState.UNKNOWN, since=0.0
                )
                env = self.env(name, node, action=event.kind, seconds=f"{event.seconds:.3f}")
                env.pop("CLUES_STATE")  # not known from an ActionFinished
                self._submit(name, event.node, env)
        elif isinstance(event, InstanceTerminated) and "on_terminate" in self.specs:
            node = ManagedNode(name=event.node, template="", state=NodeState.UNKNOWN, since=0.0)
            env = self.env("on_terminate", node, reason=event.reason)
            env.update(CLUES_PROVIDER_ID=event.provider_id)
            for unknown in ("CLUES_STATE", "CLUES_TEMPLATE"):  # not known from the instance
                env.pop(unknown)
            self._submit("on_terminate", event.node, env)
        elif isinstance(event, TransitionEvent) and event.old != event.new:
            name = {
                NodeState.ON_ERROR: "on_error",
                NodeState.OFF_ERROR: "on_error",
                NodeState.IDLE: "on_idle",
                NodeState.USED: "on_used",
            }.get(event.new)
            if name and name in self.specs:
                env = self.env(
                    name,
                    event.node,
                    old_state=event.old.value,
                    reason=event.reason,
                    error=event.node.last_error or "",
                )
                self._submit(name, event.node.name, env)

    def _submit(self, event: str, node: str, env: dict[str, str]) -> None:
        spec = self.specs[event]
        with self._lock:
            if self._closed:
                return

            def job() -> None:
                try:
                    run_hook(event, spec, env)
                    log.debug("hook %s for %s: ok", event, node)
                except HookFailed as exc:
                    log.warning("%s: %s", node, exc)
                    self._record(event, node, str(exc))
                except Exception:
                    log.exception("hook %s for %s: unexpected error", event, node)

            self._pool.submit(job)

    def _record(self, event: str, node: str, message: str) -> None:
        if self._store is None:
            return
        try:
            at = self._now() if self._now is not None else 0.0
            self._store.add_decision(at, f"hook/{event}/{node}", message)
        except Exception as exc:  # store closed during shutdown: the log line is enough
            log.debug("could not record hook failure: %s", exc)

    def close(self, wait: bool = True) -> None:
        """Stop listening; by default let running hooks finish."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
