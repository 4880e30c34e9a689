"""Keep-free policy: keep `nodes` idle nodes and/or `cpu` free cores ready for new work.

Spare capacity is what no demand was counted on: IDLE nodes without workload pods
(their free cpu) and nodes POWERING_ON that the scale-up did not claim (their
template's cpu). The policy reserves enough of it that idle power-off leaves it on
(most recently used first, booting nodes before idle ones) and powers on OFF nodes
(non-GPU templates first) while the target is not met. It must run after scale_up
(so it knows what demand claimed) and before idle_off; limits veto afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from clues_py.contracts import MAX_NODES, PluginContext, Range
from clues_py.model import ClusterSnapshot, ManagedNode, NodeState, format_cpu
from clues_py.planner.builder import PlanBuilder
from clues_py.planner.warm import not_off_counts, power_on, power_on_candidates


def spare_cpu(snap: ClusterSnapshot, n: ManagedNode) -> int:
    """Free millicores of a spare node: allocatable minus DaemonSet pods, or the template's."""
    if n.state is NodeState.IDLE and n.observed is not None:
        return max(0, n.observed.allocatable.cpu_millis - n.observed.requested.cpu_millis)
    t = snap.templates.get(n.template)
    return t.resources.cpu_millis if t is not None else 0


class KeepFree:
    name = "keep_free"
    declares_revisits = True  # power_on_candidates asks for the times it depends on

    @dataclass(frozen=True)
    class Config:
        nodes: Annotated[int, Range(0, MAX_NODES)] = 0  # idle (or booting) nodes to keep ready
        cpu: Annotated[float, Range(0, 1e6)] = 0.0  # free cores to keep ready

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or KeepFree.Config()
        if self.config.nodes < 0 or self.config.cpu < 0:
            raise ValueError(
                f"keep_free: nodes and cpu must be >= 0, got nodes={self.config.nodes} "
                f"cpu={self.config.cpu}"
            )
        if not self.config.nodes and not self.config.cpu:
            raise ValueError("keep_free: set `nodes:` or `cpu:` (e.g. {kind: keep_free, nodes: 1})")

    def label(self) -> str:
        parts = []
        if self.config.nodes:
            parts.append(f"nodes={self.config.nodes}")
        if self.config.cpu:
            parts.append(f"cpu={self.config.cpu:g}")
        return f"keep_free {' '.join(parts)}"

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        want_nodes, want_cpu = self.config.nodes, round(self.config.cpu * 1000)
        index = builder.memo.nodes(snap)
        spare = [
            n
            for n in index.in_state(NodeState.IDLE) + index.in_state(NodeState.POWERING_ON)
            if n.enabled
            and n.name not in builder.claimed
            and builder.action_for(n.name) is None
            and (
                (n.state is NodeState.IDLE and n.observed is not None and not n.workload_pods)
                or n.state is NodeState.POWERING_ON
            )
        ]
        spare.sort(key=lambda n: (n.state is NodeState.IDLE, -max(n.since, n.last_used), n.name))
        have_nodes = have_cpu = 0
        label = self.label()
        for n in spare:
            if have_nodes >= want_nodes and have_cpu >= want_cpu:
                break
            builder.reserve(n.name, f"{label}: kept ready as spare capacity")
            have_nodes += 1
            have_cpu += spare_cpu(snap, n)
        if have_nodes >= want_nodes and have_cpu >= want_cpu:
            return
        not_off = not_off_counts(snap, builder)
        for n in power_on_candidates(snap, builder):
            if have_nodes >= want_nodes and have_cpu >= want_cpu:
                break
            reason = (
                f"{label}: only {have_nodes} spare node(s) / {format_cpu(have_cpu)} spare cores"
            )
            if power_on(snap, builder, n, not_off, reason, self.name):
                have_nodes += 1
                have_cpu += snap.templates[n.template].resources.cpu_millis
