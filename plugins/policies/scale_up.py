"""Scale-up policy: power on the fewest nodes that the pending demand needs.

Demand is the snapshot's unschedulable pods plus the hidden work the admission rules
count (`clues_py.planner.admission`: Kueue Workloads holding quota, ProvisioningRequests,
booked capacity), minus what is younger than `pending_grace`. Packing order and template
choice are `clues_py.planner.packing`'s; this policy turns its result into POWER_ON
actions (each naming the demand it is for), reserves the running nodes the demand was
counted on (so idle power-off leaves them alone), records for every unit that gets no
power-on why, and says which conditions the ProvisioningRequests get. Limits are the
`limits` policy's job. The pod groups and the bins come from the planner's memo
(`builder.memo`), so a pass costs what changed; the plan is revisited when young demand
comes of age, a booking or hidden-demand timeout ends, a back-off ends or a failed node
may be retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Annotated

from clues_py.contracts import DAY, PluginContext, Range
from clues_py.model import Action, ActionKind, ClusterSnapshot, HiddenDemand, due_at
from clues_py.planner.admission import Admission, Rules, classify, request_updates
from clues_py.planner.builder import PlanBuilder
from clues_py.planner.chain import ExpanderChain
from clues_py.planner.demand import DemandGroups
from clues_py.planner.packing import PackResult, never_fits, pack

_KIND_NAMES = {"workload": "Workload", "provisioningrequest": "ProvisioningRequest"}
# How counted hidden work on free room or a booting node is described, by kind.
_COMING = {
    "Workload": "Kueue reserved its quota; its pods are coming",
    "ProvisioningRequest": "capacity asked by a ProvisioningRequest",
    "Job": "suspended Job counted as demand (scale_up: suspended_jobs)",
}


def describe_keys(keys: list[str] | tuple[str, ...], shown: int = 2) -> str:
    """'3 pending pods (ns/a, ns/b, +1 more)' for demand units (hidden keys repeat)."""
    unique = list(dict.fromkeys(keys))
    head = ", ".join(unique[:shown])
    more = f", +{len(unique) - shown} more" if len(unique) > shown else ""
    n = len(keys)
    return f"{n} pending pod{'s' if n != 1 else ''} ({head}{more})"


def _named(key: str) -> str:
    """'Workload ns/name' for 'workload:ns/name'."""
    kind, _, name = key.partition(":")
    return f"{_KIND_NAMES.get(kind, kind)} {name}"


def _placed(result: PackResult, keys: set[str]) -> int:
    """Demand units of `keys` the packing found room for (a key repeats once per pod)."""
    lists = [
        *result.existing.values(),
        *result.booting.values(),
        *(n.keys for n in result.new_nodes),
    ]
    return sum(1 for units in lists for k in units if k in keys)


class ScaleUp:
    name = "scale_up"
    declares_revisits = True

    @dataclass(frozen=True)
    class Config:
        # seconds a pod must have been pending before it counts
        pending_grace: Annotated[float, Range(0, DAY)] = 0.0
        # Open GPU templates for work that needs no GPU (otherwise only for GPU work).
        gpu_nodes_for_cpu_work: bool = False
        # What hidden work counts as demand (decision 0015; `clues_py.planner.admission`).
        suspended_jobs: bool = False
        unreserved_workloads: bool = False
        reserved_workloads: bool = True
        provisioning_requests: bool = True
        # seconds a Provisioned ProvisioningRequest keeps its capacity booked
        booking_time: Annotated[float, Range(0, DAY)] = 600.0
        # seconds hidden work may count as demand without any pod appearing
        hidden_demand_timeout: Annotated[float, Range(0, DAY)] = 600.0

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or ScaleUp.Config()
        # Template choice; the pipeline loader sets the configured `expanders:` chain.
        self.chain: ExpanderChain | None = None
        c = self.config
        for name in ("pending_grace", "booking_time", "hidden_demand_timeout"):
            if getattr(c, name) < 0:
                raise ValueError(f"scale_up: {name} must be >= 0, got {getattr(c, name)}")
        rule_names = {f.name for f in fields(Rules)}
        self.rules = Rules(**{k: getattr(c, k) for k in rule_names})

    def apply(self, snap: ClusterSnapshot, builder: PlanBuilder) -> None:
        adm = classify(snap, self.rules)
        builder.held.update(adm.held)
        builder.warnings.update(adm.warnings)
        builder.requests.extend(adm.updates)
        builder.revisit(adm.revisit_at)
        demand = builder.memo.demand(snap)
        young = self._young_pods(snap, demand, builder)
        hidden = self._old_enough(snap, adm.counted, builder)
        for h in (*hidden, *adm.booked):
            builder.counted[h.key] = builder.counted.get(h.key, 0) + h.count
        result = self._pack(snap, builder, demand, young, hidden, adm)
        where = self._record(snap, builder, result)
        if adm.requests:  # only their units' reasons matter to the requests' conditions
            failed = result.unplaceable  # (`_record` left it alone)
            keys = {e.key for entries in adm.requests.values() for e in entries}
            mine = {k: failed[k] for k in keys if k in failed}
            hopeless = [k for k, why in mine.items() if never_fits(why)]
            builder.requests.extend(request_updates(adm, where, mine, hopeless))
        self._mirror_aliases(builder, adm)

    def _young_pods(self, snap: ClusterSnapshot, demand: DemandGroups, b: PlanBuilder) -> list[str]:
        """Pending pods younger than `pending_grace` (found by bisection): they wait."""
        now, grace = snap.now, self.config.pending_grace
        young = demand.young_pods(now, grace)
        for key in young:
            created = demand.created(key)
            b.unplaceable[key] = f"pending for {now - created:.0f} s < pending_grace {grace:.0f} s"
            b.revisit(due_at(created, grace))
        return young

    def _old_enough(
        self, snap: ClusterSnapshot, units: Sequence[HiddenDemand], b: PlanBuilder
    ) -> list[HiddenDemand]:
        grace, out = self.config.pending_grace, []
        for u in units:
            age = snap.now - u.created
            if age < grace:
                b.unplaceable[u.key] = f"pending for {age:.0f} s < pending_grace {grace:.0f} s"
                b.revisit(due_at(u.created, grace))
            else:
                out.append(u)
        return out

    def _pack(
        self,
        snap: ClusterSnapshot,
        builder: PlanBuilder,
        demand: DemandGroups,
        young: list[str],
        hidden: list[HiddenDemand],
        adm: Admission,
    ) -> PackResult:
        """Pack; an all-or-nothing request that does not fit whole is left out and re-packed."""
        taken = [a.node for a in builder.actions]
        dropped: dict[str, str] = {}
        while True:
            units = [
                h for h in hidden if h.kind != "ProvisioningRequest" or h.object_key not in dropped
            ]
            groups = demand.groups(young, units, adm.booked)
            if not groups:  # nothing to pack: the bins need not even be synced
                result = PackResult()
                break
            result = pack(
                snap,
                groups,
                taken=taken,
                chain=self.chain,
                gpu_nodes_for_cpu_work=self.config.gpu_nodes_for_cpu_work,
                bins=builder.memo.bins(snap),
            )
            builder.revisit(result.revisit_at)
            fresh = False
            for req in sorted(adm.atomic - dropped.keys()):
                keys = [e.key for e in adm.requests[req]]
                total = sum(e.count for e in adm.requests[req])
                bad = [result.unplaceable[k] for k in keys if k in result.unplaceable]
                if bad:
                    missing = total - _placed(result, set(keys))
                    dropped[req] = (
                        f"all or nothing (best-effort-atomic): {missing} of {total} pods have "
                        f"no node, so none is powered on: {bad[0]}"
                    )
                    fresh = True
            if not fresh:
                break
        for req, why in dropped.items():
            for e in adm.requests[req]:
                result.unplaceable[e.key] = why
        return result

    def _record(
        self, snap: ClusterSnapshot, builder: PlanBuilder, result: PackResult
    ) -> dict[str, str]:
        """Reasons, reservations and actions from the packing; returns key -> where it went."""
        kinds = {h.key: h.kind for h in snap.demand.hidden}
        where: dict[str, str] = {}

        def why(key: str, place: str) -> str:
            kind = kinds.get(key)
            return place + ("; " + _COMING[kind] if kind in _COMING else "")

        for node, keys in result.existing.items():
            builder.claimed[node] = f"{describe_keys(keys)} counted on its free room"
            builder.reserve(node, f"{describe_keys(keys)} counted on its free room")
            builder.unplaceable.fill(
                keys, f"fits on existing node {node}; the scheduler will place it"
            )
            for k in [k for k in keys if k in kinds] if kinds else ():
                where.setdefault(k, "existing")
                builder.unplaceable[k] = why(k, f"counted on the free room of Ready node {node}")
        for node, keys in result.booting.items():
            builder.claimed[node] = f"{describe_keys(keys)} wait for it to boot"
            builder.reserve(node, f"{describe_keys(keys)} wait for it to boot")
            builder.unplaceable.fill(keys, f"waits for booting node {node}")
            for k in [k for k in keys if k in kinds] if kinds else ():
                where[k] = "booting" if where.get(k) != "new" else "new"
                builder.unplaceable[k] = why(k, f"waits for booting node {node}")
        builder.unplaceable.update(result.unplaceable)
        for nn in result.new_nodes:
            where.update(dict.fromkeys([k for k in nn.keys if k in kinds] if kinds else (), "new"))
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
                builder.unplaceable.fill(
                    nn.keys,
                    f"node {nn.node} could not be used: {builder.kept.get(nn.node, 'taken')}",
                )
        return where

    @staticmethod
    def _mirror_aliases(builder: PlanBuilder, adm: Admission) -> None:
        """A Job shows its Workload's verdict, a Workload its ProvisioningRequest's."""
        if not adm.alias:
            return
        powered = {
            k: f"power_on {a.node} ({a.template}) for it" for a in builder.actions for k in a.pods
        }
        reasons = {**powered, **builder.unplaceable, **builder.held}
        for key, target in adm.alias.items():
            got = adm.reason_of(target, reasons)
            text = f"counted once, as its {_named(target)}"
            further = adm.alias.get(target)  # a Job's Workload asks through a request
            if further is not None:
                text += f" (through its {_named(further)})"
            builder.held[key] = f"{text}: {got}" if got else text
