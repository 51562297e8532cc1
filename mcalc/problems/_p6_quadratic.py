"""P6 -- a quadratic form and its gradients.

.. math:: f(w, X) = w^\\top X w = \\sum_{ij} w_i X_{ij} w_j, \\qquad
          \\frac{\\partial f}{\\partial w} = (X + X^\\top) w, \\qquad
          \\frac{\\partial f}{\\partial X} = w w^\\top

``∂/∂w_k Σ_ij w_i X_ij w_j = Σ_j X_kj w_j + Σ_i w_i X_ik``: the first sum is
``(Xw)_k``, the second ``(Xᵀw)_k``. For symmetric ``X`` this is ``2Xw``; for a
general ``X`` the shortcut ``2Xw`` is wrong.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _validation as v
from ._derivation import Derivation

__all__ = [
    "quadratic_form",
    "quadratic_form_grad",
    "quadratic_form_grad_X",
    "quadratic_form_hessian",
    "DERIVATIONS",
]


def _args(fn, w, X):
    w = v.as_float(fn, "w", w)
    X = v.as_float(fn, "X", X)
    v.check_ndim(fn, "w", w, 1, "[D]")
    v.check_square(fn, "X", X)
    v.check_dim(fn, "X", X, 0, w.shape[0], f"D = w.shape[0] = {w.shape[0]}")
    return w, X


def quadratic_form(w: jax.Array, X: jax.Array) -> jax.Array:
    """The quadratic form ``wᵀ X w``.

    .. math:: f(w, X) = w^\\top X w = \\sum_{ij} w_i X_{ij} w_j

    Args:
      w: ``[D]`` vector.
      X: ``[D, D]`` matrix, not necessarily symmetric.

    Returns:
      A scalar, in the dtype ``w`` and ``X`` promote to.

    Raises:
      ValueError: if ``w`` is not 1-D, or ``X`` is not square or its size differs from ``w``'s.
      TypeError: if ``w`` or ``X`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> float(mcalc.quadratic_form(jnp.array([1.0, 2.0]), jnp.array([[1.0, 2.0], [0.0, 1.0]])))
      9.0
    """
    w, X = _args("mcalc.quadratic_form", w, X)
    return w @ (X @ w)


def quadratic_form_grad(w: jax.Array, X: jax.Array) -> jax.Array:
    """Closed-form gradient of :func:`quadratic_form` in ``w``; equals ``jax.grad(quadratic_form)``.

    .. math:: \\frac{\\partial\\, w^\\top X w}{\\partial w} = (X + X^\\top)\\,w

    Differentiating ``Σ_ij w_i X_ij w_j`` in ``w_k`` picks up the terms with ``i = k``
    (``(Xw)_k``) and those with ``j = k`` (``(Xᵀw)_k``). Only for a symmetric ``X`` is
    this ``2Xw``.

    Args:
      w: ``[D]`` vector, the argument the gradient is taken in.
      X: ``[D, D]`` matrix, not necessarily symmetric.

    Returns:
      ``[D]``, in the dtype ``w`` and ``X`` promote to.

    Raises:
      ValueError: if ``w`` is not 1-D, or ``X`` is not square or its size differs from ``w``'s.
      TypeError: if ``w`` or ``X`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> mcalc.quadratic_form_grad(jnp.array([1.0, 2.0]), jnp.array([[1.0, 2.0], [0.0, 1.0]]))
      Array([6., 6.], dtype=float32)
    """
    w, X = _args("mcalc.quadratic_form_grad", w, X)
    # Xw + Xᵀw with Xᵀw written as w @ X: no transposed copy of X.
    return X @ w + w @ X


def quadratic_form_grad_X(w: jax.Array, X: jax.Array) -> jax.Array:
    """Closed-form gradient of :func:`quadratic_form` in ``X``: the outer product ``w wᵀ``.

    .. math:: \\frac{\\partial\\, w^\\top X w}{\\partial X} = w w^\\top

    ``wᵀXw`` is linear in each ``X_ij`` with coefficient ``w_i w_j``. Equals
    ``jax.grad(quadratic_form, argnums=1)``.

    Args:
      w: ``[D]`` vector.
      X: ``[D, D]`` matrix, the argument the gradient is taken in.

    Returns:
      ``[D, D]``, in the dtype ``w`` and ``X`` promote to.

    Raises:
      ValueError: if ``w`` is not 1-D, or ``X`` is not square or its size differs from ``w``'s.
      TypeError: if ``w`` or ``X`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> mcalc.quadratic_form_grad_X(jnp.array([1.0, 2.0]), jnp.eye(2))
      Array([[1., 2.],
             [2., 4.]], dtype=float32)
    """
    w, X = _args("mcalc.quadratic_form_grad_X", w, X)
    return jnp.outer(w, w).astype(jnp.result_type(w, X))


def quadratic_form_hessian(w: jax.Array, X: jax.Array) -> jax.Array:
    """Closed-form Hessian of :func:`quadratic_form` in ``w``: ``X + Xᵀ``, whatever ``w``.

    .. math:: \\frac{\\partial^2\\, w^\\top X w}{\\partial w\\, \\partial w^\\top} = X + X^\\top

    ``∂/∂w_l`` of the gradient ``Σ_j X_kj w_j + Σ_i w_i X_ik`` is ``X_kl + X_lk``. The
    shortcut ``2X`` holds only for symmetric ``X`` (and is not even symmetric otherwise).

    Args:
      w: ``[D]``; X: ``[D, D]``.

    Returns:
      ``[D, D]`` symmetric.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> mcalc.quadratic_form_hessian(jnp.ones(2), jnp.array([[1.0, 2.0], [0.0, 1.0]]))
      Array([[2., 2.],
             [2., 2.]], dtype=float32)
    """
    w, X = _args("mcalc.quadratic_form_hessian", w, X)
    return (X + X.T).astype(jnp.result_type(w, X))


def _sample(key, dtype):
    kd, kw, kx = jax.random.split(key, 3)
    D = int(jax.random.randint(kd, (), 2, 9))
    # A general (non-symmetric) X, so the symmetric-only answer 2Xw cannot pass.
    return jax.random.normal(kw, (D,), dtype), jax.random.normal(kx, (D, D), dtype)


DERIVATIONS = (
    Derivation(
        name="quadratic_form",
        problem="P6",
        f=quadratic_form,
        grad=quadratic_form_grad,
        argnum=0,
        sample=_sample,
        formula=r"w^\top X w",
        grad_formula=r"(X + X^\top)\,w",
        wrt="w",
    ),
    Derivation(
        name="quadratic_form_X",
        problem="P6",
        f=quadratic_form,
        grad=quadratic_form_grad_X,
        argnum=1,
        sample=_sample,
        formula=r"w^\top X w",
        grad_formula=r"w w^\top",
        wrt="X",
    ),
    Derivation(
        name="quadratic_form_hessian",
        problem="P6",
        f=quadratic_form,
        grad=quadratic_form_hessian,
        argnum=0,
        sample=_sample,
        formula=r"w^\top X w",
        grad_formula=r"X + X^\top",
        wrt="w",
        kind="hessian",
    ),
)
