"""P2 -- logistic regression with an L2 penalty, labels ``y ∈ {0, 1}``.

.. math::
   L(w) = \\sum_i \\big[-y_i \\ln f_i - (1-y_i)\\ln(1-f_i)\\big] + \\lambda\\lVert w\\rVert^2,
   \\quad f_i = \\sigma(w^\\top x_i)

With ``a = Xw``: ``-y ln σ(a) - (1-y) ln(1-σ(a)) = softplus(a) - y a``, whose
derivative in ``a`` is ``σ(a) - y``; the chain rule through ``a = Xw`` gives
``∇L = Xᵀ(σ(Xw) - y) + 2λw`` and ``∇²L = Xᵀ S X + 2λI``, ``S = diag(σ(1-σ))``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _validation as v
from ._derivation import Derivation

__all__ = ["logistic_l2", "logistic_l2_grad", "logistic_l2_hessian", "DERIVATIONS"]


# The three pointwise pieces, in forms exact at any margin (shared with mcalc.solvers).


def pointwise_loss(a: jax.Array, y: jax.Array) -> jax.Array:
    """``-y ln σ(a) - (1-y) ln(1-σ(a))`` as ``(1-y) softplus(a) + y softplus(-a)``.

    Equal to ``softplus(a) - y a`` for any ``y``; exact for ``y ∈ {0, 1}`` at any margin,
    where ``log(sigmoid(a))`` underflows to ``-inf`` and ``softplus(a) - a`` cancels to 0.
    """
    return (1 - y) * jax.nn.softplus(a) + y * jax.nn.softplus(-a)


def residual(a: jax.Array, y: jax.Array) -> jax.Array:
    """``σ(a) - y`` as ``(1-y) σ(a) - y σ(-a)``: no cancellation of ``σ(a) - 1``.

    In float64 ``σ(a) - 1`` is exactly 0 past ``a ≈ 37``, so gradient descent on
    separable data would stop there instead of following the log-growth of ``‖w‖``.
    """
    return (1 - y) * jax.nn.sigmoid(a) - y * jax.nn.sigmoid(-a)


def curvature(a: jax.Array) -> jax.Array:
    """``σ(a)(1 - σ(a))`` as ``σ(a)σ(-a)``: no cancellation of ``1 - σ(a)``."""
    return jax.nn.sigmoid(a) * jax.nn.sigmoid(-a)


def _args(fn: str, w, X, y, lam):
    w, X, y = v.linear_model_args(fn, w, X, y)
    v.check_scalar(fn, "lam", lam, minimum=0.0)
    return w, X, y


def logistic_l2(w: jax.Array, X: jax.Array, y: jax.Array, *, lam: float = 1.0) -> jax.Array:
    """Summed logistic loss plus ``lam * ‖w‖²``.

    .. math:: L(w) = \\sum_i \\big[\\operatorname{softplus}(a_i) - y_i a_i\\big]
              + \\lambda\\lVert w\\rVert^2, \\quad a = Xw

    Args:
      w: ``[D]`` weights.
      X: ``[N, D]`` inputs, one sample per row.
      y: ``[N]`` labels in ``{0, 1}`` (any real target in ``[0, 1]`` is accepted).
      lam: ``λ ≥ 0``, strength of the squared-norm penalty (may be traced, e.g. in a sweep).

    Returns:
      The scalar loss, in the dtype of the inputs.

    Raises:
      ValueError: on shapes that do not fit together, or a concrete ``lam`` that is negative
        or not finite.
      TypeError: if ``w``, ``X`` or ``y`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0]]); y = jnp.array([1.0, 0.0])
      >>> round(float(mcalc.logistic_l2(jnp.zeros(2), X, y)), 4)  # 2 ln 2
      1.3863
    """
    w, X, y = _args("mcalc.logistic_l2", w, X, y, lam)
    return jnp.sum(pointwise_loss(X @ w, y)) + lam * jnp.dot(w, w)


def logistic_l2_grad(w: jax.Array, X: jax.Array, y: jax.Array, *, lam: float = 1.0) -> jax.Array:
    """Closed-form gradient of :func:`logistic_l2` in ``w``; equals ``jax.grad(logistic_l2)``.

    .. math:: \\nabla L = X^\\top(\\sigma(Xw) - y) + 2\\lambda w

    The logistic term of each sample, ``softplus(a) - y a`` with ``a = xᵀw``, has
    derivative ``σ(a) - y`` in ``a``; the chain rule through ``a = Xw`` gives
    ``Xᵀ(σ(Xw) - y)``, and the penalty adds ``2λw``.

    Args:
      w: ``[D]`` weights.
      X: ``[N, D]`` inputs, one sample per row.
      y: ``[N]`` labels in ``{0, 1}``.
      lam: ``λ ≥ 0``, strength of the squared-norm penalty (may be traced).

    Returns:
      ``[D]``, the dtype of the inputs.

    Raises:
      ValueError: on shapes that do not fit together, or a concrete ``lam`` that is negative
        or not finite.
      TypeError: if ``w``, ``X`` or ``y`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0]]); y = jnp.array([1.0, 0.0])
      >>> mcalc.logistic_l2_grad(jnp.zeros(2), X, y)
      Array([-0.5,  0.5], dtype=float32)
    """
    w, X, y = _args("mcalc.logistic_l2_grad", w, X, y, lam)
    # r @ X, not X.T @ r: on the CPU the transposed product of a tall X is ~5x slower.
    return residual(X @ w, y) @ X + (2 * lam) * w


def logistic_l2_hessian(w: jax.Array, X: jax.Array, y: jax.Array, *, lam: float = 1.0) -> jax.Array:
    """Closed-form Hessian of :func:`logistic_l2`; equals ``jax.hessian(logistic_l2)``.

    .. math:: \\nabla^2 L = X^\\top S X + 2\\lambda I, \\quad S = \\operatorname{diag}(f_i(1-f_i))

    Positive definite for ``λ > 0``: the loss is strictly convex, with one minimiser.

    Args:
      w: ``[D]`` weights.
      X: ``[N, D]`` inputs, one sample per row.
      y: ``[N]`` labels (unused by the formula, checked for shape).
      lam: ``λ ≥ 0``, strength of the squared-norm penalty (may be traced).

    Returns:
      ``[D, D]`` symmetric matrix, the dtype of the inputs.

    Raises:
      ValueError: on shapes that do not fit together, or a concrete ``lam`` that is negative
        or not finite.
      TypeError: if ``w``, ``X`` or ``y`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0]]); y = jnp.array([1.0, 0.0])
      >>> mcalc.logistic_l2_hessian(jnp.zeros(2), X, y)  # XᵀSX + 2λI, S = diag(1/4)
      Array([[2.25, 0.  ],
             [0.  , 2.25]], dtype=float32)
    """
    w, X, y = _args("mcalc.logistic_l2_hessian", w, X, y, lam)
    s = curvature(X @ w)
    H = jax.lax.dot_general(X * s[:, None], X, (((0,), (0,)), ((), ())))
    return H + (2 * lam) * jnp.eye(w.shape[0], dtype=H.dtype)


def _sample(key, dtype):
    kn, kd, kw, kx, ky = jax.random.split(key, 5)
    N = int(jax.random.randint(kn, (), 3, 40))
    D = int(jax.random.randint(kd, (), 1, 8))
    X = jax.random.normal(kx, (N, D), dtype)
    w = jax.random.normal(kw, (D,), dtype)
    y = jax.random.bernoulli(ky, 0.5, (N,)).astype(dtype)
    return w, X, y


_LAM = 0.7


def _loss(w, X, y):
    return logistic_l2(w, X, y, lam=_LAM)


_FORMULA = r"\sum_i[\operatorname{softplus}(x_i^\top w) - y_i x_i^\top w] + \lambda\|w\|^2"

DERIVATIONS = (
    Derivation(
        name="logistic_l2",
        problem="P2",
        f=_loss,
        grad=lambda w, X, y: logistic_l2_grad(w, X, y, lam=_LAM),
        argnum=0,
        sample=_sample,
        formula=_FORMULA,
        grad_formula=r"X^\top(\sigma(Xw) - y) + 2\lambda w",
        wrt="w",
    ),
    Derivation(
        name="logistic_l2_hessian",
        problem="P2",
        f=_loss,
        grad=lambda w, X, y: logistic_l2_hessian(w, X, y, lam=_LAM),
        argnum=0,
        sample=_sample,
        formula=_FORMULA,
        grad_formula=r"X^\top S X + 2\lambda I,\ S = \operatorname{diag}(\sigma(1 - \sigma))",
        wrt="w",
        kind="hessian",
    ),
)
