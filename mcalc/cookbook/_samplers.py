"""Random inputs that meet an identity's conditions and stay well-conditioned.

Every entry's sampler is a function of a JAX key and a dtype. It draws with
NumPy from a generator seeded by the key: no JAX program is compiled per shape
just to draw inputs, the draws are the same on every platform, and each
structured matrix is built from its factors, so its condition holds by
construction (a symmetric matrix is exactly symmetric, a positive definite one
has its eigenvalues in a chosen range) and its conditioning is bounded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import numpy as np

__all__ = ["Draw", "sampler", "reordered"]


class Draw:
    """Structured random arrays from a NumPy generator seeded by a JAX key (float64)."""

    def __init__(self, key: jax.Array):
        data = np.asarray(jax.random.key_data(key)).ravel()
        self.rng = np.random.default_rng([int(x) for x in data])

    # -- sizes ------------------------------------------------------------------------

    def size(self, lo: int = 2, hi: int = 4) -> int:
        """An integer in ``[lo, hi]``. Sizes stay small: each distinct shape compiles."""
        return int(self.rng.integers(lo, hi + 1))

    # -- unstructured -----------------------------------------------------------------

    def normal(self, *shape: int, scale: float = 1.0) -> np.ndarray:
        return scale * self.rng.standard_normal(shape)

    def uniform(self, lo: float, hi: float, *shape: int) -> np.ndarray:
        return self.rng.uniform(lo, hi, shape)

    def signs(self, *shape: int) -> np.ndarray:
        return self.rng.choice([-1.0, 1.0], size=shape)

    def away_from_zero(self, *shape: int, lo: float = 0.3, hi: float = 1.5) -> np.ndarray:
        """Entries with ``lo <= |x| <= hi`` and random signs."""
        return self.signs(*shape) * self.uniform(lo, hi, *shape)

    def unique_max(self, n: int, *, gap: float = 0.3) -> np.ndarray:
        """A vector whose largest ``|x_i|`` beats the others by at least ``gap``; no zero entries."""
        x = self.away_from_zero(n, lo=0.3, hi=1.2)
        k = int(self.rng.integers(n))
        x[k] = np.sign(x[k]) * (np.max(np.abs(x)) + gap + self.rng.uniform(0, 0.5))
        return x

    def simplex(self, *shape: int) -> np.ndarray:
        """Probability vectors along the last axis (entries > 0, summing to 1)."""
        p = self.rng.gamma(2.0, size=shape) + 0.05
        return p / p.sum(axis=-1, keepdims=True)

    def labels_pm1(self, n: int) -> np.ndarray:
        return self.signs(n)

    def labels_01(self, n: int) -> np.ndarray:
        return self.rng.integers(0, 2, n).astype(np.float64)

    # -- structured matrices --------------------------------------------------------------

    def orthogonal(self, n: int) -> np.ndarray:
        """A Haar-random orthogonal ``n x n`` matrix (QR of a Gaussian, signs fixed)."""
        Q, R = np.linalg.qr(self.rng.standard_normal((n, n)))
        return Q * np.sign(np.diag(R))

    def orthonormal_columns(self, m: int, n: int) -> np.ndarray:
        return self.orthogonal(m)[:, :n]

    def with_singular_values(self, s: np.ndarray, m: int, n: int) -> np.ndarray:
        """``U diag(s) Vᵀ`` (``m x n``) with Haar-random ``U``, ``V``."""
        k = len(s)
        return self.orthonormal_columns(m, k) @ np.diag(s) @ self.orthonormal_columns(n, k).T

    def invertible(self, n: int) -> np.ndarray:
        """A general (non-symmetric) matrix with singular values in ``[1, 2]``: condition <= 2."""
        return self.with_singular_values(self.uniform(1.0, 2.0, n), n, n)

    def full_rank(self, m: int, n: int) -> np.ndarray:
        """A ``m x n`` matrix of rank ``min(m, n)`` with singular values in ``[1, 2]``."""
        return self.with_singular_values(self.uniform(1.0, 2.0, min(m, n)), m, n)

    def distinct_singular_values(self, m: int, n: int) -> np.ndarray:
        """Singular values at least 0.3 apart, all >= 0.5: the SVD is differentiable there."""
        k = min(m, n)
        s = 0.5 + np.cumsum(self.uniform(0.3, 0.8, k))
        return self.with_singular_values(s[::-1], m, n)

    def symmetric(self, n: int) -> np.ndarray:
        """A symmetric matrix with eigenvalues of both signs, ``|λ|`` in ``[0.5, 2]``."""
        lam = self.away_from_zero(n, lo=0.5, hi=2.0)
        Q = self.orthogonal(n)
        return _symmetrise(Q @ np.diag(lam) @ Q.T)

    def spd(self, n: int, lo: float = 0.5, hi: float = 2.0) -> np.ndarray:
        """Symmetric positive definite, eigenvalues in ``[lo, hi]``."""
        Q = self.orthogonal(n)
        return _symmetrise(Q @ np.diag(self.uniform(lo, hi, n)) @ Q.T)

    def simple_spectrum(self, n: int, *, positive: bool = False) -> np.ndarray:
        """Symmetric with eigenvalues at least 0.5 apart (positive ones from 0.5 up if asked)."""
        lam = np.cumsum(self.uniform(0.5, 1.0, n))
        if not positive:
            lam = lam - lam.mean()
        Q = self.orthogonal(n)
        return _symmetrise(Q @ np.diag(lam) @ Q.T)

    def diagonal(self, n: int) -> np.ndarray:
        return np.diag(self.away_from_zero(n, lo=0.5, hi=2.0))

    def lower_triangular(self, n: int) -> np.ndarray:
        """Lower triangular with a positive diagonal in ``[1, 2]`` and small off-diagonal entries."""
        L = np.tril(self.normal(n, n, scale=0.3), -1)
        return L + np.diag(self.uniform(1.0, 2.0, n))

    def positive_definite_part(self, n: int) -> np.ndarray:
        """A non-symmetric matrix whose symmetric part is positive definite (``S + K``)."""
        K = self.normal(n, n, scale=0.3)
        return self.spd(n, 1.0, 2.0) + (K - K.T) / 2


def _symmetrise(A: np.ndarray) -> np.ndarray:
    # Exactly symmetric: the product of factors is symmetric only up to rounding.
    return (A + A.T) / 2


def sampler(draw: Callable[[Draw], tuple]) -> Callable[..., tuple]:
    """Turn ``draw(Draw) -> tuple of float64 arrays`` into an entry's ``sample(key, dtype)``.

    NumPy arrays and NumPy floats (in pytrees too) are cast to ``dtype``; Python scalars pass
    through (the check treats them as static arguments).
    """

    @functools.wraps(draw)
    def sample(key: jax.Array, dtype=np.float32) -> tuple:
        return jax.tree_util.tree_map(lambda a: _cast(a, dtype), tuple(draw(Draw(key))))

    return sample


def _cast(a, dtype):
    if isinstance(a, np.ndarray | np.floating):
        return np.asarray(a, np.float64).astype(dtype)
    return a


def reordered(sample: Callable[..., tuple], *order: int) -> Callable[..., tuple]:
    """``sample``'s draws with the arguments in another order: ``order[i]`` goes to place ``i``.

    For entries that differentiate another argument of the same function (``f`` takes the
    differentiated argument where its closed form expects it).
    """

    def reordered_sample(key: jax.Array, dtype=np.float32) -> tuple:
        args = sample(key, dtype)
        return tuple(args[i] for i in order)

    return reordered_sample
