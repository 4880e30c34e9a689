"""`Resources`: the vector of schedulable resources (cpu, memory, GPUs, pod slots).

Built from Kubernetes resource maps and compared, added and subtracted by the planner,
the backends and the simulator. Parsing and formatting the quantities inside those maps is
`quantity.py`'s; `model.py` re-exports `Resources` with the other snapshot types. Pure: no
I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from clues_py.quantity import GPU_RESOURCE_NAMES, cpu_millis, format_bytes, format_cpu, to_int
from clues_py.slots import slot_maker

__all__ = ["Resources"]


@dataclass(frozen=True, slots=True)
class Resources:
    """A vector of schedulable resources. `pods` counts pod slots."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    gpus: int = 0
    pods: int = 0

    @classmethod
    def from_k8s(cls, mapping: Mapping[str, Any] | None, *, pods: int | None = None) -> Resources:
        """Build from a Kubernetes resource map (`{"cpu": "500m", "memory": "1Gi"}`)."""
        mapping = mapping or {}
        gpus = 0
        for name in GPU_RESOURCE_NAMES:
            if name in mapping:
                gpus += to_int(mapping[name])
        return cls(
            cpu_millis=cpu_millis(mapping["cpu"]) if "cpu" in mapping else 0,
            memory_bytes=to_int(mapping["memory"]) if "memory" in mapping else 0,
            gpus=gpus,
            pods=pods
            if pods is not None
            else (to_int(mapping["pods"]) if "pods" in mapping else 0),
        )

    def to_k8s(self) -> dict[str, str]:
        out = {"cpu": format_cpu(self.cpu_millis), "memory": str(self.memory_bytes)}
        if self.gpus:
            out["nvidia.com/gpu"] = str(self.gpus)
        if self.pods:
            out["pods"] = str(self.pods)
        return out

    def __add__(self, other: Resources) -> Resources:
        return _make(
            self.cpu_millis + other.cpu_millis,
            self.memory_bytes + other.memory_bytes,
            self.gpus + other.gpus,
            self.pods + other.pods,
        )

    def __sub__(self, other: Resources) -> Resources:
        return _make(
            self.cpu_millis - other.cpu_millis,
            self.memory_bytes - other.memory_bytes,
            self.gpus - other.gpus,
            self.pods - other.pods,
        )

    def scale(self, n: int) -> Resources:
        return _make(self.cpu_millis * n, self.memory_bytes * n, self.gpus * n, self.pods * n)

    def fits(self, capacity: Resources) -> bool:
        """True when this request fits into `capacity` in every dimension."""
        return (
            self.cpu_millis <= capacity.cpu_millis
            and self.memory_bytes <= capacity.memory_bytes
            and self.gpus <= capacity.gpus
            and self.pods <= capacity.pods
        )

    def insufficient(self, capacity: Resources) -> list[str]:
        """Names of the dimensions in which this request exceeds `capacity`, kubectl-style."""
        out = []
        if self.cpu_millis > capacity.cpu_millis:
            out.append("cpu")
        if self.memory_bytes > capacity.memory_bytes:
            out.append("memory")
        if self.gpus > capacity.gpus:
            out.append("nvidia.com/gpu")
        if self.pods > capacity.pods:
            out.append("pods")
        return out

    def clamp0(self) -> Resources:
        return Resources(
            max(self.cpu_millis, 0), max(self.memory_bytes, 0), max(self.gpus, 0), max(self.pods, 0)
        )

    def is_zero(self) -> bool:
        return not (self.cpu_millis or self.memory_bytes or self.gpus or self.pods)

    def __str__(self) -> str:
        s = f"cpu={format_cpu(self.cpu_millis)} mem={format_bytes(self.memory_bytes)}"
        if self.gpus:
            s += f" gpu={self.gpus}"
        return s


# `Resources(cpu, memory, gpus, pods)` through the slots themselves (3.4 times faster than
# the frozen `__init__`): the planner's arithmetic makes these by the thousand per pass.
_make: Callable[[int, int, int, int], Resources] = slot_maker(Resources)
