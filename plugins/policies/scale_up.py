"""Scale-up policy: power on the fewest nodes that the pending demand needs.

Demand is the snapshot's unschedulable pods plus hidden demand (suspended Jobs,
queued workloads), minus what is younger than `pending_grace`. Packing order and
template choice are `clues_py.planner.packing`'s; this policy turns its result into
POWER_ON actions (each naming the pods it is for), reserves the running nodes the
demand was counted on (so idle power-off leaves them alone) and records, for every
pod that gets no power-on, why. Limits are the `limits` policy's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from clues_py.contracts import DAY, PluginContext, Range
from clues_py.model import Action, ActionKind, ClusterSnapshot
from clues_py.planner.builder import PlanBuilder
from clues_py.planner.chain import ExpanderChain
from clues_py.planner.packing import group_demand, pack


def describe_keys(keys: list[str] | tuple[str, ...], shown: int = 2) -> str:
    """'3 pending pods (ns/a, ns/b, +1 more)' for demand units (hidden keys repeat)."""
    unique = list(dict.fromkeys(keys))
    head = ", ".join(unique[:shown])
    more = f", +{len(unique) - shown} more" if len(unique) > shown else ""
    n = len(keys)
    return f"{n} pending pod{'s' if n != 1 else ''} ({head}{more})"


class ScaleUp:
    name = "scale_up"

    @dataclass(frozen=True)
    class Config:
        # seconds a pod must have been pending before it counts
        pending_grace: Annotated[float, Range(0, DAY)] = 0.0
        # Open GPU templates for work that needs no GPU (otherwise only for GPU work).
        gpu_nodes_for_cpu_work: bool = False

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or ScaleUp.Config()
        # Template choice; the pipeline loader sets the configured `expanders:` chain.
        self.chain: ExpanderChain | None = None
        if self.config.pending_grace < 0:
            raise ValueError(
                f"scale_up: pending_grace must be >= 0, got {self.config.pending_grace}"
            )

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        now, grace = snap.now, self.config.pending_grace
        pods = []
        for p in snap.demand.pods:
            if now - p.created < grace:
                builder.unplaceable[p.key] = (
                    f"pending for {now - p.created:.0f} s < pending_grace {grace:.0f} s"
                )
            else:
                pods.append(p)
        hidden = []
        for h in snap.demand.hidden:
            if now - h.created < grace:
                builder.unplaceable[h.key] = (
                    f"queued for {now - h.created:.0f} s < pending_grace {grace:.0f} s"
                )
            else:
                hidden.append(h)
        if not pods and not hidden:
            return
        taken = [a.node for a in builder.actions]
        result = pack(
            snap,
            group_demand(pods, hidden),
            taken=taken,
            chain=self.chain,
            gpu_nodes_for_cpu_work=self.config.gpu_nodes_for_cpu_work,
        )
        for node, keys in result.existing.items():
            builder.claimed[node] = f"{describe_keys(keys)} counted on its free room"
            builder.reserve(node, f"{describe_keys(keys)} counted on its free room")
            for k in keys:
                builder.unplaceable[k] = (
                    f"fits on existing node {node}; the scheduler will place it"
                )
        for node, keys in result.booting.items():
            builder.claimed[node] = f"{describe_keys(keys)} wait for it to boot"
            builder.reserve(node, f"{describe_keys(keys)} wait for it to boot")
            for k in keys:
                builder.unplaceable[k] = f"waits for booting node {node}"
        builder.unplaceable.update(result.unplaceable)
        for nn in result.new_nodes:
            reason = (
                f"{describe_keys(nn.keys)} need {nn.requested}; no free or booting capacity"
                if len(nn.keys) != 1
                else f"{describe_keys(nn.keys)} needs {nn.requested}; no free or booting capacity"
            )
            if nn.why:
                reason += f" ({nn.why})"
            action = Action(
                ActionKind.POWER_ON,
                nn.node,
                nn.template,
                reason,
                policy=self.name,
                pods=tuple(dict.fromkeys(nn.keys)),
            )
            if not builder.add(action):
                for k in nn.keys:
                    builder.unplaceable[k] = (
                        f"node {nn.node} could not be used: {builder.kept.get(nn.node, 'taken')}"
                    )
