"""A background poller that plays the new machines' kubelets in full-stack tests.

Real power managers start VMs (moto, IM) or switch BMCs (ipmi_sim) that have no
kubelet; each test's agent watches its provider and registers or removes the
matching Node in the sandbox. This base class owns the thread; subclasses say what
one poll does. Errors are collected (tests assert on them), never raised, so a
provider that is busy for a moment does not kill the agent.
"""

from __future__ import annotations

import threading
from typing import Self


class PollingAgent:
    interval = 0.1
    name = "join-agent"

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def step(self) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.step()
            except Exception as exc:  # keep watching; the test asserts on `errors`
                self.errors.append(f"{type(exc).__name__}: {exc}")
