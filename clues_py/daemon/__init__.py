"""The daemon wing: cluesd's loop and everything that runs inside it.

`daemon.py` runs observe -> snapshot -> plan -> act -> record, with its bookkeeping in
`state.py` (per-node side state, the last plan, restart recovery), `learned.py` (DaemonSet
overhead, template back-off) and `passes.py` (what each pass did); `control.py` answers the
operator (status, verbs, explain) and `reconciler.py` squares the store with the providers
(deciding is the pure `reconcile.py`), both composed over the daemon through the `host.py`
protocols; `pipeline.py` turns the config into plugins, policies and timeouts;
`actuator.py` is the sole caller of power managers and backends' write verbs, `hooks.py`
runs operator commands around them, `bus.py` carries events to subscribers (metrics,
decisions, hooks); `service.py` is the `cluesd` process (signals, logging, listeners).
Modules here may import the core (model, lifecycle, planner, contracts, store, clock,
outcome, plugins, metrics, redact) and the config wing; only `service.py` imports
`api.server`; nothing here imports the CLI, simulator or sandbox. This file re-exports
nothing: import from the module that defines a name.
"""
