"""Independent compiled calls run side by side on the host's CPU cores.

XLA on the CPU runs a medium-sized program -- products of a few hundred rows, the
matrix-vector products of a tall ``X`` -- on about one core, and a Python loop of
such calls leaves the others idle. Calls made from different Python threads run
concurrently (JAX releases the GIL while a computation runs), so independent
work -- the lanes of a sweep, the chains of a λ path -- finishes up to ``cores``
times sooner. Measured on the 2-core development machine: 1.8x for 64
residual-net runs (``scripts/bench_sweep.py``), 1.75x for the 200 000 x 100 λ path
(5.55 s -> 3.17 s, ``scripts/bench_path.py``).

Each call's result is a pure function of its inputs, so how the calls are
scheduled never changes a result.
"""

from __future__ import annotations

import contextlib
import os
import threading
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


# JAX's per-thread settings that a worker inherits from the caller: the config
# attribute that reads the caller's value, and the context manager that sets it.
# (A mesh set by a context manager is not carried over.)
_THREAD_LOCAL = (
    ("jax_enable_x64", jax.enable_x64),
    ("jax_debug_nans", jax.debug_nans),
    ("jax_debug_infs", jax.debug_infs),
    ("jax_disable_jit", jax.disable_jit),
    ("jax_default_matmul_precision", jax.default_matmul_precision),
    ("jax_numpy_rank_promotion", jax.numpy_rank_promotion),
    ("jax_default_device", jax.default_device),
)


def _caller_settings() -> list[
    tuple[Callable[[object], contextlib.AbstractContextManager], object]
]:
    return [(ctx, getattr(jax.config, name)) for name, ctx in _THREAD_LOCAL]


def concurrent_map(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """``[fn(x) for x in items]``, up to ``workers`` calls at a time, results in order.

    ``fn`` should block until its result is ready (``jax.block_until_ready``): a
    call that returns at dispatch leaves the computations queued one after another.
    Concurrent first calls of one ``jax.jit`` function trace and compile it once.
    The workers run with the caller's JAX settings (``jax.enable_x64``,
    ``jax.debug_nans``, ``jax.disable_jit``, ``jax.default_matmul_precision``, ...:
    JAX keeps them per thread). When a call raises (or the caller is interrupted),
    the calls not yet started are cancelled, the running ones finish, and the
    first exception in item order is re-raised.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    settings = _caller_settings()
    # Set by the first call that fails (or by the caller's interruption): a call that a
    # worker picks up afterwards returns at once without running ``fn``. The failing
    # worker sets it before it can take another item, so no call starts after a failure
    # however the threads are scheduled.
    stop = threading.Event()

    def call(x: T) -> R:
        if stop.is_set():
            raise _Skipped
        try:
            with contextlib.ExitStack() as stack:
                for ctx, value in settings:
                    stack.enter_context(ctx(value))
                return fn(x)
        except BaseException:
            stop.set()
            raise

    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)))
    try:
        futures = [pool.submit(call, x) for x in items]
        results: list[R] = []
        first: BaseException | None = None
        for f in futures:
            try:
                results.append(f.result())
            except _Skipped:
                continue
            except BaseException as e:  # noqa: BLE001 - re-raised below, in item order
                stop.set()
                first = first or e
                break
        if first is not None:
            raise first
        return results
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


class _Skipped(Exception):
    """A call skipped because an earlier one failed (never reaches the caller)."""
