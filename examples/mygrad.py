"""A hand-derived gradient to check with ``mcalc check`` (see docs/checking.md).

Problem 6: the gradient of f(w) = wᵀXw in w is (X + Xᵀ)w. The seed document's answer,
"Xw + wᵀX", read with 1-D vectors as Xw + Xw = 2Xw, holds only for a symmetric X.
"""

import jax


def f(w, X):  # wᵀXw
    return w @ X @ w


def grad_seed(w, X):  # "Xw + wᵀX" read as 2Xw
    return 2 * X @ w


def grad(w, X):  # (X + Xᵀ)w
    return X @ w + X.T @ w


def sample(key, dtype):  # inputs for a function defined on a constrained set
    kw, kx = jax.random.split(key)
    return jax.random.normal(kw, (6,), dtype), jax.random.normal(kx, (6, 6), dtype)
