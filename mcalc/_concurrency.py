"""Independent compiled calls run side by side on the host's CPU cores.

XLA on the CPU runs a medium-sized program -- products of a few hundred rows, the
matrix-vector products of a tall ``X`` -- on about one core, and a Python loop of
such calls leaves the others idle. Calls made from different Python threads run
concurrently (JAX releases the GIL while a computation runs), so independent
work -- the lanes of a sweep, the chains of a λ path -- finishes up to ``cores``
times sooner. Measured on the 2-core development machine: 1.75x for 64
residual-net runs (``scripts/bench_sweep.py``), 1.9x for the 200 000 x 100 λ path
(``scripts/bench_path.py``).

Each call's result is a pure function of its inputs, so how the calls are
scheduled never changes a result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import jax

__all__ = ["host_cores", "default_workers", "concurrent_map"]

T = TypeVar("T")
R = TypeVar("R")


def host_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_workers(n_tasks: int) -> int:
    """Concurrent calls for ``n_tasks`` independent tasks: one per core on the CPU, else 1.

    On an accelerator the calls would queue on one device anyway.
    """
    if jax.default_backend() != "cpu":
        return 1
    return max(1, min(n_tasks, host_cores()))


def concurrent_map(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """``[fn(x) for x in items]``, up to ``workers`` calls at a time, results in order.

    ``fn`` should block until its result is ready (``jax.block_until_ready``): a
    call that returns at dispatch leaves the computations queued one after another.
    Concurrent first calls of one ``jax.jit`` function trace and compile it once.
    The workers run in the caller's x64 mode (``jax.enable_x64`` is a per-thread
    setting). The first exception raised is re-raised once the calls already
    started have finished.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    x64 = bool(jax.config.jax_enable_x64)

    def call(x: T) -> R:
        with jax.enable_x64(x64):
            return fn(x)

    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(call, items))
