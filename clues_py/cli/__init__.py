"""The CLI wing: the `clues` command and what it shows.

`main.py` is the click group and the API verbs (status, nodes, poweron..., history,
explain); `tools.py` the local subcommands (config, demo, report, sandbox); `common.py`
the address resolution and API-client plumbing they share; `render.py` turns API answers
into text (pure); `demo.py` runs the embedded demo; `report.py` builds `clues report`
from the store. This is the top layer: it may import every other wing (api, daemon,
config, sim, sandbox) and nothing imports it. This file re-exports nothing.
"""
