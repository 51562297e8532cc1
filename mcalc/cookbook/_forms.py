"""Linear, bilinear and quadratic forms.

``d(aᵀXb) = aᵀ dX b = tr(b aᵀ dX)`` gives ``abᵀ``; a quadratic form ``xᵀBx``
differentiates into ``(B + Bᵀ)x``, which is ``2Bx`` only for symmetric ``B`` (the
slip problem P6 catches).
"""

from __future__ import annotations

import functools

import jax.numpy as jnp

from ._entry import Published, make
from ._samplers import reordered, sampler

SECTION = "forms"
E = functools.partial(make, SECTION)
COOKBOOK = "Matrix Cookbook (2012), eq. "


# -- samplers ---------------------------------------------------------------------------


@sampler
def _x_a(d):
    n = d.size(2, 5)
    return d.normal(n), d.normal(n)


@sampler
def _X_a_b(d):  # X [m, n], a [m], b [n]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(m), d.normal(n)


@sampler
def _X_a_b_t(d):  # aᵀXᵀb: X [m, n], a [n], b [m]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(n), d.normal(m)


@sampler
def _X_b_c(d):  # X [m, n], b, c [n]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(n), d.normal(n)


@sampler
def _affine(d):  # x [n], B [m, n], b [m], C [m, p], D [p, n], e [p]
    m, n, p = d.size(), d.size(), d.size()
    return (
        d.normal(n),
        d.normal(m, n),
        d.normal(m),
        d.normal(m, p),
        d.normal(p, n),
        d.normal(p),
    )


@sampler
def _X_b_D_c(d):  # X [m, n], b, c [n], D [m, m]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(n), d.normal(m, m), d.normal(n)


@sampler
def _X_b_c_D(d):  # (Xb + c)ᵀD(Xb + c): X [m, n], b [n], c [m], D [m, m]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(n), d.normal(m), d.normal(m, m)


@sampler
def _x_S(d):
    n = d.size(2, 5)
    return d.normal(n), d.symmetric(n)


@sampler
def _x_B(d):
    n = d.size(2, 5)
    return d.normal(n), d.normal(n, n)


@sampler
def _weighted(d):  # s [k], x [n], A [n, k], W [n, n] symmetric
    n, k = d.size(2, 4), d.size(2, 4)
    return d.normal(k), d.normal(n), d.normal(n, k), d.symmetric(n)


_weighted_x = reordered(_weighted, 1, 0, 2, 3)  # x, s, A, W
_weighted_A = reordered(_weighted, 2, 0, 1, 3)  # A, s, x, W


@sampler
def _x_a_b(d):
    n = d.size(2, 5)
    return d.normal(n), d.normal(n), d.normal(n)


@sampler
def _x_A_b(d):
    n = d.size(2, 5)
    return d.normal(n), d.normal(n, n), d.normal(n)


@sampler
def _x_A_y(d):  # x [m], A [m, n], y [n]
    m, n = d.size(2, 5), d.size(2, 5)
    return d.normal(m), d.normal(m, n), d.normal(n)


@sampler
def _x_spd(d):
    n = d.size(2, 5)
    return d.normal(n), d.spd(n)


@sampler
def _kron(d):  # x [n], y [m], A [nm, nm]
    n, m = d.size(2, 3), d.size(2, 3)
    return d.normal(n), d.normal(m), d.normal(n * m, n * m)


# -- closed forms -------------------------------------------------------------------------


def _affine_f(x, B, b, C, D, e):
    return (B @ x + b) @ C @ (D @ x + e)


def _affine_grad(x, B, b, C, D, e):
    return B.T @ C @ (D @ x + e) + D.T @ C.T @ (B @ x + b)


def _kron_f(x, y, A):
    z = jnp.kron(x, y)
    return z @ A @ z


def _kron_grad(x, y, A):
    # z = x ⊗ y has z[i m + j] = x_i y_j; ∂(zᵀAz)/∂z = (A + Aᵀ)z, contracted with y over j.
    z = jnp.kron(x, y)
    return ((A + A.T) @ z).reshape(x.shape[0], y.shape[0]) @ y


ENTRIES = [
    E(
        "linear_xa",
        "linear form",
        lambda x, a: x @ a,
        lambda x, a: a,
        _x_a,
        r"x^\top a = a^\top x",
        "a",
        "x",
        source=COOKBOOK + "(69)",
        note="The first rule of all: ∂(aᵀx)/∂x_i = a_i.",
    ),
    E(
        "bilinear_aXb",
        "bilinear form aᵀXb",
        lambda X, a, b: a @ X @ b,
        lambda X, a, b: jnp.outer(a, b),
        _X_a_b,
        r"a^\top X b",
        r"ab^\top",
        "X",
        source=COOKBOOK + "(70)",
        published=(
            Published(
                source="numerator-layout tables (e.g. Wikipedia, 'Matrix calculus', "
                "scalar-by-matrix identities)",
                formula=r"ba^\top",
                why="Numerator layout: the transpose of the gradient jax.grad returns. For a "
                "non-square X it does not even have X's shape.",
                grad=lambda X, a, b: jnp.outer(b, a),
                expect="transpose",
            ),
        ),
        note="aᵀ dX b = tr(baᵀ dX): the gradient is the outer product abᵀ.",
    ),
    E(
        "bilinear_aXtb",
        "bilinear form aᵀXᵀb",
        lambda X, a, b: a @ X.T @ b,
        lambda X, a, b: jnp.outer(b, a),
        _X_a_b_t,
        r"a^\top X^\top b",
        r"ba^\top",
        "X",
        source=COOKBOOK + "(71)",
        note="aᵀXᵀb = bᵀXa: (70) with a and b exchanged.",
    ),
    E(
        "bilinear_xAy",
        "bilinear form in its left vector",
        lambda x, A, y: x @ A @ y,
        lambda x, A, y: A @ y,
        _x_A_y,
        r"x^\top Ay",
        "Ay",
        "x",
        source="derived here",
        note="Linear in x: the gradient does not depend on x.",
    ),
    E(
        "quad_bXtXc",
        "bᵀXᵀXc",
        lambda X, b, c: b @ X.T @ X @ c,
        lambda X, b, c: X @ (jnp.outer(b, c) + jnp.outer(c, b)),
        _X_b_c,
        r"b^\top X^\top Xc",
        r"X(bc^\top + cb^\top)",
        "X",
        source=COOKBOOK + "(77)",
        note="X appears twice, giving Xbcᵀ and Xcbᵀ.",
    ),
    E(
        "affine_bilinear",
        "bilinear form of two affine maps",
        _affine_f,
        _affine_grad,
        _affine,
        r"(Bx + b)^\top C(Dx + e)",
        r"B^\top C(Dx + e) + D^\top C^\top(Bx + b)",
        "x",
        note="The product rule, each factor's Jacobian transposed onto the other.",
        source=COOKBOOK + "(78)",
    ),
    E(
        "quad_bXtDXc",
        "bᵀXᵀDXc",
        lambda X, b, D, c: b @ X.T @ D @ X @ c,
        lambda X, b, D, c: D.T @ X @ jnp.outer(b, c) + D @ X @ jnp.outer(c, b),
        _X_b_D_c,
        r"b^\top X^\top DXc",
        r"D^\top Xbc^\top + DXcb^\top",
        "X",
        source=COOKBOOK + "(82)",
        note="(77) with a weight D between the two factors X.",
    ),
    E(
        "quad_Xb_c",
        "(Xb + c)ᵀD(Xb + c)",
        lambda X, b, c, D: (X @ b + c) @ D @ (X @ b + c),
        lambda X, b, c, D: jnp.outer((D + D.T) @ (X @ b + c), b),
        _X_b_c_D,
        r"(Xb + c)^\top D(Xb + c)",
        r"(D + D^\top)(Xb + c)b^\top",
        "X",
        source=COOKBOOK + "(83)",
        note="A weighted squared residual in a matrix unknown.",
    ),
    E(
        "quad_symmetric",
        "quadratic form of a symmetric matrix",
        lambda x, S: x @ S @ x,
        lambda x, S: 2 * S @ x,
        _x_S,
        r"x^\top Sx",
        "2Sx",
        "x",
        conditions=("symmetric",),
        note="(S + Sᵀ)x = 2Sx needs S = Sᵀ; problem P6 is the general case.",
        source=COOKBOOK + "(81) with a symmetric matrix",
    ),
    E(
        "quad_affine",
        "quadratic function",
        lambda x, A, b: x @ A @ x + b @ x,
        lambda x, A, b: (A + A.T) @ x + b,
        _x_A_b,
        r"x^\top Ax + b^\top x",
        r"(A + A^\top)x + b",
        "x",
        source="derived here",
        note="Zero at the minimiser x = -(A + Aᵀ)⁻¹b when A + Aᵀ is positive definite.",
    ),
    E(
        "weighted_residual_s",
        "weighted squared residual, in the coefficients",
        lambda s, x, A, W: (x - A @ s) @ W @ (x - A @ s),
        lambda s, x, A, W: -2 * A.T @ W @ (x - A @ s),
        _weighted,
        r"(x - As)^\top W(x - As)",
        r"-2A^\top W(x - As)",
        "s",
        conditions=("symmetric",),
        note="W symmetric; for a general W replace 2W by W + Wᵀ.",
        source="derived here",
    ),
    E(
        "weighted_residual_x",
        "weighted squared residual, in the data",
        lambda x, s, A, W: (x - A @ s) @ W @ (x - A @ s),
        lambda x, s, A, W: 2 * W @ (x - A @ s),
        _weighted_x,
        r"(x - As)^\top W(x - As)",
        r"2W(x - As)",
        "x",
        conditions=("symmetric",),
        source="derived here",
        note="The same function in the data x: +2W(x - As).",
    ),
    E(
        "weighted_residual_A",
        "weighted squared residual, in the matrix",
        lambda A, s, x, W: (x - A @ s) @ W @ (x - A @ s),
        lambda A, s, x, W: -2 * jnp.outer(W @ (x - A @ s), s),
        _weighted_A,
        r"(x - As)^\top W(x - As)",
        r"-2W(x - As)s^\top",
        "A",
        conditions=("symmetric",),
        source="derived here",
        note="The weighted residual times the coefficients: an outer product.",
    ),
    E(
        "quad_outer",
        "aᵀxxᵀb",
        lambda x, a, b: (a @ x) * (x @ b),
        lambda x, a, b: a * (x @ b) + b * (a @ x),
        _x_a_b,
        r"a^\top xx^\top b",
        r"(ab^\top + ba^\top)x",
        "x",
        source="derived here",
        note="aᵀxxᵀb = (aᵀx)(xᵀb): the product rule.",
    ),
    E(
        "mahalanobis",
        "Mahalanobis norm",
        lambda x, S: jnp.sqrt(x @ S @ x),
        lambda x, S: S @ x / jnp.sqrt(x @ S @ x),
        _x_spd,
        r"\sqrt{x^\top Sx}",
        r"Sx/\sqrt{x^\top Sx}",
        "x",
        conditions=("spd", "nonzero"),
        source="derived here",
        note="The norm induced by S.",
    ),
    E(
        "quad_kron",
        "quadratic form in a Kronecker product",
        _kron_f,
        _kron_grad,
        _kron,
        r"(x\otimes y)^\top A(x\otimes y)",
        r"\big[\operatorname{mat}\big((A + A^\top)(x\otimes y)\big)\big]\,y",
        "x",
        note="mat reshapes the length-nm vector to [n, m] rows-first, the layout of x ⊗ y.",
        source="derived here",
    ),
    # -- second-order entries --
    E(
        "quad_hessian",
        "Hessian of a quadratic form",
        lambda x, B: x @ B @ x,
        lambda x, B: B + B.T,
        _x_B,
        r"x^\top Bx",
        r"B + B^\top",
        "x",
        kind="hessian",
        note="Constant and symmetric: 2B only for symmetric B.",
        source="derived here",
    ),
    E(
        "affine_bilinear_hessian",
        "Hessian of a bilinear form of two affine maps",
        _affine_f,
        lambda x, B, b, C, D, e: B.T @ C @ D + D.T @ C.T @ B,
        _affine,
        r"(Bx + b)^\top C(Dx + e)",
        r"B^\top CD + D^\top C^\top B",
        "x",
        kind="hessian",
        source="derived here",
        note="Constant: the function is quadratic in x.",
    ),
]
