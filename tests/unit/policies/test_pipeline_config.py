"""The pipeline from config: `policies:` and `expanders:` lists, defaults, load-time errors."""

from __future__ import annotations

import pytest

from clues_py.config.load import ConfigError, parse_config
from clues_py.daemon.pipeline import build_pipeline

BASE = """\
idle_time: 120
max_nodes: 7
templates:
  - {name: wn, nodes: "wn-[1-3]", cpu: 4, memory: 8Gi, power: sim}
power:
  sim: {kind: sim}
"""


def pipeline(extra: str):
    return build_pipeline(parse_config(BASE + extra, "clues.yaml"))


def test_empty_lists_give_the_default_pipeline() -> None:
    names = [p.name for p in pipeline("")]
    assert names == ["scale_up", "min_nodes", "pack_down", "idle_off", "limits"]


def test_configured_order_top_level_defaults_and_chain() -> None:
    ps = pipeline(
        """\
policies:
  - {kind: scale_up, gpu_nodes_for_cpu_work: true}
  - {kind: keep_free, cpu: 4}
  - {kind: schedule, timezone: Europe/Madrid, windows: [{cron: "* 8-17 * * mon-fri", nodes: 2}]}
  - idle_off
  - {kind: consolidation, threshold: 0.3}
  - {kind: limits, max_cost_per_hour: 5}
expanders: [cheapest, least_waste, {kind: random, seed: 3}]
"""
    )
    assert [p.name for p in ps] == [
        "scale_up", "keep_free", "schedule", "idle_off", "consolidation", "limits",
    ]  # fmt: skip
    scale_up, idle_off, limits = ps[0], ps[3], ps[5]
    assert scale_up.config.gpu_nodes_for_cpu_work is True
    assert scale_up.chain.names == ["cheapest", "least_waste", "random"]
    assert idle_off.config.idle_time == 120.0, "omitted options take the top-level value"
    assert (limits.config.max_nodes, limits.config.max_cost_per_hour) == (7, 5.0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("policies: [scale_up, limits, idle_off]", "policies[1]: 'limits' must be the last"),
        (
            "policies: [scale_up, idle_off, idle_off]",
            "policies[2]: policy 'idle_off' is listed twice",
        ),
        ("policies: [{kind: keep_free, nodes: 1}, scale_up]", "must come after 'scale_up'"),
        ("policies: [scale_up, {kind: keep_fre}]", "did you mean 'keep_free'"),
        ("policies: [{kind: limits, max_cpus: 3}]", "unknown option"),
        ("expanders: [random, cheapest]", "expanders[0]: 'random' always leaves one option"),
        ("expanders: [cheapest, cheapest]", "expanders[1]: expander 'cheapest' is listed twice"),
        ("expanders: [cheapest, lowest-energy]", "unknown expanders kind 'lowest-energy'"),
        ("expanders: [{kind: priority, priorities: {gpu: 3}}]", "unknown template(s) gpu"),
    ],
)
def test_chains_that_make_no_sense_fail_at_load_time(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        pipeline(extra + "\n")
    assert message in str(err.value)
    assert str(err.value).startswith("clues.yaml:")
