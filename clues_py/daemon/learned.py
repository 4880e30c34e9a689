"""What the daemon learns about its templates while it runs, for the next snapshot.

- `DaemonSetOverhead`: the room DaemonSet pods take on every node of a template, learned
  from the Ready nodes of it, so new nodes are packed net of it.
- `TemplateHealth`: consecutive failed power-ons per template and the back-off they earn,
  so the planner falls back to the next template.

Both are fed by the daemon (observations as they change, bus events) and read when it
builds a `ClusterSnapshot`; neither does I/O nor reads a clock (event times come with the
events).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from clues_py.daemon.bus import ActionFinished, TransitionEvent
from clues_py.lifecycle import Timeouts, backoff
from clues_py.model import ON_STATES, NodeObservation, NodeState, NodeTemplate, Resources

log = logging.getLogger("clues.daemon")


class DaemonSetOverhead:
    """A new node is not empty: node-exporter, CNI and log agents land on it first. Like
    Cluster Autoscaler's template node info, learn that overhead from the nodes of each
    template seen Ready (largest seen wins) and subtract it from the template."""

    def __init__(self) -> None:
        self.by_template: dict[str, Resources] = {}
        # node -> the observation learned from last: the overhead only grows, so the same
        # observation again (every node, on a full pass) cannot change it
        self._learned: dict[str, NodeObservation] = {}

    def learn(self, template: str, obs: NodeObservation) -> bool:
        """Learn from one observation of a node of `template`; True if the overhead grew."""
        if not obs.ready or self._learned.get(obs.name) is obs:
            return False
        self._learned[obs.name] = obs
        ds = Resources()
        for p in obs.pods:
            if p.daemonset and p.phase in ("Pending", "Running"):
                ds = ds + p.requests
        old = self.by_template.get(template, Resources())
        new = Resources(
            max(old.cpu_millis, ds.cpu_millis),
            max(old.memory_bytes, ds.memory_bytes),
            max(old.gpus, ds.gpus),
            max(old.pods, ds.pods),
        )
        if new == old and template in self.by_template:
            return False
        self.by_template[template] = new
        return True

    def net(self, templates: Mapping[str, NodeTemplate]) -> dict[str, NodeTemplate]:
        """`templates` with the overhead learned so far subtracted."""
        seen = self.by_template
        return {
            n: replace(t, resources=(t.resources - seen[n]).clamp0()) if n in seen else t
            for n, t in templates.items()
        }


class TemplateHealth:
    """Provider errors and boot timeouts put a template in back-off; a node of it becoming
    Ready clears it. Subscribe `on_event` to the daemon's bus."""

    def __init__(self, timeouts: Callable[[], Timeouts]) -> None:
        self._timeouts = timeouts  # read per event: a reload may change the back-off
        self._failures: dict[str, tuple[int, float]] = {}  # template -> (count, until)

    def backoff_until(self) -> dict[str, float]:
        """template -> time until which it stays out of scale-up."""
        return {t: until for t, (_, until) in self._failures.items()}

    def on_event(self, event: object) -> None:
        if not isinstance(event, ActionFinished | TransitionEvent):
            return
        failed_template = ""
        if isinstance(event, ActionFinished) and event.kind == "power_on" and not event.ok:
            failed_template = event.template
        elif isinstance(event, TransitionEvent):
            if event.new == NodeState.ON_ERROR and event.old != NodeState.ON_ERROR:
                failed_template = event.node.template
            elif event.old == NodeState.POWERING_ON and event.new in ON_STATES:
                self._failures.pop(event.node.template, None)
        if failed_template:
            count = self._failures.get(failed_template, (0, 0.0))[0] + 1
            until = event.at + backoff(count, self._timeouts())
            self._failures[failed_template] = (count, until)
            log.warning(
                "template %s: %d consecutive failed power-on(s); back-off until +%.0f s",
                failed_template,
                count,
                until - event.at,
            )
