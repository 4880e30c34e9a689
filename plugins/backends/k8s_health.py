"""Health of the Kubernetes backend's watches as one state: current, or down since when.

Each `Informer` reports its own changes (down at its first failure, up at its next good
list); this module folds them into what the daemon needs: `synced()` (every resource
listed and every watch up), `data_age()` (seconds since the caches were last known
current) and one log line when the cluster watch goes down and one when it is back,
however many informers and reconnect attempts lie in between. The loops themselves are
`k8s_informer`'s; wiring is `kubernetes.py`'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from .k8s_informer import Informer

log = logging.getLogger(__name__)


class WatchHealth:
    def __init__(self, informers: Sequence[Informer], backoff_max: float) -> None:
        self._informers = informers  # the backend's list, filled in as they start
        self._backoff_max = backoff_max
        self._lock = threading.Lock()
        self._down_at: float | None = None  # monotonic: when the first watch went down

    def synced(self) -> bool:
        return bool(self._informers) and all(i.synced() for i in self._informers)

    def data_age(self) -> float:
        """0 while synced, the seconds since the oldest down watch failed, inf before the
        first sync."""
        if not self._informers:
            return float("inf")
        return max(i.down_for() for i in self._informers)

    def changed(self, informer: Informer) -> None:
        """`Informer(on_state=...)`: log only when the whole changes state."""
        with self._lock:
            down = any(i.down for i in self._informers)
            if down and self._down_at is None:
                self._down_at = time.monotonic()
                log.warning(
                    "cluster watch down (%s: %s); cluster data is stale until it is back "
                    "(reconnecting with back-off up to %g s, then re-listing)",
                    informer.name,
                    informer.last_error,
                    self._backoff_max,
                )
            elif not down and self._down_at is not None:
                log.warning(
                    "cluster watch back after %.1f s; caches re-listed",
                    time.monotonic() - self._down_at,
                )
                self._down_at = None
