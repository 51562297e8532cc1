"""Central finite differences in float64: an opinion independent of autodiff."""

from __future__ import annotations

import jax
import numpy as np


def fd_grad(f, args, argnum, eps=1e-6):
    """``∂f/∂args[argnum]`` entry by entry by central differences (float64 numpy)."""
    args = [np.asarray(a, dtype=np.float64) if not isinstance(a, dict) else a for a in args]
    x = np.array(args[argnum], dtype=np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        hi = float(f(*[xp if i == argnum else a for i, a in enumerate(args)]))
        lo = float(f(*[xm if i == argnum else a for i, a in enumerate(args)]))
        g[idx] = (hi - lo) / (2 * eps)
    return g


def to64(tree):
    return jax.tree.map(lambda a: np.asarray(a, dtype=np.float64), tree)
