"""The daemon wing: cluesd's loop and everything that runs inside it.

`daemon.py` runs observe -> snapshot -> plan -> act -> record; `control.py` answers the
operator (status, verbs, explain) by composition over the daemon; `pipeline.py` turns the
config into policies and timeouts; `actuator.py` is the sole caller of power managers and
backends' write verbs, `hooks.py` runs operator commands around them, `bus.py` carries
events to subscribers (metrics, decisions, hooks); `reconcile.py` (pure) and `reconciler.py`
square the store with the providers; `service.py` is the `cluesd` process (signals,
logging, listeners). Modules here may import the core (model, lifecycle, planner,
contracts, store, clock, outcome, plugins, metrics, redact) and the config wing;
only `service.py` imports `api.server`; nothing here imports the CLI, simulator or sandbox.
This file re-exports nothing: import from the module that defines a name.
"""
