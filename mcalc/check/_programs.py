"""The compiled programs of a check against JAX autodiff, built once per function pair and cached.

Two programs per ``(f, claimed)`` pair and order, each jit-compiled once per shape:

* ``low``: the claimed derivative and the reference side by side in the caller's
  dtype (float32 when the caller's is float64), in the caller's x64 mode. It gives
  the claimed derivative as the caller computes it, and the reference there
  measures how far a correct derivative legitimately drifts from the float64 one
  at this point;
* ``bundle``: in float64, ``f``, the reference, the claimed derivative, and the
  evaluations of central finite differences: ``f`` at the points ``x ± P_k``,
  ``x ± 2 P_k`` for a gradient, ``jax.grad(f)`` there for a Hessian or a
  Hessian-vector product.

The reference is ``jax.grad(f)`` (order ``"gradient"``), ``jax.hessian(f)``
(``"hessian"``) or ``jax.jvp(jax.grad(f), (x,), (v,))`` (``"hvp"``, forward over
reverse). The cache is keyed on the function objects, so ``mcalc verify``
checking a derivation in float32 and then in float64 compiles each program once
per size. A claimed derivative that ``jit`` cannot trace (NumPy calls, Python
control flow on values) runs eagerly instead, with a note in the report.
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
    def call(x, dyn, *extra):
        return fn(*spec.assemble(x, dyn, static), *extra)

    return call


def _fd_values(fx: Callable, x, dyn, P):
    """``fx`` at ``x ± P_k`` and ``x ± 2 P_k`` for every row ``P_k``: 4 m values (or rows)."""
    flat, unravel = ravel_pytree(x)
    base = flat[None, :]
    pts = jnp.concatenate([base + P, base - P, base + 2 * P, base - 2 * P])
    return jax.vmap(lambda p: fx(unravel(p), dyn))(pts)


def _reference(order: str, fx: Callable) -> Callable:
    """``(x, dyn, *extra) -> (value, the reference derivative)`` in JAX autodiff."""
    if order == "gradient":
        return lambda x, dyn: jax.value_and_grad(fx)(x, dyn)
    if order == "hessian":
        return lambda x, dyn: (fx(x, dyn), jax.hessian(fx)(x, dyn))

    def hvp(x, dyn, v):
        # Forward over reverse: the directional derivative of jax.grad along v.
        return fx(x, dyn), jax.jvp(lambda x: jax.grad(fx)(x, dyn), (x,), (v,))[1]

    return hvp


def _fd_target(order: str, fx: Callable) -> Callable:
    """What finite differences differentiate: ``f`` for a gradient, the flat ``jax.grad(f)``
    for a second derivative."""
    if order == "gradient":
        return fx
    return lambda x, dyn: ravel_pytree(jax.grad(fx)(x, dyn))[0]


def _build(
    f: Callable,
    grad_f: Callable,
    spec: ArgSpec,
    static: tuple,
    kind: str,
    claim: bool,
    order: str = "gradient",
):
    """One jitted program; ``claim`` includes ``grad_f`` in it (else it runs eagerly apart)."""
    fx = _with_args(f, spec, static)
    gx = _with_args(grad_f, spec, static) if claim else (lambda x, dyn, *extra: None)
    ref = _reference(order, fx)
    target = _fd_target(order, fx)
    if kind == "claimed":
        fn = gx
    elif kind == "low":

        def fn(x, dyn, *extra):
            return gx(x, dyn, *extra), ref(x, dyn, *extra)[1]

    elif kind in ("bundle", "bundle_nofd"):

        def fn(x, dyn, P, *extra):
            value, g = ref(x, dyn, *extra)
            if kind == "bundle_nofd":
                fs = jnp.zeros((0,), jnp.result_type(value))
            else:
                fs = _fd_values(target, x, dyn, P)
            return value, g, fs, gx(x, dyn, *extra)

    elif kind == "fd_chunk":

        def fn(x, dyn, P, *extra):
            return _fd_values(target, x, dyn, P)

    else:  # pragma: no cover - internal
        raise ValueError(kind)
    return jax.jit(fn, compiler_options=_compiler_options())


@functools.cache
def _compiler_options() -> dict[str, Any] | None:
    # These programs are small and run a handful of times: on the CPU, skipping LLVM's
    # optimisations compiles them about a third faster, and compiling is most of a check's time.
    return {"xla_backend_optimization_level": 0} if jax.default_backend() == "cpu" else None


@functools.lru_cache(maxsize=512)
def _cached(
    f, grad_f, spec: ArgSpec, static: tuple, types: tuple, kind: str, claim: bool, order: str
):
    # ``types`` keeps 1, 1.0 and True apart: they hash alike but trace differently.
    return _build(f, grad_f, spec, static, kind, claim, order)


class Programs:
    """The programs of one point.

    ``f`` must be traceable (``jax.grad`` traces it). ``grad_f`` need not be: one
    that converts values to NumPy or branches on them in Python runs eagerly, and
    ``eager`` then records it for the report.
    """

    def __init__(
        self,
        f: Callable,
        grad_f: Callable,
        spec: ArgSpec,
        static: tuple,
        fd: bool,
        order: str = "gradient",
    ):
        self.f, self.grad_f, self.spec, self.static, self.fd = f, grad_f, spec, static, fd
        self.order = order
        self.eager: set[str] = set()

    def _run(self, kind: str, *args):
        claim = "grad_f" not in self.eager and kind not in ("fd_chunk",)
        key = (self.f, self.grad_f, self.spec, self.static)
        try:
            types = tuple(type(v) for v in self.static)
            program = _cached(*key, types, kind, claim, self.order)
        except TypeError:  # unhashable static arguments: build it without the cache
            program = _build(*key, kind, claim, self.order)
        try:
            return program(*args)
        except TRACE_ERRORS:
            # Arguments: (x, dyn, *extra), with the steps P after dyn for the bundles.
            extra = args[3:] if kind.startswith("bundle") else args[2:]
            if not claim or self._traceable(args[0], args[1], extra):
                raise
            self.eager.add("grad_f")
            return self._run(kind, *args)

    def _traceable(self, x, dyn, extra: tuple) -> bool:
        try:
            jax.eval_shape(_with_args(self.grad_f, self.spec, self.static), x, dyn, *extra)
        except TRACE_ERRORS:
            return False
        return True

    def _claimed_eagerly(self, x, dyn, extra: tuple):
        x, dyn, extra = jax.tree_util.tree_map(jnp.asarray, (x, dyn, extra))
        return _with_args(self.grad_f, self.spec, self.static)(x, dyn, *extra)

    def claimed(self, x, dyn, extra: tuple = ()):
        """The claimed derivative alone (to find out which function raised)."""
        if "grad_f" in self.eager:
            return self._claimed_eagerly(x, dyn, extra)
        return self._run("claimed", x, dyn, *extra)

    def low(self, x, dyn, extra: tuple = ()):
        """``(claimed, reference)`` in the dtype of ``x``."""
        claimed, g = self._run("low", x, dyn, *extra)
        if "grad_f" in self.eager:
            claimed = self._claimed_eagerly(x, dyn, extra)
        return claimed, g

    def bundle(self, x, dyn, P: np.ndarray, extra: tuple = (), *, fd: bool | None = None):
        """``(f, reference, finite-difference evaluations, claimed)``; call under x64.

        The evaluations are ``f`` (for a gradient) or the flat ``jax.grad(f)`` (for
        a second derivative) at the ``4 m`` points of the rows of ``P``: ``4 m``
        values or rows. They go through one vmapped batch when that batch is small
        (``_FD_ELEMENTS`` array elements in all), else in chunks.
        """
        fd = self.fd if fd is None else fd
        size = sum(int(np.size(a)) for a in jax.tree_util.tree_leaves((x, dyn)))
        chunk = max(1, _FD_ELEMENTS // (4 * max(size, 1)))
        if not fd or P.shape[0] == 0:
            out = self._run("bundle_nofd", x, dyn, P, *extra)
        elif P.shape[0] <= chunk:
            out = self._run("bundle", x, dyn, P, *extra)
        else:
            chunk = 1 << (chunk.bit_length() - 1)  # a power of two: one compile for every chunk
            value, g, _, claimed = self._run("bundle_nofd", x, dyn, P, *extra)
            m = P.shape[0]
            padded = np.concatenate([P, np.zeros((-m % chunk, P.shape[1]), P.dtype)])
            parts = []
            for i in range(0, len(padded), chunk):
                part = np.asarray(self._run("fd_chunk", x, dyn, padded[i : i + chunk], *extra))
                parts.append(part.reshape(4, chunk, -1))
            fs = np.concatenate(parts, axis=1)[:, :m].reshape(4 * m, -1)
            out = value, g, fs[:, 0] if self.order == "gradient" else fs, claimed
        if "grad_f" in self.eager:
            out = (*out[:3], self._claimed_eagerly(x, dyn, extra))
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
