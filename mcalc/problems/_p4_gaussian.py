"""P4 -- Gaussian maximum likelihood for linear regression.

.. math::
   \\ln P = -\\tfrac N2 \\ln(2\\pi\\sigma^2) - \\tfrac{1}{2\\sigma^2}\\lVert y - Xw\\rVert^2

Maximising over ``w`` is least squares: ``XᵀX w = Xᵀy``, ``w* = (XᵀX)⁻¹Xᵀy`` for
full column rank, the minimum-norm ``w* = X⁺y`` otherwise. The MLE of the noise
variance is ``σ²* = ‖y - Xw*‖² / N``. The gradient of ``-ln P`` in ``w`` is
``-(1/σ²) Xᵀ(y - Xw)``.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .. import _validation as v
from ._blocks import row_block_sum
from ._derivation import Derivation

__all__ = [
    "gaussian_nll",
    "gaussian_nll_grad",
    "gaussian_nll_hessian",
    "least_squares",
    "LeastSquaresResult",
    "RankDeficientWarning",
    "DERIVATIONS",
]


def _args(fn, w, X, y, sigma2):
    w, X, y = v.linear_model_args(fn, w, X, y)
    v.check_scalar(fn, "sigma2", sigma2, minimum=0.0, strict=True)
    return w, X, y


def gaussian_nll(w: jax.Array, X: jax.Array, y: jax.Array, *, sigma2: float = 1.0) -> jax.Array:
    """Negative log-likelihood of ``y ~ N(Xw, σ² I)``.

    .. math:: -\\ln P = \\tfrac N2 \\ln(2\\pi\\sigma^2) + \\tfrac{1}{2\\sigma^2}\\lVert y - Xw\\rVert^2

    Args:
      w: ``[D]`` weights.
      X: ``[N, D]`` inputs, one sample per row.
      y: ``[N]`` targets.
      sigma2: noise variance ``σ² > 0``.

    Returns:
      The scalar ``-ln P``, in the dtype of the inputs.

    Raises:
      ValueError: on shapes that do not fit together, or a concrete ``sigma2`` that is not
        finite and positive.
      TypeError: if ``w``, ``X`` or ``y`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> round(float(mcalc.gaussian_nll(jnp.zeros(1), jnp.ones((1, 1)), jnp.zeros(1))), 4)
      0.9189
    """
    w, X, y = _args("mcalc.gaussian_nll", w, X, y, sigma2)
    r = y - X @ w
    n = X.shape[0]
    return 0.5 * n * jnp.log(2 * math.pi * sigma2).astype(r.dtype) + (r @ r) / (2 * sigma2)


def gaussian_nll_grad(
    w: jax.Array, X: jax.Array, y: jax.Array, *, sigma2: float = 1.0
) -> jax.Array:
    """Closed-form gradient of :func:`gaussian_nll` in ``w``; equals ``jax.grad(gaussian_nll)``.

    .. math:: \\nabla_w(-\\ln P) = -\\tfrac{1}{\\sigma^2} X^\\top (y - Xw)

    Only the squared residual depends on ``w``: its gradient is ``-2Xᵀ(y - Xw)``,
    scaled by ``1/(2σ²)``. Setting it to zero gives the normal equations that
    :func:`least_squares` solves.

    Args:
      w: ``[D]`` weights.
      X: ``[N, D]`` inputs, one sample per row.
      y: ``[N]`` targets.
      sigma2: noise variance ``σ² > 0`` (may be traced).

    Returns:
      ``[D]``, the dtype of the inputs.

    Raises:
      ValueError: on shapes that do not fit together, or a concrete ``sigma2`` that is not
        finite and positive.
      TypeError: if ``w``, ``X`` or ``y`` is not an array of real numbers.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> mcalc.gaussian_nll_grad(jnp.zeros(2), jnp.eye(2), jnp.array([1.0, 2.0]))
      Array([-1., -2.], dtype=float32)
    """
    w, X, y = _args("mcalc.gaussian_nll_grad", w, X, y, sigma2)
    # (r @ X), not X.T @ r: the fast layout for a tall X on the CPU.
    return -((y - X @ w) @ X) / sigma2


def gaussian_nll_hessian(
    w: jax.Array, X: jax.Array, y: jax.Array, *, sigma2: float = 1.0
) -> jax.Array:
    """Closed-form Hessian of :func:`gaussian_nll` in ``w``; equals ``jax.hessian(gaussian_nll)``.

    .. math:: \\nabla^2_w(-\\ln P) = \\tfrac{1}{\\sigma^2} X^\\top X

    Constant in ``w`` and positive semi-definite: Newton's method solves the
    normal equations in one step.

    Args:
      w: ``[D]`` (unused by the formula, checked for shape); X: ``[N, D]``; y: ``[N]``;
      sigma2: ``σ² > 0``.

    Returns:
      ``[D, D]`` symmetric.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> mcalc.gaussian_nll_hessian(jnp.zeros(2), jnp.eye(2), jnp.zeros(2), sigma2=0.5)
      Array([[2., 0.],
             [0., 2.]], dtype=float32)
    """
    w, X, y = _args("mcalc.gaussian_nll_hessian", w, X, y, sigma2)
    # XᵀX contracting the sample axis directly: no transposed copy of a tall X.
    G = jax.lax.dot_general(X, X, (((0,), (0,)), ((), ())))
    return (G / sigma2).astype(jnp.result_type(w, X, y))


class LeastSquaresResult(NamedTuple):
    """The maximum-likelihood fit of P4 (a pytree: usable under ``jit``).

    Attributes:
      w: ``[D]`` the least-squares weights; the minimum-norm solution ``X⁺y`` when
        ``X`` is rank-deficient.
      sigma2: scalar, the MLE of the noise variance ``‖y - Xw‖² / N``.
      rank: integer scalar, the numerical rank of ``X`` (``D`` when the normal
        equations were solved by Cholesky).

    ``full_rank`` is true when ``rank == D``, that is when ``w`` is the unique minimiser.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> res = mcalc.least_squares(jnp.eye(3), jnp.array([1.0, 2.0, 3.0]))
      >>> res.w, int(res.rank), res.full_rank
      (Array([1., 2., 3.], dtype=float32), 3, True)
    """

    w: jax.Array
    sigma2: jax.Array
    rank: jax.Array

    @property
    def full_rank(self) -> bool:
        """True when ``rank == D`` (then ``w`` is the unique minimiser)."""
        return bool(self.rank == self.w.shape[0])


class RankDeficientWarning(UserWarning):
    """``X`` has fewer independent columns than features: the minimiser is not unique.

    :func:`least_squares` warns with it, naming the rank, and returns the minimum-norm
    solution ``X⁺y``. Silence it with ``warnings.simplefilter``, or turn it into an
    error with ``warnings.simplefilter("error", mcalc.RankDeficientWarning)``.

    Example:
      >>> import warnings
      >>> import jax.numpy as jnp, mcalc
      >>> X = jnp.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])  # two equal columns: rank 1
      >>> with warnings.catch_warnings(record=True) as caught:
      ...     warnings.simplefilter("always")
      ...     res = mcalc.least_squares(X, jnp.array([1.0, 2.0, 3.0]))
      >>> caught[0].category.__name__, int(res.rank), [round(float(w), 4) for w in res.w]
      ('RankDeficientWarning', 1, [0.5, 0.5])
    """


# Rows per block of the one pass over X that forms XᵀX, Xᵀy and yᵀy together: about
# 3 MiB of float64 at D = 100, so that the block read for XᵀX is still in cache for Xᵀy.
_BLOCK_BYTES = 3 * 2**20


def _moments(X: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``XᵀX``, ``Xᵀy`` and ``yᵀy``, summed over blocks of rows: one read of ``X``.

    Measured at 1 000 000 x 100 float64 on the 2-core CPU: ``XᵀX`` alone and then
    ``y @ X`` read ``X`` twice (the second pass 60-150 ms against 450-800 ms for the
    first); blocked, the three moments cost what ``XᵀX`` alone costs.
    """
    rows = max(256, _BLOCK_BYTES // (X.shape[1] * X.dtype.itemsize))
    contract_rows = (((0,), (0,)), ((), ()))

    def block(Xb, yb):
        # XᵀX contracting the sample axis directly: no transposed copy of a tall X.
        return jax.lax.dot_general(Xb, Xb, contract_rows), yb @ Xb, yb @ yb

    return row_block_sum(block, X, y, rows)


@jax.jit
def _least_squares(X: jax.Array, y: jax.Array) -> LeastSquaresResult:
    n, d = X.shape
    G, b, yy = _moments(X, y)
    L = jnp.linalg.cholesky(G)
    diag = jnp.diagonal(L)
    eps = jnp.finfo(X.dtype).eps
    # cond(XᵀX) ≳ (max diag L / min diag L)²; past ~1/(100 eps) the normal
    # equations lose all digits, so hand the problem to the SVD.
    well_conditioned = jnp.all(jnp.isfinite(L)) & (
        jnp.min(diag) > 10 * jnp.sqrt(eps) * jnp.max(diag)
    )

    def explicit(w):
        r = y - X @ w
        return r @ r

    def cholesky(_):
        w = jax.scipy.linalg.cho_solve((L, True), b)
        # ‖y - Xw‖² = yᵀy - 2bᵀw + wᵀ(XᵀX)w exactly, from the moments: no second pass
        # over X. Each term is at most about yᵀy, so the rounding error is a few eps·yᵀy;
        # where that is not below 2^-40 of the result (a near-exact fit, or float32),
        # the residual is formed explicitly instead.
        rr = yy - 2 * (b @ w) + w @ (G @ w)
        accurate = (rr > 0) & (8 * eps * yy <= 2.0**-40 * rr)
        rr = jax.lax.cond(accurate, lambda w: rr, explicit, w)
        return w, jnp.asarray(d, dtype=jnp.int32), rr

    def svd(_):
        w, _, rank, _ = jnp.linalg.lstsq(X, y)
        w = w.astype(X.dtype)
        return w, rank.astype(jnp.int32), explicit(w)

    w, rank, rr = jax.lax.cond(well_conditioned, cholesky, svd, None)
    return LeastSquaresResult(w=w, sigma2=rr / n, rank=rank)


def least_squares(X: jax.Array, y: jax.Array) -> LeastSquaresResult:
    """Maximum-likelihood ``w`` and ``σ²`` of P4: least squares, robust to rank deficiency.

    .. math:: w^* = (X^\\top X)^{-1} X^\\top y \\ (\\text{full rank}), \\qquad
              w^* = X^+ y \\ (\\text{rank-deficient}), \\qquad
              \\sigma^{2*} = \\lVert y - Xw^*\\rVert^2 / N

    The normal equations are solved by Cholesky (one ``XᵀX``, the floor of the
    problem) when ``XᵀX`` is well-conditioned; otherwise the minimum-norm
    solution comes from the SVD (``lstsq``), and a :class:`RankDeficientWarning`
    says so when ``X`` is rank-deficient.

    Args:
      X: ``[N, D]`` inputs, one sample per row; finite.
      y: ``[N]`` targets; finite.

    Returns:
      A :class:`LeastSquaresResult` with ``.w``, ``.sigma2`` and ``.rank``.

    Raises:
      ValueError: on shapes that do not fit together, an empty ``X``, or NaN/Inf in
        ``X`` or ``y``.
      TypeError: if ``X`` or ``y`` is not an array of real numbers.

    Warns:
      RankDeficientWarning: when ``X`` is rank-deficient (and concrete).

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> res = mcalc.least_squares(jnp.array([[1.0], [1.0]]), jnp.array([1.0, 3.0]))
      >>> round(float(res.w[0]), 4), round(float(res.sigma2), 4), int(res.rank)
      (2.0, 1.0, 1)
    """
    fn = "mcalc.least_squares"
    X = v.as_float(fn, "X", X)
    y = v.as_float(fn, "y", y)
    v.check_ndim(fn, "X", X, 2, "[N, D] (one sample per row)")
    v.check_ndim(fn, "y", y, 1, "[N]")
    v.check_dim(fn, "y", y, 0, X.shape[0], f"N = X.shape[0] = {X.shape[0]}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{fn}: X must have at least one row and one column; got shape {X.shape}.")
    v.check_finite(fn, "X", X)
    v.check_finite(fn, "y", y)
    dtype = jnp.result_type(X, y)
    result = _least_squares(X.astype(dtype), y.astype(dtype))
    if v.is_concrete(result.rank) and int(result.rank) < X.shape[1]:
        warnings.warn(
            f"{fn}: X is rank-deficient (rank {int(result.rank)} < D = {X.shape[1]}); "
            "XᵀX is singular, so the minimum-norm solution X⁺y is returned.",
            RankDeficientWarning,
            stacklevel=2,
        )
    return result


def _sample(key, dtype):
    kn, kd, kw, kx, ky = jax.random.split(key, 5)
    D = int(jax.random.randint(kd, (), 1, 8))
    N = D + int(jax.random.randint(kn, (), 1, 30))
    X = jax.random.normal(kx, (N, D), dtype)
    w = jax.random.normal(kw, (D,), dtype)
    y = X @ w + jax.random.normal(ky, (N,), dtype)
    return w, X, y


_SIGMA2 = 0.8
_FORMULA = r"\tfrac N2\ln(2\pi\sigma^2) + \tfrac{1}{2\sigma^2}\|y - Xw\|^2"


def _loss(w, X, y):
    return gaussian_nll(w, X, y, sigma2=_SIGMA2)


DERIVATIONS = (
    Derivation(
        name="gaussian_nll",
        problem="P4",
        f=_loss,
        grad=lambda w, X, y: gaussian_nll_grad(w, X, y, sigma2=_SIGMA2),
        argnum=0,
        sample=_sample,
        formula=_FORMULA,
        grad_formula=r"-\tfrac{1}{\sigma^2}X^\top(y - Xw)",
        wrt="w",
    ),
    Derivation(
        name="gaussian_nll_hessian",
        problem="P4",
        f=_loss,
        grad=lambda w, X, y: gaussian_nll_hessian(w, X, y, sigma2=_SIGMA2),
        argnum=0,
        sample=_sample,
        formula=_FORMULA,
        grad_formula=r"\tfrac{1}{\sigma^2}X^\top X",
        wrt="w",
        kind="hessian",
    ),
)
