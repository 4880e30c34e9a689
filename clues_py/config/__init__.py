"""The config wing: the YAML configuration, its checks, and migration from the original CLUES.

`load.py` reads and validates a config file into frozen dataclasses (`Config`), with
`schema.py` (key tables and dataclasses), `check.py` (per-section checks with
file:line:col errors), `templates.py` (template entries), `bounds.py` (ranges and
Kubernetes syntax, shared with plugin options) and `names.py` (node-name patterns); `migrate/` converts an original
`clues2.cfg` plus `kubernetes_vnodes.info` into that YAML. Modules here may import only
the model (and, in `migrate/`, the plugin loader to learn a power plugin's options);
they never import the daemon, API, CLI, store, simulator or sandbox, and do no I/O beyond
reading the files they are given. This file re-exports nothing: import from the module
that defines a name.
"""
