"""Inverses and pseudo-inverses.

Everything follows from ``d(X⁻¹) = -X⁻¹ dX X⁻¹`` (differentiate ``X X⁻¹ = I``) and,
for the pseudo-inverse of a matrix of full column rank, Golub & Pereyra's
``dX⁺ = -X⁺ dX X⁺ + X⁺X⁺ᵀ dXᵀ (I - XX⁺)``.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp

from ._entry import Published, make
from ._samplers import sampler

SECTION = "inverses"
E = functools.partial(make, SECTION)
COOKBOOK = "Matrix Cookbook (2012), eq. "
INVERSE = (
    "d(X⁻¹) = -X⁻¹ dX X⁻¹; Magnus & Neudecker, Matrix Differential Calculus (3rd ed., 2019), ch. 8"
)
GOLUB_PEREYRA = (
    "Golub & Pereyra, 'The differentiation of pseudo-inverses and nonlinear least squares "
    "problems whose variables separate', SIAM J. Numer. Anal. 10 (1973)"
)

inv = jnp.linalg.inv


# -- samplers ---------------------------------------------------------------------------


@sampler
def _X_a_b(d):
    n = d.size()
    return d.invertible(n), d.normal(n), d.normal(n)


@sampler
def _b_X_a(d):
    n = d.size()
    return d.normal(n), d.invertible(n), d.normal(n)


@sampler
def _X_plus_A(d):  # X + A invertible, X itself general
    n = d.size()
    A = d.normal(n, n)
    return d.invertible(n) - A, A


@sampler
def _X_A_B(d):  # X [n, n], A [p, n], B [n, p]
    n, p = d.size(), d.size()
    return d.invertible(n), d.normal(p, n), d.normal(n, p)


@sampler
def _invertible(d):
    return (d.invertible(d.size()),)


@sampler
def _X_C_A(d):  # X [m, n] full column rank, C [m, m] with a positive definite symmetric part
    n = d.size(2, 3)
    m = n + d.size(0, 2)
    return d.full_rank(m, n), d.positive_definite_part(m), d.normal(n, n)


@sampler
def _X_C_B(d):  # (126): X [m, n], C [m, m], B [m, m], all general
    # m > n: for square invertible X the trace is tr(C⁻¹B), constant in X.
    n = d.size(2, 3)
    m = n + d.size(1, 2)
    return d.full_rank(m, n), d.positive_definite_part(m), d.normal(m, m)


@sampler
def _X_C_B_symmetric(d):  # the published (126) form's setting: B and C symmetric
    n = d.size(2, 3)
    m = n + d.size(1, 2)
    return d.full_rank(m, n), d.spd(m, 1.0, 2.0), d.symmetric(m)


@sampler
def _X_A_C_B(d):  # (127): A [n, n] and C [m, m] with positive definite symmetric parts
    n = d.size(2, 3)
    m = n + d.size(0, 2)
    return (
        d.full_rank(m, n),
        d.positive_definite_part(n),
        d.positive_definite_part(m),
        d.normal(m, m),
    )


@sampler
def _X_spdA(d):  # X [m, n], A [n, n] SPD
    m, n = d.size(), d.size()
    return d.normal(m, n), d.spd(n)


@sampler
def _pinv_args(d):  # X [m, n] full column rank; A [m, n], so that A X⁺ is [m, m]
    n = d.size(2, 3)
    m = n + d.size(1, 2)
    return d.full_rank(m, n), d.normal(m, n)


@sampler
def _lowrank(d):  # U [n, k], A [n, n] invertible, V [n, k], a [n]; A + UVᵀ well-conditioned
    n = d.size(2, 4)
    k = d.size(1, 2)
    return d.normal(n, k, scale=0.3), d.invertible(n), d.normal(n, k, scale=0.3), d.normal(n)


# -- closed forms -------------------------------------------------------------------------


def _sandwich_trace_grad(X, C, A):
    """(125) for general C and A: -CXQ - CᵀXQᵀ, Q = M⁻¹AM⁻¹, M = XᵀCX."""
    Mi = inv(X.T @ C @ X)
    Q = Mi @ A @ Mi
    return -C @ X @ Q - C.T @ X @ Q.T


def _ratio_trace_grad(X, C, B, A=None):
    """(126)/(127) for general B and C: tr(M⁻¹N), M = [A +] XᵀCX, N = XᵀBX."""
    M = X.T @ C @ X if A is None else A + X.T @ C @ X
    Mi = inv(M)
    P = Mi @ (X.T @ B @ X) @ Mi
    return -C @ X @ P - C.T @ X @ P.T + B @ X @ Mi + B.T @ X @ Mi.T


def _ratio_trace_published(X, C, B):
    Mi = inv(X.T @ C @ X)
    return -2 * C @ X @ Mi @ X.T @ B @ X @ Mi + 2 * B @ X @ Mi


def _pinv(X):
    # X⁺ = (XᵀX)⁻¹Xᵀ for full column rank: differentiable without an SVD.
    return jnp.linalg.solve(X.T @ X, X.T)


def _pinv_trace_grad(X, A):
    P = _pinv(X)
    proj = jnp.eye(X.shape[0], dtype=X.dtype) - X @ P
    return -(P @ A @ P).T + proj @ A @ P @ P.T


def _trace_inv_hessian(X):
    Y = inv(X)
    Y2 = Y @ Y
    return jnp.einsum("jk,li->ijkl", Y, Y2) + jnp.einsum("jk,li->ijkl", Y2, Y)


def _inv_bilinear_hvp(X, a, b, V):
    Yt = inv(X).T
    return Yt @ V.T @ Yt @ jnp.outer(a, b) @ Yt + Yt @ jnp.outer(a, b) @ Yt @ V.T @ Yt


def _lowrank_grad(U, A, V, a):
    Mit = inv(A + U @ V.T).T
    return -Mit @ jnp.outer(a, a) @ Mit @ V


ENTRIES = [
    E(
        "inv_bilinear",
        "bilinear form in the inverse",
        lambda X, a, b: a @ inv(X) @ b,
        lambda X, a, b: -inv(X).T @ jnp.outer(a, b) @ inv(X).T,
        _X_a_b,
        r"a^\top X^{-1} b",
        r"-X^{-\top}ab^\top X^{-\top}",
        "X",
        conditions=("invertible",),
        source=COOKBOOK + "(61)",
        note="aᵀ d(X⁻¹) b = -aᵀX⁻¹ dX X⁻¹b = -tr(X⁻¹baᵀX⁻¹ dX).",
    ),
    E(
        "inv_bilinear_b",
        "bilinear form in the inverse, in the right vector",
        lambda b, X, a: a @ inv(X) @ b,
        lambda b, X, a: jnp.linalg.solve(X.T, a),
        _b_X_a,
        r"a^\top X^{-1} b",
        r"X^{-\top}a",
        "b",
        conditions=("invertible",),
        note="Solve Xᵀz = a; never form the inverse to apply it.",
        source=INVERSE,
    ),
    E(
        "inv_entry",
        "one entry of the inverse",
        lambda X: inv(X)[0, -1],
        lambda X: -jnp.outer(inv(X)[0, :], inv(X)[:, -1]),
        _invertible,
        r"(X^{-1})_{kl},\ k = 1,\ l = n",
        r"\frac{\partial (X^{-1})_{kl}}{\partial X_{ij}} = -(X^{-1})_{ki}(X^{-1})_{jl}",
        "X",
        conditions=("invertible",),
        note="The (i, j) entry of the gradient pairs row k and column l of X⁻¹.",
        source=COOKBOOK + "(60)",
    ),
    E(
        "trace_inv_X_plus_A",
        "trace of (X + A)⁻¹",
        lambda X, A: jnp.trace(inv(X + A)),
        lambda X, A: -(inv(X + A) @ inv(X + A)).T,
        _X_plus_A,
        r"\operatorname{tr}\big((X + A)^{-1}\big)",
        r"-\big((X + A)^{-1}(X + A)^{-1}\big)^\top",
        "X",
        conditions=("invertible_combination",),
        note="X + A must be invertible.",
        source=COOKBOOK + "(64)",
    ),
    E(
        "trace_AXinvB",
        "trace of AX⁻¹B",
        lambda X, A, B: jnp.trace(A @ inv(X) @ B),
        lambda X, A, B: -(inv(X) @ B @ A @ inv(X)).T,
        _X_A_B,
        r"\operatorname{tr}(AX^{-1}B)",
        r"-(X^{-1}BAX^{-1})^\top",
        "X",
        conditions=("invertible",),
        source=COOKBOOK + "(63), (124)",
        note="The Cookbook lists it twice, as (63) and (124).",
    ),
    E(
        "trace_inv_sq",
        "trace of X⁻²",
        lambda X: jnp.trace(inv(X) @ inv(X)),
        lambda X: -2 * (inv(X) @ inv(X) @ inv(X)).T,
        _invertible,
        r"\operatorname{tr}(X^{-2})",
        r"-2\,(X^{-3})^\top",
        "X",
        conditions=("invertible",),
        source=INVERSE,
        note="Both factors X⁻¹ give the same term by the cyclic property.",
    ),
    E(
        "inv_frobenius_sq",
        "squared Frobenius norm of the inverse",
        lambda X: jnp.sum(inv(X) ** 2),
        lambda X: -2 * inv(X).T @ inv(X) @ inv(X).T,
        _invertible,
        r"\|X^{-1}\|_F^2",
        r"-2X^{-\top}X^{-1}X^{-\top}",
        "X",
        conditions=("invertible",),
        source=INVERSE,
        note="Large when X is nearly singular; its negative gradient pushes the small singular values up.",
    ),
    E(
        "trace_XtCX_inv_A",
        "trace of (XᵀCX)⁻¹A",
        lambda X, C, A: jnp.trace(inv(X.T @ C @ X) @ A),
        _sandwich_trace_grad,
        _X_C_A,
        r"\operatorname{tr}\big((X^\top CX)^{-1}A\big)",
        r"-CXQ - C^\top XQ^\top,\ Q = M^{-1}AM^{-1},\ M = X^\top CX",
        "X",
        conditions=("full_column_rank", "positive_definite_part"),
        note="For symmetric C: -CXM⁻¹(A + Aᵀ)M⁻¹.",
        source=COOKBOOK + "(125), general C and A (derived here)",
    ),
    E(
        "trace_XtCX_inv_XtBX",
        "trace of (XᵀCX)⁻¹(XᵀBX)",
        lambda X, C, B: jnp.trace(inv(X.T @ C @ X) @ (X.T @ B @ X)),
        lambda X, C, B: _ratio_trace_grad(X, C, B),
        _X_C_B,
        r"\operatorname{tr}\big((X^\top CX)^{-1}(X^\top BX)\big)",
        r"-CXP - C^\top XP^\top + BXM^{-1} + B^\top XM^{-\top},\ "
        r"P = M^{-1}X^\top BXM^{-1},\ M = X^\top CX",
        "X",
        conditions=("full_column_rank", "positive_definite_part"),
        note="A generalized Rayleigh quotient in a subspace (Fisher's discriminant).",
        source=COOKBOOK + "(126), general B and C (derived here)",
        published=(
            Published(
                source="Matrix Cookbook (2012), eq. (126)",
                formula=r"-2CX(X^\top CX)^{-1}X^\top BX(X^\top CX)^{-1} + 2BX(X^\top CX)^{-1}",
                why="It holds when B and C are symmetric: then M and P are symmetric and the "
                "C, Cᵀ (and B, Bᵀ) terms pair up. For general B and C they do not; a reader who "
                "drops the assumption gets a wrong gradient.",
                grad=_ratio_trace_published,
                expect="symmetric",
            ),
        ),
    ),
    E(
        "trace_A_XtCX_inv_XtBX",
        "trace of (A + XᵀCX)⁻¹(XᵀBX)",
        lambda X, A, C, B: jnp.trace(inv(A + X.T @ C @ X) @ (X.T @ B @ X)),
        lambda X, A, C, B: _ratio_trace_grad(X, C, B, A),
        _X_A_C_B,
        r"\operatorname{tr}\big((A + X^\top CX)^{-1}(X^\top BX)\big)",
        r"-CXP - C^\top XP^\top + BXM^{-1} + B^\top XM^{-\top},\ "
        r"P = M^{-1}X^\top BXM^{-1},\ M = A + X^\top CX",
        "X",
        conditions=("full_column_rank", "positive_definite_part"),
        note="For symmetric A, B and C it reduces to 2BXM⁻¹ - 2CXM⁻¹XᵀBXM⁻¹.",
        source=COOKBOOK + "(127), general A, B and C (derived here)",
    ),
    E(
        "trace_inv_A_plus_XtX",
        "trace of (A + XᵀX)⁻¹",
        lambda X, A: jnp.trace(inv(A + X.T @ X)),
        lambda X, A: -2 * X @ inv(A + X.T @ X) @ inv(A + X.T @ X),
        _X_spdA,
        r"\operatorname{tr}\big((A + X^\top X)^{-1}\big)",
        r"-2X(A + X^\top X)^{-2}",
        "X",
        conditions=("spd",),
        note="A is symmetric positive definite (a ridge or prior term), so A + XᵀX is too.",
        source=INVERSE,
    ),
    E(
        "pinv_trace",
        "trace of A X⁺ (pseudo-inverse)",
        lambda X, A: jnp.trace(A @ _pinv(X)),
        _pinv_trace_grad,
        _pinv_args,
        r"\operatorname{tr}(AX^+)",
        r"-(X^+AX^+)^\top + (I - XX^+)AX^+X^{+\top}",
        "X",
        conditions=("full_column_rank",),
        note="The second term, absent for square invertible X, is the change of the range of X.",
        source=GOLUB_PEREYRA,
    ),
    E(
        "inv_lowrank_update",
        "quadratic form in the inverse of a low-rank update",
        lambda U, A, V, a: a @ inv(A + U @ V.T) @ a,
        _lowrank_grad,
        _lowrank,
        r"a^\top (A + UV^\top)^{-1} a",
        r"-M^{-\top}aa^\top M^{-\top}V,\ M = A + UV^\top",
        "U",
        conditions=("invertible_combination",),
        note="A + UVᵀ must be invertible; Woodbury's identity computes M⁻¹ cheaply for small rank.",
        source=INVERSE,
    ),
    # -- second-order entries --
    E(
        "trace_inv_hessian",
        "Hessian of tr(X⁻¹)",
        lambda X: jnp.trace(inv(X)),
        _trace_inv_hessian,
        _invertible,
        r"\operatorname{tr}(X^{-1})",
        r"\frac{\partial^2 f}{\partial X_{ij}\partial X_{kl}} = (X^{-1})_{jk}(X^{-2})_{li} "
        r"+ (X^{-2})_{jk}(X^{-1})_{li}",
        "X",
        conditions=("invertible",),
        kind="hessian",
        source=INVERSE,
        note="The derivative of -(X⁻²)ᵀ: one term per factor X⁻¹.",
    ),
    E(
        "inv_bilinear_hvp",
        "Hessian-vector product of aᵀX⁻¹b",
        lambda X, a, b: a @ inv(X) @ b,
        _inv_bilinear_hvp,
        _X_a_b,
        r"a^\top X^{-1} b",
        r"H[V] = X^{-\top}V^\top X^{-\top}ab^\top X^{-\top} + X^{-\top}ab^\top X^{-\top}V^\top "
        r"X^{-\top}",
        "X",
        conditions=("invertible",),
        kind="hvp",
        source=INVERSE,
        note="The derivative of -X⁻ᵀabᵀX⁻ᵀ along V: one term per factor X⁻ᵀ.",
    ),
]
