"""Attribute wall time to categories by wrapping methods of live objects (benchmarks only).

Time is exclusive: while a wrapped call runs inside another (an MI reward computed
inside HER sampling), it counts for the inner category only. The library is not
changed; the benchmark wraps the objects it built.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict


class Profiler:
    def __init__(self):
        self.exclusive: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list] = []  # [category, start, child_time]

    def _enter(self, category: str) -> None:
        self._stack.append([category, time.perf_counter(), 0.0])

    def _exit(self) -> None:
        category, start, child = self._stack.pop()
        elapsed = time.perf_counter() - start
        self.exclusive[category] += elapsed - child
        self.calls[category] += 1
        if self._stack:
            self._stack[-1][2] += elapsed

    def wrap(self, obj, name: str, category: str) -> None:
        """Replace ``obj.name`` by a timed version (instance attribute)."""
        original = getattr(obj, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            self._enter(category)
            try:
                return original(*args, **kwargs)
            finally:
                self._exit()

        setattr(obj, name, timed)

    def section(self, category: str):
        profiler = self

        class _Section:
            def __enter__(self):
                profiler._enter(category)

            def __exit__(self, *exc):
                profiler._exit()

        return _Section()


class TimedComm:
    """Proxy of an mpi4py communicator whose collectives are timed as ``category``."""

    def __init__(self, comm, profiler: Profiler, category: str = "mpi_reduce"):
        self._comm = comm
        self._profiler = profiler
        self._category = category

    def __getattr__(self, name):
        attr = getattr(self._comm, name)
        if name in ("Allreduce", "Bcast", "allgather", "Allgather", "bcast", "Barrier"):
            def timed(*args, **kwargs):
                self._profiler._enter(self._category)
                try:
                    return attr(*args, **kwargs)
                finally:
                    self._profiler._exit()
            return timed
        return attr
