"""Determinants and log-determinants.

Everything follows from Jacobi's formula ``d det(X) = det(X) tr(X⁻¹ dX)``, so
``d ln|det X| = tr(X⁻¹ dX)`` and the gradient of ``ln|det X|`` is ``X⁻ᵀ``. The
functions are evaluated with LU-based routines (``det``, ``slogdet``), defined for
every nearby matrix, so the finite differences of the check may leave a
symmetric or triangular set.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from ._entry import Published, make
from ._samplers import sampler

SECTION = "determinants"
E = functools.partial(make, SECTION)
COOKBOOK = "Matrix Cookbook (2012), eq. "
JACOBI = "Jacobi's formula; Magnus & Neudecker, Matrix Differential Calculus (3rd ed., 2019), ch. 8"

inv = jnp.linalg.inv


def _logabsdet(X):
    return jnp.linalg.slogdet(X)[1]


def _eye(n, like):
    return jnp.eye(n, dtype=like.dtype)


# -- samplers ---------------------------------------------------------------------------


@sampler
def _invertible(d):
    return (d.invertible(d.size()),)


@sampler
def _AXB(d):
    # A [n, m], X [m, p], B [p, n] with AXB = M Y0, both well-conditioned: X = Ao Y0 Boᵀ plus a
    # part that AXB does not see (in the null spaces of Aoᵀ and Bo), so X is a general matrix.
    n = d.size(2, 3)
    m, p = n + d.size(0, 2), n + d.size(0, 2)
    Ao, Bo = d.orthonormal_columns(m, n), d.orthonormal_columns(p, n)
    hidden = (np.eye(m) - Ao @ Ao.T) @ d.normal(m, p) @ (np.eye(p) - Bo @ Bo.T)
    return Ao @ d.invertible(n) @ Bo.T + hidden, d.invertible(n) @ Ao.T, Bo


@sampler
def _tall(d):
    n = d.size(2, 3)
    return (d.full_rank(n + d.size(1, 2), n),)


@sampler
def _wide(d):
    m = d.size(2, 3)
    return (d.full_rank(m, m + d.size(1, 2)),)


@sampler
def _XtAX(d):
    n = d.size(2, 3)
    m = n + d.size(0, 2)
    # X with orthonormal-ish columns scaled in [1, 2]; A with a positive definite symmetric
    # part, so that XᵀAX has one too and stays invertible.
    return d.full_rank(m, n), d.positive_definite_part(m)


@sampler
def _orthogonal(d):
    return (d.orthogonal(d.size()),)


@sampler
def _spd(d):
    return (d.spd(d.size()),)


@sampler
def _any(d):
    m, n = d.size(), d.size()
    return (d.normal(m, n),)


@sampler
def _kron(d):
    n, p = d.size(2, 3), d.size(2, 3)
    return d.invertible(n), d.invertible(p)


@sampler
def _diagonal(d):
    return (d.diagonal(d.size()),)


@sampler
def _lower(d):
    return (d.lower_triangular(d.size()),)


def _det_AXB_grad(X, A, B):
    Y = A @ X @ B
    return jnp.linalg.det(Y) * (A.T @ inv(Y).T @ B.T)


def _det_XtAX_grad(X, A):
    M = X.T @ A @ X
    Mi = inv(M)
    return jnp.linalg.det(M) * (A @ X @ Mi + A.T @ X @ Mi.T)


def _logdet_XtAX_grad(X, A):
    Mi = inv(X.T @ A @ X)
    return A @ X @ Mi + A.T @ X @ Mi.T


def _det_hvp(X, V):
    Xi = inv(X)
    return jnp.linalg.det(X) * (jnp.trace(Xi @ V) * Xi.T - (Xi @ V @ Xi).T)


ENTRIES = [
    E(
        "det_X",
        "determinant",
        lambda X: jnp.linalg.det(X),
        lambda X: jnp.linalg.det(X) * inv(X).T,
        _invertible,
        r"\det(X)",
        r"\det(X)\,X^{-\top}",
        "X",
        conditions=("invertible",),
        note="The transposed adjugate; det(X) X⁻ᵀ is its form for invertible X.",
        source=COOKBOOK + "(66)",
        published=(
            Published(
                source="numerator-layout tables (e.g. Wikipedia, 'Matrix calculus', "
                "scalar-by-matrix identities)",
                formula=r"\det(X)\,X^{-1}",
                why="The numerator layout transposes the gradient: det(X) X⁻¹ is ∂f/∂X_ji at "
                "(i, j). Right in its convention; as an array to add to X it is transposed.",
                grad=lambda X: jnp.linalg.det(X) * inv(X),
                expect="transpose",
            ),
        ),
    ),
    E(
        "det_AXB",
        "determinant of AXB",
        lambda X, A, B: jnp.linalg.det(A @ X @ B),
        _det_AXB_grad,
        _AXB,
        r"\det(AXB)",
        r"\det(AXB)\,A^\top (AXB)^{-\top} B^\top",
        "X",
        conditions=("invertible_combination",),
        note="AXB must be invertible; X, A and B may be rectangular. For square invertible A "
        "and B it reduces to det(AXB) X⁻ᵀ.",
        source=JACOBI,
    ),
    E(
        "logabsdet_X",
        "log of the absolute determinant",
        lambda X: _logabsdet(X),
        lambda X: inv(X).T,
        _invertible,
        r"\ln|\det X|",
        r"X^{-\top}",
        "X",
        conditions=("invertible",),
        note="Holds for either sign of det X.",
        source=JACOBI,
    ),
    E(
        "logabsdet_orthogonal",
        "log-determinant at an orthogonal matrix",
        lambda Q: _logabsdet(Q),
        lambda Q: Q,
        _orthogonal,
        r"\ln|\det Q|",
        "Q",
        "Q",
        conditions=("orthogonal",),
        note="Q⁻ᵀ = Q for orthogonal Q; the formula Q is wrong anywhere else.",
        source=JACOBI,
    ),
    E(
        "det_inv",
        "determinant of the inverse",
        lambda X: jnp.linalg.det(inv(X)),
        lambda X: -jnp.linalg.det(inv(X)) * inv(X).T,
        _invertible,
        r"\det(X^{-1})",
        r"-\det(X^{-1})\,X^{-\top}",
        "X",
        conditions=("invertible",),
        source=COOKBOOK + "(62)",
        note="det(X⁻¹) = 1/det(X): the chain rule on Jacobi's formula.",
    ),
    E(
        "det_X3",
        "determinant of X³",
        lambda X: jnp.linalg.det(X @ X @ X),
        lambda X: 3 * jnp.linalg.det(X @ X @ X) * inv(X).T,
        _invertible,
        r"\det(X^3)",
        r"3\det(X^3)\,X^{-\top}",
        "X",
        conditions=("invertible",),
        note="det(X^k) = det(X)^k: the gradient is k det(X^k) X⁻ᵀ.",
        source=JACOBI,
    ),
    E(
        "logdet_XtX",
        "log-determinant of XᵀX",
        lambda X: _logabsdet(X.T @ X),
        lambda X: 2 * X @ inv(X.T @ X),
        _tall,
        r"\ln\det(X^\top X)",
        r"2X(X^\top X)^{-1} = 2(X^+)^\top",
        "X",
        conditions=("full_column_rank",),
        source=JACOBI,
        note="X⁺ is the pseudo-inverse; the gradient lies in X's column space.",
    ),
    E(
        "logdet_XXt",
        "log-determinant of XXᵀ",
        lambda X: _logabsdet(X @ X.T),
        lambda X: 2 * inv(X @ X.T) @ X,
        _wide,
        r"\ln\det(XX^\top)",
        r"2(XX^\top)^{-1}X",
        "X",
        conditions=("full_row_rank",),
        source=JACOBI,
        note="The row-space counterpart of ln det(XᵀX).",
    ),
    E(
        "det_XtAX",
        "determinant of XᵀAX",
        lambda X, A: jnp.linalg.det(X.T @ A @ X),
        _det_XtAX_grad,
        _XtAX,
        r"\det(X^\top AX)",
        r"\det(M)\,(AXM^{-1} + A^\top XM^{-\top}),\ M = X^\top AX",
        "X",
        conditions=("full_column_rank", "positive_definite_part"),
        note="For symmetric A: 2 det(M) AXM⁻¹.",
        source=JACOBI,
    ),
    E(
        "logdet_XtAX",
        "log-determinant of XᵀAX",
        lambda X, A: _logabsdet(X.T @ A @ X),
        _logdet_XtAX_grad,
        _XtAX,
        r"\ln|\det(X^\top AX)|",
        r"AXM^{-1} + A^\top XM^{-\top},\ M = X^\top AX",
        "X",
        conditions=("full_column_rank", "positive_definite_part"),
        source=JACOBI,
        note="For symmetric A: 2AXM⁻¹.",
    ),
    E(
        "logdet_spd",
        "log-determinant of a positive definite matrix",
        lambda S: _logabsdet(S),
        lambda S: inv(S),
        _spd,
        r"\ln\det\Sigma",
        r"\Sigma^{-1}",
        "Sigma",
        conditions=("spd",),
        note="The gradient as jax.grad returns it: every entry of Σ varied on its own. Its "
        "symmetric part, the gradient within the symmetric matrices, is the same Σ⁻¹.",
        source=JACOBI,
        published=(
            Published(
                source="Matrix Cookbook (2012), §2.8.2 'Symmetric' (the form that Srinivasan & Panda, "
                "Indian J. Pure Appl. Math. 54 (2023), arXiv:1911.06491, show to be spurious)",
                formula=r"2\Sigma^{-1} - \Sigma^{-1}\circ I",
                why="It differentiates with respect to the n(n+1)/2 free entries of a symmetric "
                "matrix, so each off-diagonal entry counts twice. As a gradient in the space of "
                "symmetric matrices with the Frobenius inner product it is wrong: that gradient "
                "is sym(G) = Σ⁻¹ (Srinivasan & Panda). A gradient step with it is not a "
                "steepest-descent step.",
                grad=lambda S: 2 * inv(S) - jnp.diag(jnp.diagonal(inv(S))),
                expect="the error is off the diagonal",
            ),
        ),
    ),
    E(
        "logdet_I_XtX",
        "log-determinant of I + XᵀX",
        lambda X: _logabsdet(_eye(X.shape[1], X) + X.T @ X),
        lambda X: 2 * X @ inv(_eye(X.shape[1], X) + X.T @ X),
        _any,
        r"\ln\det(I + X^\top X)",
        r"2X(I + X^\top X)^{-1}",
        "X",
        note="Defined for every X; appears in Gaussian-process and variational objectives.",
        source=JACOBI,
    ),
    E(
        "logdet_kron",
        "log-determinant of a Kronecker product",
        lambda X, A: _logabsdet(jnp.kron(A, X)),
        lambda X, A: A.shape[0] * inv(X).T,
        _kron,
        r"\ln|\det(A\otimes X)|",
        r"p\,X^{-\top}\quad(A \in \mathbb R^{p\times p})",
        "X",
        conditions=("invertible",),
        note="det(A ⊗ X) = det(A)^n det(X)^p for X [n, n], A [p, p].",
        source=JACOBI,
    ),
    E(
        "det_diagonal",
        "determinant of a diagonal matrix",
        lambda D: jnp.linalg.det(D),
        lambda D: jnp.diag(jnp.prod(jnp.diagonal(D)) / jnp.diagonal(D)),
        _diagonal,
        r"\det(D) = \prod_i d_i",
        r"\operatorname{diag}\big(\textstyle\prod_{j\ne i} d_j\big)",
        "D",
        conditions=("diagonal",),
        note="At a diagonal point the off-diagonal entries of det(D) D⁻ᵀ vanish.",
        source=JACOBI,
    ),
    E(
        "logdet_LLt",
        "log-determinant through a triangular factor",
        lambda L: _logabsdet(L @ L.T),
        lambda L: 2 * inv(L).T,
        _lower,
        r"\ln\det(LL^\top)",
        r"2L^{-\top}",
        "L",
        conditions=("lower_triangular",),
        note="jax.grad varies every entry of L, the upper triangle too; restricted to "
        "triangular L keep the lower triangle of 2L⁻ᵀ (its diagonal is 2/L_ii).",
        source=JACOBI,
    ),
    # -- second-order entries --
    E(
        "logabsdet_hessian",
        "Hessian of ln|det X|",
        lambda X: _logabsdet(X),
        lambda X: -jnp.einsum("jk,li->ijkl", inv(X), inv(X)),
        _invertible,
        r"\ln|\det X|",
        r"\frac{\partial^2 f}{\partial X_{ij}\partial X_{kl}} = -(X^{-1})_{jk}(X^{-1})_{li}",
        "X",
        conditions=("invertible",),
        kind="hessian",
        note="From d(X⁻ᵀ) = -(X⁻¹ dX X⁻¹)ᵀ.",
        source=JACOBI,
    ),
    E(
        "det_hvp",
        "Hessian-vector product of det X",
        lambda X: jnp.linalg.det(X),
        _det_hvp,
        _invertible,
        r"\det(X)",
        r"H[V] = \det(X)\,\big[\operatorname{tr}(X^{-1}V)\,X^{-\top} - (X^{-1}VX^{-1})^\top\big]",
        "X",
        conditions=("invertible",),
        kind="hvp",
        source=JACOBI,
        note="The derivative of det(X) X⁻ᵀ: det's own change times X⁻ᵀ, plus det(X) times X⁻ᵀ's.",
    ),
    E(
        "logdet_spd_hvp",
        "Hessian-vector product of ln det Σ",
        lambda S: _logabsdet(S),
        lambda S, V: -inv(S) @ V.T @ inv(S),
        _spd,
        r"\ln\det\Sigma",
        r"H[V] = -\Sigma^{-1}V^\top\Sigma^{-1}",
        "Sigma",
        conditions=("spd",),
        kind="hvp",
        note="Vᵀ, not V: the gradient Σ⁻ᵀ is transposed, so is its derivative; the same for a "
        "symmetric direction V.",
        source=JACOBI,
    ),
]
