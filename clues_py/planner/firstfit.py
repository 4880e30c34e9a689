"""A segment tree of per-dimension maxima for fast multi-resource first-fit queries.

`find(lo, cpu, mem, gpus, pods)` returns the first slot >= lo whose free room holds
the request in every dimension, visiting O(log n) tree nodes in the common case
instead of scanning every bin. The maxima of a subtree may come from different
slots, so a descent can fail and resume to the right; the answer is still exact.
Used by `packing.py`; knows nothing of pods, nodes or placement.
"""

from __future__ import annotations

__all__ = ["MaxTree"]


class MaxTree:
    def __init__(self, capacity: int) -> None:
        size = 1
        while size < capacity:
            size *= 2
        self.size = size
        # Empty slots hold -1 so that no request (pods >= 1) fits them.
        self.cpu = [-1] * (2 * size)
        self.mem = [-1] * (2 * size)
        self.gpu = [-1] * (2 * size)
        self.pods = [-1] * (2 * size)

    def set(self, i: int, cpu: int, mem: int, gpu: int, pods: int) -> None:
        """Record slot `i`'s free room and refresh the maxima above it."""
        c, m, g, p = self.cpu, self.mem, self.gpu, self.pods
        j = i + self.size
        c[j], m[j], g[j], p[j] = cpu, mem, gpu, pods
        j >>= 1
        while j:
            a, b = 2 * j, 2 * j + 1
            c[j] = c[a] if c[a] > c[b] else c[b]
            m[j] = m[a] if m[a] > m[b] else m[b]
            g[j] = g[a] if g[a] > g[b] else g[b]
            p[j] = p[a] if p[a] > p[b] else p[b]
            j >>= 1

    def set_leaf(self, i: int, cpu: int, mem: int, gpu: int, pods: int) -> None:
        """Record slot `i`'s free room only; `refresh()` must follow before any query."""
        j = i + self.size
        self.cpu[j], self.mem[j], self.gpu[j], self.pods[j] = cpu, mem, gpu, pods

    def refresh(self) -> None:
        """Recompute every maximum from the slots (after `set_leaf`s: O(n), once)."""
        c, m, g, p = self.cpu, self.mem, self.gpu, self.pods
        for j in range(self.size - 1, 0, -1):
            a, b = 2 * j, 2 * j + 1
            c[j] = c[a] if c[a] > c[b] else c[b]
            m[j] = m[a] if m[a] > m[b] else m[b]
            g[j] = g[a] if g[a] > g[b] else g[b]
            p[j] = p[a] if p[a] > p[b] else p[b]

    def find(self, lo: int, cpu: int, mem: int, gpu: int, pods: int) -> int:
        """First slot >= lo with room for the request, or -1."""
        c, m, g, p = self.cpu, self.mem, self.gpu, self.pods
        size = self.size
        if lo >= size:
            return -1
        j = lo + size
        while True:
            if c[j] >= cpu and m[j] >= mem and g[j] >= gpu and p[j] >= pods:
                while j < size:  # descend, preferring the left child
                    a = 2 * j
                    if c[a] >= cpu and m[a] >= mem and g[a] >= gpu and p[a] >= pods:
                        j = a
                    elif (
                        c[a + 1] >= cpu and m[a + 1] >= mem and g[a + 1] >= gpu and p[a + 1] >= pods
                    ):
                        j = a + 1
                    else:
                        break  # maxima came from different slots: nothing here
                if j >= size:
                    return j - size
            # Move to the next subtree to the right of j's range.
            while j & 1:
                j >>= 1
            if j == 0:
                return -1
            j += 1
