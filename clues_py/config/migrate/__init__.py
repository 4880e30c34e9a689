"""Migration of an original CLUES install (`clues2.cfg`, conf.d, `kubernetes_vnodes.info`).

`sources.py` reads the original files, `state.py` holds the state one migration shares
(the options used, the findings, the output being built), `power.py` and `nodes.py` build
the power and templates sections from it, and `convert.py` drives the whole and renders
the YAML. Modules here import the config wing's names and the plugin loader, nothing
above; this file re-exports nothing.
"""
