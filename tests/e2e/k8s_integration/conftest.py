"""Kubernetes integration (Events, status ConfigMap, Lease leader election, manifests) against
the sandbox API server on 127.0.0.1. Nothing of clues-py is faked; the sandbox plays the
Kubernetes API server, scheduler and kubelet (fixtures from tests/e2e/daemon/conftest.py).
"""

from __future__ import annotations

from tests.e2e.daemon.conftest import sandbox  # noqa: F401  (fixture re-export)
