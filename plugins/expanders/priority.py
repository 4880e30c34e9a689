"""priority expander: prefer the template with the highest priority.

`priorities` maps template names to priorities and overrides the templates' own
`priority:` field; templates not listed keep theirs (default 0). Typical hybrid
set-up: on-premises templates high, cloud burst templates low.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from clues_py.contracts import PluginContext, Range
from clues_py.planner.chain import Option, best_by


class Priority:
    name = "priority"

    @dataclass(frozen=True)
    class Config:
        priorities: Mapping[str, Annotated[int, Range(-(2**31), 2**31 - 1)]] = field(
            default_factory=dict
        )

    def __init__(self, config: Config | None = None, context: PluginContext | None = None):
        self.config = config or Priority.Config()
        if context is not None and context.templates:
            unknown = sorted(set(self.config.priorities) - set(context.templates))
            if unknown:
                raise ValueError(
                    f"priority expander: unknown template(s) {', '.join(unknown)} in priorities; "
                    f"templates are {', '.join(sorted(context.templates))}"
                )

    def priority_of(self, o: Option) -> int:
        return self.config.priorities.get(o.template.name, o.template.priority)

    def best(self, options: Sequence[Option]) -> list[Option]:
        return best_by(options, lambda o: -self.priority_of(o))
