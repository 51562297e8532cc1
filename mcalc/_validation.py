"""Input checks at mcalc's public boundary.

Every public function validates its inputs here, before anything is traced or
run, so that a mistake is reported as a ``ValueError``/``TypeError`` naming the
function, the argument, what was expected and what was received -- never as an
XLA error from deep inside a computation.

Shapes and static arguments are always checked (shapes are static under
``jit``). Value checks (finiteness, signs of hyperparameters) only run when the
value is concrete; under ``jit``/``vmap`` they are skipped, because a traced
value has no value yet.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "as_float",
    "check_ndim",
    "check_square",
    "check_same_shape",
    "check_dim",
    "check_static_int",
    "check_scalar",
    "check_finite",
    "check_binary_labels",
    "is_concrete",
]


def is_concrete(x: Any) -> bool:
    """True when ``x`` has a value now (not a tracer inside jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x))


def as_float(fn: str, name: str, x: Any) -> jax.Array:
    """Return ``x`` as a floating JAX array, keeping a floating dtype as it is.

    Integers are promoted to JAX's default float; complex, boolean and
    non-numeric inputs are rejected.
    """
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating):
        return x  # the common case, without an eager dispatch (tens of µs per call)
    if isinstance(x, jax.Array | np.ndarray | np.generic) or isinstance(x, jax.core.Tracer):
        dtype = jnp.result_type(x)
    else:
        try:
            dtype = np.asarray(x).dtype
        except Exception as e:  # pragma: no cover - numpy raises many types here
            raise TypeError(
                f"{fn}: {name} must be an array of real numbers; got {type(x).__name__}."
            ) from e
    if (
        dtype == np.bool_
        or jnp.issubdtype(dtype, jnp.complexfloating)
        or not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer))
    ):
        raise TypeError(
            f"{fn}: {name} must be an array of real numbers (float32 or float64); got dtype {dtype}."
        )
    if jnp.issubdtype(dtype, jnp.integer):
        return jnp.asarray(x, dtype=jnp.result_type(float))
    return jnp.asarray(x)


def check_ndim(fn: str, name: str, x: Any, ndim: int, layout: str) -> None:
    """Require ``x.ndim == ndim``; ``layout`` reads like ``"[N, D]"``."""
    shape = _shape(x)
    if len(shape) != ndim:
        hint = ""
        if len(shape) == ndim + 1:
            hint = " For a batch of inputs, map the function over the leading axis with jax.vmap."
        raise ValueError(
            f"{fn}: {name} must have {ndim} dimension{'s' if ndim != 1 else ''} {layout}; "
            f"got shape {shape}.{hint}"
        )


def check_square(fn: str, name: str, x: Any) -> None:
    check_ndim(fn, name, x, 2, "[D, D]")
    shape = _shape(x)
    if shape[0] != shape[1]:
        raise ValueError(f"{fn}: {name} must be square [D, D]; got shape {shape}.")


def check_same_shape(fn: str, name_a: str, a: Any, name_b: str, b: Any) -> None:
    if _shape(a) != _shape(b):
        raise ValueError(
            f"{fn}: {name_a} and {name_b} must have the same shape; "
            f"got {name_a} {_shape(a)} and {name_b} {_shape(b)}."
        )


def check_dim(fn: str, name: str, x: Any, axis: int, expected: int, because: str) -> None:
    """Require ``x.shape[axis] == expected``; ``because`` says which other size it must match."""
    shape = _shape(x)
    if shape[axis] != expected:
        raise ValueError(
            f"{fn}: {name} has shape {shape}, but its axis {axis} must have size {expected} "
            f"({because})."
        )


def check_static_int(fn: str, name: str, value: Any, *, minimum: int) -> int:
    """Require a Python (or NumPy) integer ``>= minimum`` known at trace time."""
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{fn}: {name} must be a static Python int (it sets the number of operations); "
            f"got a traced value. Mark it static, e.g. jax.jit(f, static_argnums=...)."
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            raise TypeError(f"{fn}: {name} must be an int; got {type(value).__name__} {value!r}.")
        raise ValueError(
            f"{fn}: {name} must be a non-negative integer; got {value!r}."
            if minimum == 0
            else f"{fn}: {name} must be an integer >= {minimum}; got {value!r}."
        )
    if value < minimum:
        what = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise ValueError(f"{fn}: {name} must be {what}; got {value}.")
    return int(value)


def check_scalar(
    fn: str, name: str, value: Any, *, minimum: float = 0.0, strict: bool = False
) -> None:
    """Require a scalar ``>= minimum`` (``> minimum`` if ``strict``) when it is concrete."""
    if np.ndim(value) != 0:
        raise ValueError(f"{fn}: {name} must be a scalar; got shape {_shape(value)}.")
    if not is_concrete(value):
        return
    v = float(value)
    bad = (v <= minimum) if strict else (v < minimum)
    if bad or not np.isfinite(v):
        op = ">" if strict else ">="
        raise ValueError(f"{fn}: {name} must be finite and {op} {minimum:g}; got {v!r}.")


def check_finite(fn: str, name: str, x: Any) -> None:
    """Reject NaN/Inf when ``x`` is concrete, naming how many and where the first one is."""
    if not is_concrete(x):
        return
    arr = np.asarray(x)
    # One pass without a temporary: a finite sum means every entry is finite (a NaN or
    # Inf propagates); only a non-finite sum (which can also be overflow) needs the
    # entry-by-entry look that finds the culprit.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(arr.sum()):
            return
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{fn}: {name} must be finite; found {int(bad.sum())} NaN/Inf "
            f"value(s), the first at index {first}."
        )


def check_binary_labels(fn: str, name: str, y: Any) -> None:
    """Require labels in ``{0, 1}`` when ``y`` is concrete, naming the first offending value."""
    if not is_concrete(y):
        return
    arr = np.asarray(y)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        hint = " For labels in {-1, 1}, pass (y + 1) / 2." if np.all(np.isin(arr, (-1, 1))) else ""
        raise ValueError(
            f"{fn}: {name} must hold labels 0 or 1; found {int(bad.sum())} other value(s), "
            f"the first {arr[first].item()!r} at index {first}.{hint}"
        )


def shape_str(shapes: Sequence[tuple[int, ...]]) -> str:
    return ", ".join(str(s) for s in shapes)


def linear_model_args(fn: str, w: Any, X: Any, y: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Validate ``w: [D]``, ``X: [N, D]``, ``y: [N]`` of a linear model and return them as floats."""
    w = as_float(fn, "w", w)
    X = as_float(fn, "X", X)
    y = as_float(fn, "y", y)
    check_ndim(fn, "w", w, 1, "[D]")
    check_ndim(fn, "X", X, 2, "[N, D] (one sample per row)")
    check_ndim(fn, "y", y, 1, "[N]")
    check_dim(fn, "X", X, 1, w.shape[0], f"D = w.shape[0] = {w.shape[0]}")
    check_dim(fn, "y", y, 0, X.shape[0], f"N = X.shape[0] = {X.shape[0]}")
    return w, X, y
