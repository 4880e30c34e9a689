"""`tick_due` and `carry_forward`: what lets the daemon tick and observe only what changed.

Properties over random nodes and times (hypothesis): a TICK changes a node exactly when
`now >= tick_due(node)`, and applying an unchanged observation again at `now` is what
`carry_forward` does.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from clues_py.lifecycle import Fact, FactKind, Timeouts, advance, carry_forward, tick_due
from clues_py.model import NodeState
from tests.factories import make_node, make_pod

T = Timeouts(boot=600, drain=300, shutdown=300, max_retries=3, unknown_grace=60)
times = st.floats(min_value=0, max_value=5000, allow_nan=False)


@st.composite
def nodes(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    state = draw(st.sampled_from(list(NodeState)))
    observed = draw(st.booleans())
    return make_node(
        "n",
        state=state,
        observed=observed,
        ready=draw(st.booleans()) if observed else None,
        pods=[make_pod("w")] if observed and draw(st.booleans()) else [],
        since=draw(times),
        seen_ready_at=draw(times),
        last_used=draw(times),
        attempts=draw(st.integers(0, 4)),
        retry_at=draw(times),
    )


@settings(max_examples=400, deadline=None)
@given(node=nodes(), now=times)
def test_a_tick_changes_a_node_exactly_from_tick_due(node, now) -> None:  # type: ignore[no-untyped-def]
    changed = advance(node, Fact(FactKind.TICK), now, T).changed
    assert changed == (now >= tick_due(node, T))


@settings(max_examples=200, deadline=None)
@given(node=nodes(), gap=st.floats(min_value=1e-9, max_value=1000))
def test_tick_due_is_exact_at_the_boundary(node, gap) -> None:  # type: ignore[no-untyped-def]
    due = tick_due(node, T)
    if math.isfinite(due):
        assert advance(node, Fact(FactKind.TICK), due, T).changed
        before = math.nextafter(due, -math.inf)
        assert not advance(node, Fact(FactKind.TICK), before, T).changed


@settings(max_examples=300, deadline=None)
@given(node=nodes(), now=times)
def test_carry_forward_is_the_unchanged_observation_applied_again(node, now) -> None:  # type: ignore[no-untyped-def]
    again = advance(node, Fact(FactKind.OBSERVED, observation=node.observed), now, T).node
    carried = carry_forward(node, now)
    assert (carried.seen_ready_at, carried.last_used) == (again.seen_ready_at, again.last_used)
    assert carried.observed is node.observed and carried.state == node.state


@settings(max_examples=300, deadline=None)
@given(node=nodes(), now=times)
def test_carrying_forward_before_the_same_observation_changes_nothing(node, now) -> None:  # type: ignore[no-untyped-def]
    """The daemon skips carrying an observation forward when the same one comes next (every
    node on a full pass): `advance` alone gives what carrying forward first gives."""
    fact = Fact(FactKind.OBSERVED, observation=node.observed)
    assert carry_forward(node, now, node.observed) is node
    assert advance(node, fact, now, T) == advance(carry_forward(node, now), fact, now, T)
