"""The compiled programs of a gradient check, built once per function pair and cached.

Two programs per ``(f, grad_f)`` pair, each jit-compiled once per shape:

* ``low``: ``grad_f`` and ``jax.grad(f)`` side by side in the caller's dtype
  (float32 when the caller's is float64), in the caller's x64 mode. It gives the
  claimed gradient as the caller computes it, and ``jax.grad`` there measures
  how far a correct gradient legitimately drifts from the float64 one at this
  point;
* ``bundle``: in float64, ``jax.value_and_grad(f)``, ``grad_f`` and ``f`` at the
  points ``x ± P_k``, ``x ± 2 P_k`` of central finite differences.

The cache is keyed on the function objects, so ``mcalc verify`` checking a
derivation in float32 and then in float64 compiles each program once per size.
A ``grad_f`` that ``jit`` cannot trace (NumPy calls, Python control flow on
values) runs eagerly instead, with a note in the report.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ._points import ArgSpec

__all__ = ["Programs", "TRACE_ERRORS", "x64"]

# Errors that mean "this function needs concrete values": run it eagerly instead.
TRACE_ERRORS = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerArrayConversionError,
    jax.errors.TracerIntegerConversionError,
)

# Finite-difference points x argument size per vmapped batch: bounds the memory of a batch.
_FD_ELEMENTS = 1 << 24


def x64(enable: bool):
    """``jax.enable_x64(True)`` when ``enable`` and x64 is off; otherwise nothing."""
    if enable and not jax.config.jax_enable_x64:
        return jax.enable_x64(True)
    return contextlib.nullcontext()


def _with_args(fn: Callable, spec: ArgSpec, static: tuple) -> Callable:
    def call(x, dyn):
        return fn(*spec.assemble(x, dyn, static))

    return call


def _fd_values(fx: Callable, x, dyn, P):
    """``f`` at ``x ± P_k`` and ``x ± 2 P_k`` for every row ``P_k``: 4 m values."""
    flat, unravel = ravel_pytree(x)
    base = flat[None, :]
    pts = jnp.concatenate([base + P, base - P, base + 2 * P, base - 2 * P])
    return jax.vmap(lambda p: fx(unravel(p), dyn))(pts)


def _build(f: Callable, grad_f: Callable, spec: ArgSpec, static: tuple, kind: str, claim: bool):
    """One jitted program; ``claim`` includes ``grad_f`` in it (else it runs eagerly apart)."""
    fx = _with_args(f, spec, static)
    gx = _with_args(grad_f, spec, static) if claim else (lambda x, dyn: None)
    if kind == "claimed":
        fn = gx
    elif kind == "low":

        def fn(x, dyn):
            return gx(x, dyn), jax.grad(fx)(x, dyn)

    elif kind in ("bundle", "bundle_nofd"):

        def fn(x, dyn, P):
            value, g = jax.value_and_grad(fx)(x, dyn)
            if kind == "bundle_nofd":
                fs = jnp.zeros((0,), jnp.result_type(value))
            else:
                fs = _fd_values(fx, x, dyn, P)
            return value, g, fs, gx(x, dyn)

    elif kind == "fd_chunk":

        def fn(x, dyn, P):
            return _fd_values(fx, x, dyn, P)

    else:  # pragma: no cover - internal
        raise ValueError(kind)
    return jax.jit(fn, compiler_options=_compiler_options())


@functools.cache
def _compiler_options() -> dict[str, Any] | None:
    # These programs are small and run a handful of times: on the CPU, skipping LLVM's
    # optimisations compiles them about a third faster, and compiling is most of a check's time.
    return {"xla_backend_optimization_level": 0} if jax.default_backend() == "cpu" else None


@functools.lru_cache(maxsize=512)
def _cached(f, grad_f, spec: ArgSpec, static: tuple, types: tuple, kind: str, claim: bool):
    # ``types`` keeps 1, 1.0 and True apart: they hash alike but trace differently.
    return _build(f, grad_f, spec, static, kind, claim)


class Programs:
    """The programs of one point.

    ``f`` must be traceable (``jax.grad`` traces it). ``grad_f`` need not be: one
    that converts values to NumPy or branches on them in Python runs eagerly, and
    ``eager`` then records it for the report.
    """

    def __init__(self, f: Callable, grad_f: Callable, spec: ArgSpec, static: tuple, fd: bool):
        self.f, self.grad_f, self.spec, self.static, self.fd = f, grad_f, spec, static, fd
        self.eager: set[str] = set()

    def _run(self, kind: str, *args):
        claim = "grad_f" not in self.eager and kind not in ("fd_chunk",)
        try:
            types = tuple(type(v) for v in self.static)
            program = _cached(self.f, self.grad_f, self.spec, self.static, types, kind, claim)
        except TypeError:  # unhashable static arguments: build it without the cache
            program = _build(self.f, self.grad_f, self.spec, self.static, kind, claim)
        try:
            return program(*args)
        except TRACE_ERRORS:
            if not claim or self._traceable(*args[:2]):
                raise
            self.eager.add("grad_f")
            return self._run(kind, *args)

    def _traceable(self, x, dyn) -> bool:
        try:
            jax.eval_shape(_with_args(self.grad_f, self.spec, self.static), x, dyn)
        except TRACE_ERRORS:
            return False
        return True

    def _claimed_eagerly(self, x, dyn):
        x, dyn = jax.tree_util.tree_map(jnp.asarray, (x, dyn))
        return _with_args(self.grad_f, self.spec, self.static)(x, dyn)

    def claimed(self, x, dyn):
        """``grad_f`` alone (to find out which function raised)."""
        if "grad_f" in self.eager:
            return self._claimed_eagerly(x, dyn)
        return self._run("claimed", x, dyn)

    def low(self, x, dyn):
        """``(grad_f, jax.grad(f))`` in the dtype of ``x``."""
        claimed, g = self._run("low", x, dyn)
        if "grad_f" in self.eager:
            claimed = self._claimed_eagerly(x, dyn)
        return claimed, g

    def bundle(self, x, dyn, P: np.ndarray, *, fd: bool | None = None):
        """``(f, jax.grad(f), f at the 4 m points of the rows of P, grad_f)``; call under x64.

        The points go through ``f`` as one vmapped batch when that batch is
        small (``_FD_ELEMENTS`` array elements in all), else in chunks.
        """
        fd = self.fd if fd is None else fd
        size = sum(int(np.size(a)) for a in jax.tree_util.tree_leaves((x, dyn)))
        chunk = max(1, _FD_ELEMENTS // (4 * max(size, 1)))
        if not fd or P.shape[0] == 0:
            out = self._run("bundle_nofd", x, dyn, P)
        elif P.shape[0] <= chunk:
            out = self._run("bundle", x, dyn, P)
        else:
            chunk = 1 << (chunk.bit_length() - 1)  # a power of two: one compile for every chunk
            value, g, _, claimed = self._run("bundle_nofd", x, dyn, P)
            m = P.shape[0]
            padded = np.concatenate([P, np.zeros((-m % chunk, P.shape[1]), P.dtype)])
            parts = [
                np.asarray(self._run("fd_chunk", x, dyn, padded[i : i + chunk])).reshape(4, -1)
                for i in range(0, len(padded), chunk)
            ]
            out = value, g, np.concatenate(parts, axis=1)[:, :m].reshape(-1), claimed
        if "grad_f" in self.eager:
            out = (*out[:3], self._claimed_eagerly(x, dyn))
        return out

    def output(self, x, dyn) -> Any:
        """The shape and dtype of ``f``'s output (traced, not run, unless ``f`` needs values)."""
        fx = _with_args(self.f, self.spec, self.static)
        try:
            return jax.eval_shape(fx, x, dyn)
        except TRACE_ERRORS:
            out = fx(*jax.tree_util.tree_map(jnp.asarray, (x, dyn)))
            return jax.tree_util.tree_map(
                lambda a: jax.ShapeDtypeStruct(jnp.shape(a), a.dtype), out
            )
