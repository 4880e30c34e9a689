"""Demand history per template: when work arrived and when nodes were needed (snapshot values).

Three event series per template, for the break-even power-off
(`clues_py.planner.breakeven`), which decides what to make of them:

- **arrivals**: new workload pods, on one of the template's nodes or pending and
  admitted by it. With Kubernetes' default spreading an idle node takes the next
  arriving pod, so arrivals say when an idle node would get work again.
- **needs**: the template had to give work to one more node: an IDLE node of it got
  workload, or the scale-up powered one on for pending pods. While new pods are
  steered away from idle nodes (pack_down), only needs end their idleness.
- **releases**: a node of the template finished its work (USED -> IDLE). Not demand,
  but a moment demand is measured from: work that follows work (a user submitting the
  next job once the last one ended) comes a while after a release, not after an arrival.

And the **waits** of its latest jobs (creation to first seen on one of its nodes; a job is
the pods of one owner, counted with its slowest): whether they are still well inside the
wait quantile the shutdown guard protects (`breakeven.over_budget`).

The daemon learns them with `clues_py.estimator.DemandRecorder` and hands the planner
these immutable values inside the snapshot. Plain data: no I/O, no imports of ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DemandHistory", "Events"]


@dataclass(frozen=True, slots=True)
class Events:
    """Instants (oldest first) and how many units (pods, nodes) each brought."""

    times: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()

    @property
    def last(self) -> float:
        """Time of the latest event, -inf when none was seen."""
        return self.times[-1] if self.times else float("-inf")

    def __len__(self) -> int:
        return len(self.times)


@dataclass(frozen=True, slots=True)
class DemandHistory:
    """What one template has seen: pods arriving for it, nodes of it needed and freed."""

    arrivals: Events = field(default_factory=Events)
    needs: Events = field(default_factory=Events)
    releases: Events = field(default_factory=Events)
    # How long the template's latest workload pods waited, creation to first seen on one
    # of its nodes (oldest first, bounded): what the wait budget of the shutdown guard reads.
    waits: tuple[float, ...] = ()
