"""Sums over blocks of rows: several products with a tall ``X`` from one read of it.

Two separate products with a tall ``X`` (``Xw`` then ``rᵀX``, or ``XᵀX`` then
``Xᵀy``) each read ``X`` from memory; summed block by block, a block read for the
first is still in cache for the second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["row_block_sum"]


def row_block_sum(
    block: Callable[[jax.Array, jax.Array], Any], X: jax.Array, y: jax.Array, rows: int
) -> Any:
    """``block(X, y)`` as a sum of ``block`` over blocks of ``rows`` rows (and a remainder).

    ``block(Xb, yb)`` returns a pytree of arrays that are sums over the rows of
    ``Xb``; traceable (a ``fori_loop`` over the blocks).
    """
    n = X.shape[0]
    if n <= rows:
        return block(X, y)
    n_blocks, rest = divmod(n, rows)

    def body(i, acc):
        Xb = jax.lax.dynamic_slice_in_dim(X, i * rows, rows)
        yb = jax.lax.dynamic_slice_in_dim(y, i * rows, rows)
        return jax.tree.map(jnp.add, acc, block(Xb, yb))

    zeros = jax.tree.map(jnp.zeros_like, jax.eval_shape(block, X[:rows], y[:rows]))
    acc = jax.lax.fori_loop(0, n_blocks, body, zeros)
    if rest:
        acc = jax.tree.map(jnp.add, acc, block(X[n_blocks * rows :], y[n_blocks * rows :]))
    return acc
