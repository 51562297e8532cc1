"""P3 -- a bipolar sigmoid unit with the squared loss, labels ``y ∈ {-1, 1}``.

.. math::
   f(x; w) = \\frac{1 - e^{-a}}{1 + e^{-a}} = \\tanh(a/2) = 2\\sigma(a) - 1, \\quad a = w^\\top x,
   \\qquad L = \\tfrac12 \\sum_i (f_i - y_i)^2

``df/da = (1 - f²)/2``, so ``∇L = Σ_i (f_i - y_i)(1 - f_i²)/2 · x_i = Xᵀ[(f - y) ⊙ (1 - f²)/2]``.
With ``f' = (1 - f²)/2`` and ``f'' = -f f'``, the Hessian is
``∇²L = Xᵀ diag(f'² + (f - y) f'') X = Xᵀ diag(f'(f' - f(f - y))) X``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _validation as v
from ._derivation import Derivation

__all__ = [
    "bipolar_sigmoid",
    "bipolar_squared",
    "bipolar_squared_grad",
    "bipolar_squared_hessian",
    "DERIVATIONS",
]


def bipolar_sigmoid(a: jax.Array) -> jax.Array:
    """The bipolar sigmoid ``(1 - e^{-a}) / (1 + e^{-a})``, elementwise, values in ``(-1, 1)``.

    .. math:: \\frac{1 - e^{-a}}{1 + e^{-a}} = \\tanh(a/2)

    Args:
      a: array of any shape.

    Returns:
      Array of ``a``'s shape and dtype.

    Raises:
      TypeError: if ``a`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> mcalc.bipolar_sigmoid(jnp.array([0.0, -1000.0]))
      Array([ 0., -1.], dtype=float32)
    """
    a = v.as_float("mcalc.bipolar_sigmoid", "a", a)
    # tanh(a/2): the quotient form overflows (inf/inf = NaN) for very negative a.
    return jnp.tanh(a / 2)


def _residual(a: jax.Array, y: jax.Array) -> jax.Array:
    """``f - y`` with ``f = tanh(a/2) = 2σ(a) - 1``, as ``(1-y)σ(a) - (1+y)σ(-a)``.

    Equal for any ``y``, and exact for ``y ∈ {-1, 1}`` where ``f - 1`` would cancel
    (``tanh(a/2) - 1`` is exactly 0 past ``a ≈ 38`` in float64).
    """
    return (1 - y) * jax.nn.sigmoid(a) - (1 + y) * jax.nn.sigmoid(-a)


def bipolar_squared(w: jax.Array, X: jax.Array, y: jax.Array) -> jax.Array:
    """Half the summed squared error of a bipolar sigmoid unit.

    .. math:: L(w) = \\tfrac12 \\sum_i (\\tanh(x_i^\\top w / 2) - y_i)^2

    Args:
      w: ``[D]`` weights.
      X: ``[N, D]`` inputs, one sample per row.
      y: ``[N]`` targets in ``{-1, 1}``.

    Returns:
      The scalar loss.

    Raises:
      ValueError: on shapes that do not fit together.
      TypeError: if ``w``, ``X`` or ``y`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> float(mcalc.bipolar_squared(jnp.zeros(2), jnp.ones((3, 2)), jnp.ones(3)))
      1.5
    """
    w, X, y = v.linear_model_args("mcalc.bipolar_squared", w, X, y)
    return 0.5 * jnp.sum(_residual(X @ w, y) ** 2)


def bipolar_squared_grad(w: jax.Array, X: jax.Array, y: jax.Array) -> jax.Array:
    """Closed-form gradient of :func:`bipolar_squared` in ``w``; equals ``jax.grad(bipolar_squared)``.

    .. math:: \\nabla L = X^\\top\\big[(f - y) \\odot (1 - f^2)/2\\big], \\quad f = \\tanh(Xw/2)

    With ``f = tanh(a/2)``, ``df/da = (1 - f²)/2``; the chain rule through ``a = Xw``
    sums ``(f_i - y_i) (1 - f_i²)/2 · x_i`` over the samples.

    Args:
      w: ``[D]`` weights.
      X: ``[N, D]`` inputs, one sample per row.
      y: ``[N]`` targets in ``{-1, 1}``.

    Returns:
      ``[D]``, the dtype of the inputs.

    Raises:
      ValueError: on shapes that do not fit together.
      TypeError: if ``w``, ``X`` or ``y`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> mcalc.bipolar_squared_grad(jnp.zeros(2), jnp.ones((3, 2)), jnp.ones(3))
      Array([-1.5, -1.5], dtype=float32)
    """
    w, X, y = v.linear_model_args("mcalc.bipolar_squared_grad", w, X, y)
    a = X @ w
    # (1 - f²)/2 = 2σ(a)σ(-a): no cancellation where |f| → 1.
    dfda = 2 * jax.nn.sigmoid(a) * jax.nn.sigmoid(-a)
    # r @ X rather than X.T @ r: the fast layout for a tall X on the CPU.
    return (_residual(a, y) * dfda) @ X


def bipolar_squared_hessian(w: jax.Array, X: jax.Array, y: jax.Array) -> jax.Array:
    """Closed-form Hessian of :func:`bipolar_squared` in ``w``; equals ``jax.hessian(bipolar_squared)``.

    .. math:: \\nabla^2 L = X^\\top \\operatorname{diag}\\big(f'(f' - f(f - y))\\big) X,
              \\quad f = \\tanh(Xw/2),\\ f' = (1 - f^2)/2

    Each sample's ``½(f_i - y_i)²`` has second derivative ``f'² + (f - y) f''`` in
    ``a_i = x_iᵀw``, with ``f'' = -f f'`` (the derivative of ``(1 - f²)/2``); the
    chain rule through ``a = Xw`` gives ``XᵀDX``. Not positive semi-definite in
    general: where ``f(f - y) > f'`` the curvature is negative.

    Args:
      w: ``[D]``; X: ``[N, D]``; y: ``[N]``.

    Returns:
      ``[D, D]`` symmetric.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> mcalc.bipolar_squared_hessian(jnp.zeros(2), jnp.eye(2), jnp.ones(2))  # f = 0, f' = 1/2
      Array([[0.25, 0.  ],
             [0.  , 0.25]], dtype=float32)
    """
    w, X, y = v.linear_model_args("mcalc.bipolar_squared_hessian", w, X, y)
    a = X @ w
    dfda = 2 * jax.nn.sigmoid(a) * jax.nn.sigmoid(-a)  # (1 - f²)/2 without cancellation
    f = jnp.tanh(a / 2)
    s = dfda * (dfda - f * _residual(a, y))
    # Xᵀ diag(s) X contracting the sample axis: no transposed copy of a tall X.
    return jax.lax.dot_general(X * s[:, None], X, (((0,), (0,)), ((), ())))


def _sample(key, dtype):
    kn, kd, kw, kx, ky = jax.random.split(key, 5)
    N = int(jax.random.randint(kn, (), 3, 40))
    D = int(jax.random.randint(kd, (), 1, 8))
    X = jax.random.normal(kx, (N, D), dtype)
    w = jax.random.normal(kw, (D,), dtype) / jnp.sqrt(jnp.asarray(D, dtype))
    y = jnp.where(jax.random.bernoulli(ky, 0.5, (N,)), 1, -1).astype(dtype)
    return w, X, y


_FORMULA = r"\tfrac12\sum_i(\tanh(x_i^\top w/2) - y_i)^2"

DERIVATIONS = (
    Derivation(
        name="bipolar_squared",
        problem="P3",
        f=bipolar_squared,
        grad=bipolar_squared_grad,
        argnum=0,
        sample=_sample,
        formula=_FORMULA,
        grad_formula=r"X^\top[(f - y)\odot(1 - f^2)/2]",
        wrt="w",
    ),
    Derivation(
        name="bipolar_squared_hessian",
        problem="P3",
        f=bipolar_squared,
        grad=bipolar_squared_hessian,
        argnum=0,
        sample=_sample,
        formula=_FORMULA,
        grad_formula=r"X^\top\operatorname{diag}(f'(f' - f(f - y)))X,\ f' = (1 - f^2)/2",
        wrt="w",
        kind="hessian",
    ),
)
