"""Norms of vectors and matrices, where they are differentiable.

A norm is differentiable away from its kinks: the 2-norm away from 0, the 1-norm
where no entry is 0, the max-norms where the maximum is attained once, the
spectral norm where the top singular value is simple, the nuclear norm at full
rank. The samplers stay away from the kinks, so the finite differences of the
check see a smooth function.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from ._entry import make
from ._samplers import sampler

SECTION = "norms"
E = functools.partial(make, SECTION)
VECTOR_NORMS = "Matrix Cookbook (2012), 'Derivatives of vector norms'"
FROBENIUS = "Matrix Cookbook (2012), 'Derivatives of matrix norms: Frobenius norm'"
WATSON = (
    "Watson, 'Characterization of the subdifferential of some matrix norms', "
    "Linear Algebra Appl. 170 (1992)"
)


def _norm(x):
    return jnp.sqrt(jnp.sum(x * x))


def _pnorm(x, p):
    return jnp.sum(jnp.abs(x) ** p) ** (1 / p)


def _svd(X):
    return jnp.linalg.svd(X, full_matrices=False)


# -- samplers ---------------------------------------------------------------------------


@sampler
def _vector(d):
    return (d.normal(d.size(2, 5)),)


@sampler
def _x_a(d):
    n = d.size(2, 5)
    return d.normal(n), d.normal(n)


@sampler
def _x_A_b(d):  # x [n], A [m, n], b [m]
    m, n = d.size(2, 5), d.size(2, 4)
    return d.normal(n), d.normal(m, n), d.normal(m)


@sampler
def _A_x_b(d):  # A [m, n], x [n], b [m]
    m, n = d.size(2, 5), d.size(2, 4)
    return d.normal(m, n), d.normal(n), d.normal(m)


@sampler
def _nonzero_vector(d):
    return (d.away_from_zero(d.size(2, 5)),)


@sampler
def _unique_max(d):
    return (d.unique_max(d.size(2, 5)),)


@sampler
def _matrix(d):
    return (d.normal(d.size(), d.size()),)


@sampler
def _X_A_B(d):  # X [n, p], A [m, n], B [m, p]
    m, n, p = d.size(), d.size(), d.size()
    return d.normal(n, p), d.normal(m, n), d.normal(m, p)


@sampler
def _procrustes(d):  # Q [n, n] orthogonal, X [n, k], Y [n, k]
    n, k = d.size(), d.size()
    return d.orthogonal(n), d.normal(n, k), d.normal(n, k)


@sampler
def _singular(d):
    return (d.distinct_singular_values(d.size(), d.size()),)


def _unique_max_column(d, m, n):
    """No zero entries; the largest absolute column sum beats the others by at least 0.3."""
    X = d.away_from_zero(m, n, lo=0.3, hi=1.0)
    sums = np.abs(X).sum(axis=0)
    k = int(np.argmax(sums))
    others = np.max(np.delete(sums, k), initial=0.0)
    X[:, k] *= max(1.0, (others + 0.3) / sums[k])
    return X


@sampler
def _column_sums(d):
    return (_unique_max_column(d, d.size(), d.size()),)


@sampler
def _row_sums(d):
    return (_unique_max_column(d, d.size(), d.size()).T,)


@sampler
def _x_a_cos(d):
    n = d.size(2, 5)
    return d.normal(n), d.normal(n)


# -- closed forms -------------------------------------------------------------------------


def _pnorm_grad(x, p):
    return jnp.sign(x) * jnp.abs(x) ** (p - 1) / _pnorm(x, p) ** (p - 1)


def _norm_inf_grad(x):
    k = jnp.argmax(jnp.abs(x))
    return jnp.sign(x) * (jnp.arange(x.shape[0]) == k).astype(x.dtype)


def _nuclear_grad(X):
    U, _, Vt = _svd(X)
    return U @ Vt


def _spectral_grad(X):
    U, _, Vt = _svd(X)
    return jnp.outer(U[:, 0], Vt[0])


def _sigma_min_grad(X):
    U, _, Vt = _svd(X)
    return jnp.outer(U[:, -1], Vt[-1])


def _schatten3(X):
    return jnp.sum(jnp.linalg.svd(X, compute_uv=False) ** 3) ** (1 / 3)


def _schatten3_grad(X):
    U, s, Vt = _svd(X)
    return (U * (s**2)[None, :]) @ Vt / jnp.sum(s**3) ** (2 / 3)


def _matrix_norm1_grad(X):
    k = jnp.argmax(jnp.sum(jnp.abs(X), axis=0))
    return jnp.sign(X) * (jnp.arange(X.shape[1]) == k).astype(X.dtype)[None, :]


def _matrix_norm_inf_grad(X):
    k = jnp.argmax(jnp.sum(jnp.abs(X), axis=1))
    return jnp.sign(X) * (jnp.arange(X.shape[0]) == k).astype(X.dtype)[:, None]


def _cosine(x, a):
    return (a @ x) / (_norm(a) * _norm(x))


def _cosine_grad(x, a):
    xh, ah = x / _norm(x), a / _norm(a)
    return (ah - (ah @ xh) * xh) / _norm(x)


def _norm2_hessian(x):
    xh = x / _norm(x)
    return (jnp.eye(x.shape[0], dtype=x.dtype) - jnp.outer(xh, xh)) / _norm(x)


def _frobenius_hvp(X, V):
    n = _norm(X)
    return (V - X * (jnp.sum(X * V) / n**2)) / n


P_HIGH, P_LOW = 3.0, 1.5

ENTRIES = [
    E(
        "norm2",
        "Euclidean norm",
        lambda x: _norm(x),
        lambda x: x / _norm(x),
        _vector,
        r"\|x\|_2",
        r"x/\|x\|_2",
        "x",
        conditions=("nonzero",),
        note="The unit vector along x; not differentiable at x = 0.",
        source=VECTOR_NORMS,
    ),
    E(
        "norm2_diff",
        "Euclidean distance",
        lambda x, a: _norm(x - a),
        lambda x, a: (x - a) / _norm(x - a),
        _x_a,
        r"\|x - a\|_2",
        r"(x - a)/\|x - a\|_2",
        "x",
        conditions=("nonzero",),
        note="x ≠ a.",
        source=VECTOR_NORMS,
    ),
    E(
        "norm2_sq_residual",
        "squared residual norm, in the unknown",
        lambda x, A, b: jnp.sum((A @ x - b) ** 2),
        lambda x, A, b: 2 * (A @ x - b) @ A,
        _x_A_b,
        r"\|Ax - b\|_2^2",
        r"2A^\top(Ax - b)",
        "x",
        note="Setting it to zero gives the normal equations AᵀAx = Aᵀb.",
        source=VECTOR_NORMS,
    ),
    E(
        "norm2_sq_residual_A",
        "squared residual norm, in the matrix",
        lambda A, x, b: jnp.sum((A @ x - b) ** 2),
        lambda A, x, b: 2 * jnp.outer(A @ x - b, x),
        _A_x_b,
        r"\|Ax - b\|_2^2",
        r"2(Ax - b)x^\top",
        "A",
        source="derived here",
        note="The residual times the input: an outer product, as for a linear layer's weights.",
    ),
    E(
        "pnorm_3",
        "vector 3-norm",
        lambda x: _pnorm(x, P_HIGH),
        lambda x: _pnorm_grad(x, P_HIGH),
        _nonzero_vector,
        r"\|x\|_p = \big(\textstyle\sum_i |x_i|^p\big)^{1/p},\ p = 3",
        r"\operatorname{sign}(x)\odot|x|^{p-1}/\|x\|_p^{p-1}",
        "x",
        conditions=("nonzero",),
        note="For p > 1 differentiable wherever x ≠ 0.",
        source="derived here",
    ),
    E(
        "pnorm_1p5",
        "vector 1.5-norm",
        lambda x: _pnorm(x, P_LOW),
        lambda x: _pnorm_grad(x, P_LOW),
        _nonzero_vector,
        r"\|x\|_p,\ p = 3/2",
        r"\operatorname{sign}(x)\odot|x|^{p-1}/\|x\|_p^{p-1}",
        "x",
        conditions=("nonzero_entries",),
        note="For 1 < p < 2 the gradient is continuous but its derivative blows up at zero "
        "entries; the sampler keeps them away.",
        source="derived here",
    ),
    E(
        "pnorm_pth_power",
        "p-th power of the 3-norm",
        lambda x: jnp.sum(jnp.abs(x) ** P_HIGH),
        lambda x: P_HIGH * jnp.sign(x) * jnp.abs(x) ** (P_HIGH - 1),
        _nonzero_vector,
        r"\|x\|_p^p = \textstyle\sum_i |x_i|^p,\ p = 3",
        r"p\,\operatorname{sign}(x)\odot|x|^{p-1}",
        "x",
        source="derived here",
        note="Separable: each entry contributes p|x_i|^{p-1} sign(x_i).",
    ),
    E(
        "norm1",
        "vector 1-norm",
        lambda x: jnp.sum(jnp.abs(x)),
        lambda x: jnp.sign(x),
        _nonzero_vector,
        r"\|x\|_1",
        r"\operatorname{sign}(x)",
        "x",
        conditions=("nonzero_entries",),
        note="At a zero entry only a subgradient exists (any value in [-1, 1] there).",
        source="derived here",
    ),
    E(
        "norm_inf",
        "vector max-norm",
        lambda x: jnp.max(jnp.abs(x)),
        _norm_inf_grad,
        _unique_max,
        r"\|x\|_\infty = \max_i |x_i|",
        r"\operatorname{sign}(x_k)\,e_k,\ k = \arg\max_i |x_i|",
        "x",
        conditions=("unique_max",),
        source="derived here",
        note="Only the largest entry moves the maximum; at a tie there is only a subgradient.",
    ),
    E(
        "frobenius_norm",
        "Frobenius norm",
        lambda X: _norm(X),
        lambda X: X / _norm(X),
        _matrix,
        r"\|X\|_F",
        r"X/\|X\|_F",
        "X",
        conditions=("nonzero",),
        note="The squared norm ‖X‖_F² (gradient 2X) is problem P5's frobenius_norm_sq.",
        source=FROBENIUS,
    ),
    E(
        "frobenius_residual",
        "Frobenius norm of a matrix residual",
        lambda X, A, B: _norm(A @ X - B),
        lambda X, A, B: A.T @ (A @ X - B) / _norm(A @ X - B),
        _X_A_B,
        r"\|AX - B\|_F",
        r"A^\top(AX - B)/\|AX - B\|_F",
        "X",
        conditions=("nonzero",),
        note="AX ≠ B.",
        source="derived here",
    ),
    E(
        "procrustes",
        "orthogonal Procrustes objective",
        lambda Q, X, Y: jnp.sum((Q @ X - Y) ** 2),
        lambda Q, X, Y: 2 * (Q @ X - Y) @ X.T,
        _procrustes,
        r"\|QX - Y\|_F^2",
        r"2(QX - Y)X^\top",
        "Q",
        conditions=("orthogonal",),
        note="On orthogonal Q, f equals ‖X‖² + ‖Y‖² - 2tr(QᵀYXᵀ), whose gradient -2YXᵀ differs: "
        "substituting the constraint into f changes the gradient; project it onto the tangent "
        "space instead.",
        source="derived here",
    ),
    E(
        "nuclear_norm",
        "nuclear norm",
        lambda X: jnp.sum(jnp.linalg.svd(X, compute_uv=False)),
        _nuclear_grad,
        _singular,
        r"\|X\|_* = \textstyle\sum_i \sigma_i(X)",
        r"UV^\top\quad(X = U\Sigma V^\top,\ \text{thin SVD})",
        "X",
        conditions=("simple_singular_values",),
        note="Differentiable at full rank; jax.grad of the SVD also needs simple singular values.",
        source=WATSON,
    ),
    E(
        "spectral_norm",
        "spectral norm",
        lambda X: jnp.linalg.svd(X, compute_uv=False)[0],
        _spectral_grad,
        _singular,
        r"\|X\|_2 = \sigma_1(X)",
        r"u_1 v_1^\top",
        "X",
        conditions=("simple_singular_values",),
        note="dσ_1 = u_1ᵀ dX v_1 for a simple top singular value (the singular-value analogue of "
        "dλ = vᵀ dA v).",
        source=WATSON,
    ),
    E(
        "sigma_min",
        "smallest singular value",
        lambda X: jnp.linalg.svd(X, compute_uv=False)[-1],
        _sigma_min_grad,
        _singular,
        r"\sigma_{\min}(X)",
        r"u_r v_r^\top,\ r = \min(m, n)",
        "X",
        conditions=("simple_singular_values",),
        note="Its reciprocal is the distance-to-singularity scale of X (σ_min > 0 here).",
        source=WATSON,
    ),
    E(
        "schatten_3",
        "Schatten 3-norm",
        _schatten3,
        _schatten3_grad,
        _singular,
        r"\|X\|_{S_3} = \big(\textstyle\sum_i \sigma_i^3\big)^{1/3}",
        r"U\operatorname{diag}(\sigma^2)V^\top / \|X\|_{S_3}^2",
        "X",
        conditions=("simple_singular_values",),
        source="derived here",
        note="dσ_i = u_iᵀ dX v_i for simple singular values, weighted by σ_i²/‖X‖²_{S3}.",
    ),
    E(
        "matrix_norm_1",
        "matrix 1-norm (largest absolute column sum)",
        lambda X: jnp.max(jnp.sum(jnp.abs(X), axis=0)),
        _matrix_norm1_grad,
        _column_sums,
        r"\|X\|_1 = \max_j \textstyle\sum_i |X_{ij}|",
        r"\operatorname{sign}(X)\odot \mathbf 1 e_k^\top,\ k = \arg\max_j \sum_i |X_{ij}|",
        "X",
        conditions=("unique_max", "nonzero_entries"),
        source="derived here",
        note="Only the column with the largest absolute sum moves the norm.",
    ),
    E(
        "matrix_norm_inf",
        "matrix ∞-norm (largest absolute row sum)",
        lambda X: jnp.max(jnp.sum(jnp.abs(X), axis=1)),
        _matrix_norm_inf_grad,
        _row_sums,
        r"\|X\|_\infty = \max_i \textstyle\sum_j |X_{ij}|",
        r"\operatorname{sign}(X)\odot e_k \mathbf 1^\top,\ k = \arg\max_i \sum_j |X_{ij}|",
        "X",
        conditions=("unique_max", "nonzero_entries"),
        source="derived here",
        note="Only the row with the largest absolute sum moves the norm.",
    ),
    E(
        "cosine_similarity",
        "cosine similarity",
        _cosine,
        _cosine_grad,
        _x_a_cos,
        r"\frac{a^\top x}{\|a\|_2\|x\|_2}",
        r"\frac{1}{\|x\|_2}\big(\hat a - (\hat a^\top\hat x)\,\hat x\big),\ "
        r"\hat a = a/\|a\|_2,\ \hat x = x/\|x\|_2",
        "x",
        conditions=("nonzero",),
        note="Orthogonal to x: scaling x does not change the cosine.",
        source="derived here",
    ),
    # -- second-order entries --
    E(
        "norm2_hessian",
        "Hessian of the Euclidean norm",
        lambda x: _norm(x),
        _norm2_hessian,
        _vector,
        r"\|x\|_2",
        r"\big(I - \hat x\hat x^\top\big)/\|x\|_2,\ \hat x = x/\|x\|_2",
        "x",
        conditions=("nonzero",),
        kind="hessian",
        note="The projector off x, scaled: the norm is flat along x.",
        source="derived here",
    ),
    E(
        "frobenius_norm_hvp",
        "Hessian-vector product of the Frobenius norm",
        lambda X: _norm(X),
        _frobenius_hvp,
        _matrix,
        r"\|X\|_F",
        r"H[V] = \big(V - X\,\langle X, V\rangle/\|X\|_F^2\big)/\|X\|_F",
        "X",
        conditions=("nonzero",),
        kind="hvp",
        source="derived here",
        note="The projector off X, scaled by 1/‖X‖_F: the norm is flat along X.",
    ),
    E(
        "pnorm_pth_power_hessian",
        "Hessian of the p-th power of the 3-norm",
        lambda x: jnp.sum(jnp.abs(x) ** P_HIGH),
        lambda x: jnp.diag(P_HIGH * (P_HIGH - 1) * jnp.abs(x) ** (P_HIGH - 2)),
        _nonzero_vector,
        r"\textstyle\sum_i |x_i|^p,\ p = 3",
        r"\operatorname{diag}\big(p(p-1)|x|^{p-2}\big)",
        "x",
        conditions=("nonzero_entries",),
        kind="hessian",
        note="Separable, so diagonal.",
        source="derived here",
    ),
]
