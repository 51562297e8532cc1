"""P5 -- the Frobenius inner product and its gradient.

.. math:: \\langle A, B\\rangle = \\operatorname{tr}(A^\\top B) = \\sum_{ij} A_{ij}B_{ij},
          \\qquad \\frac{\\partial \\langle A,B\\rangle}{\\partial A} = B

Holds for any two matrices of the same shape, square or not. ``⟨A, A⟩ = ‖A‖_F²``
has gradient ``2A``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _validation as v
from ._derivation import Derivation

__all__ = ["frobenius", "frobenius_grad", "DERIVATIONS"]


def _args(fn, A, B):
    A = v.as_float(fn, "A", A)
    B = v.as_float(fn, "B", B)
    v.check_same_shape(fn, "A", A, "B", B)
    return A, B


def frobenius(A: jax.Array, B: jax.Array) -> jax.Array:
    """Frobenius inner product ``⟨A, B⟩ = tr(AᵀB) = Σ_ij A_ij B_ij``.

    .. math:: \\langle A, B\\rangle = \\operatorname{tr}(A^\\top B) = \\sum_{ij} A_{ij} B_{ij}

    Args:
      A: array of any shape (usually ``[M, N]``, square or not).
      B: array of ``A``'s shape.

    Returns:
      A scalar, in the dtype ``A`` and ``B`` promote to.

    Raises:
      ValueError: if the shapes differ.
      TypeError: if ``A`` or ``B`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> float(mcalc.frobenius(jnp.ones((3, 2)), jnp.full((3, 2), 2.0)))
      12.0
    """
    A, B = _args("mcalc.frobenius", A, B)
    return jnp.sum(A * B)


def frobenius_grad(A: jax.Array, B: jax.Array) -> jax.Array:
    """Closed-form gradient of :func:`frobenius` in ``A``: ``B``; equals ``jax.grad(frobenius)``.

    .. math:: \\frac{\\partial \\langle A, B\\rangle}{\\partial A} = B

    ``⟨A, B⟩`` is linear in each ``A_ij`` with coefficient ``B_ij``. With ``B = A``,
    ``‖A‖_F² = ⟨A, A⟩`` has gradient ``2A``.

    Args:
      A: ``[M, N]``, the argument the gradient is taken in.
      B: ``[M, N]``.

    Returns:
      ``B`` in the dtype that ``⟨A, B⟩`` has.

    Raises:
      ValueError: if the shapes differ.
      TypeError: if ``A`` or ``B`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> mcalc.frobenius_grad(jnp.ones((1, 2)), jnp.array([[3.0, 4.0]]))
      Array([[3., 4.]], dtype=float32)
    """
    A, B = _args("mcalc.frobenius_grad", A, B)
    return B.astype(jnp.result_type(A, B))


def frobenius_norm_sq(A: jax.Array) -> jax.Array:
    """``‖A‖_F² = ⟨A, A⟩``."""
    return frobenius(A, A)


def frobenius_norm_sq_grad(A: jax.Array) -> jax.Array:
    """Closed form of ``jax.grad(frobenius_norm_sq)``: ``2A``."""
    A = v.as_float("mcalc.frobenius_norm_sq_grad", "A", A)
    return 2 * A


def _sample(key, dtype):
    km, kn, ka, kb = jax.random.split(key, 4)
    M = int(jax.random.randint(km, (), 1, 8))
    N = int(jax.random.randint(kn, (), 1, 8))
    return jax.random.normal(ka, (M, N), dtype), jax.random.normal(kb, (M, N), dtype)


DERIVATIONS = (
    Derivation(
        name="frobenius",
        problem="P5",
        f=frobenius,
        grad=frobenius_grad,
        argnum=0,
        sample=_sample,
        formula=r"\langle A, B\rangle = \operatorname{tr}(A^\top B)",
        grad_formula="B",
        wrt="A",
    ),
    Derivation(
        name="frobenius_norm_sq",
        problem="P5",
        f=frobenius_norm_sq,
        grad=frobenius_norm_sq_grad,
        argnum=0,
        sample=lambda key, dtype: _sample(key, dtype)[:1],
        formula=r"\|A\|_F^2 = \langle A, A\rangle",
        grad_formula="2A",
        wrt="A",
    ),
)
