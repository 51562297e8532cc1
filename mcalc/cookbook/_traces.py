"""Traces: of products, powers, Kronecker and Hadamard forms.

Every gradient follows from ``d tr(F) = tr(dF)``, the cyclic property and
``tr(Mᵀ dX) = ⟨M, dX⟩``: once ``d tr(F(X)) = tr(M dX)``, the gradient in the
layout ``jax.grad`` returns is ``Mᵀ``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ._entry import Published, make
from ._samplers import sampler

SECTION = "traces"
E = functools.partial(make, SECTION)


def _eye(X):
    return jnp.eye(X.shape[0], dtype=X.dtype)


# -- samplers ---------------------------------------------------------------------------


@sampler
def _X_A(d):  # X [m, n], A [n, m]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(n, m)


@sampler
def _X_A_B(d):  # X [m, n], A [p, m], B [n, p]
    m, n, p = d.size(), d.size(), d.size()
    return d.normal(m, n), d.normal(p, m), d.normal(n, p)


@sampler
def _X_A_Bt(d):  # X [m, n], A [p, n], B [m, p]: tr(A Xᵀ B)
    m, n, p = d.size(), d.size(), d.size()
    return d.normal(m, n), d.normal(p, n), d.normal(m, p)


@sampler
def _X_A_same(d):  # X, A [m, n]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(m, n)


@sampler
def _X_A_B_same(d):  # X, A, B [m, n]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(m, n), d.normal(m, n)


@sampler
def _square(d):
    n = d.size()
    return (d.normal(n, n),)


@sampler
def _square_B(d):
    n = d.size()
    return d.normal(n, n), d.normal(n, n)


@sampler
def _square_A_B(d):
    n = d.size()
    return d.normal(n, n), d.normal(n, n), d.normal(n, n)


@sampler
def _X_left(d):  # X [m, n], B [m, m]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(m, m)


@sampler
def _X_right(d):  # X [m, n], B [n, n]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(n, n)


@sampler
def _X_kron(d):  # X [n, n], A [p, p]
    n, p = d.size(), d.size(2, 3)
    return d.normal(n, n), d.normal(p, p)


@sampler
def _X_AXBX(d):  # X [m, n], A [n, m], B [n, m]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(n, m), d.normal(n, m)


@sampler
def _X_B_C(d):  # X [m, n], B [n, p], C [m, m]
    m, n, p = d.size(), d.size(), d.size()
    return d.normal(m, n), d.normal(n, p), d.normal(m, m)


@sampler
def _X_B_C_sq(d):  # X [m, n], B [m, m], C [n, n]
    m, n = d.size(), d.size()
    return d.normal(m, n), d.normal(m, m), d.normal(n, n)


@sampler
def _X_118(d):  # X [m, n], A [p, m], B [n, n], C [m, p]
    m, n, p = d.size(), d.size(), d.size()
    return d.normal(m, n), d.normal(p, m), d.normal(n, n), d.normal(m, p)


@sampler
def _X_119(d):  # X [m, n], A [p, m], B [n, q], C [p, q]
    m, n, p, q = d.size(), d.size(), d.size(), d.size()
    return d.normal(m, n), d.normal(p, m), d.normal(n, q), d.normal(p, q)


@sampler
def _X_small(d):  # for products of many factors: entries of order 1/2
    m, n, p = d.size(), d.size(), d.size()
    return d.normal(m, n, scale=0.5), d.normal(n, p), d.normal(m, m, scale=0.5)


@sampler
def _X_expm(d):
    n = d.size()
    return (d.normal(n, n, scale=0.5),)


# -- first order ------------------------------------------------------------------------

COOKBOOK = "Matrix Cookbook (2012), eq. "

ENTRIES = [
    E(
        "trace_X",
        "trace",
        lambda X: jnp.trace(X),
        lambda X: _eye(X),
        _square,
        r"\operatorname{tr}(X)",
        "I",
        "X",
        conditions=("square",),
        note="Only the diagonal enters the trace.",
        source=COOKBOOK + "(99)",
    ),
    E(
        "trace_XA",
        "trace of XA",
        lambda X, A: jnp.trace(X @ A),
        lambda X, A: A.T,
        _X_A,
        r"\operatorname{tr}(XA)",
        r"A^\top",
        "X",
        note="tr(XA) = Σ_ij X_ij A_ji: the gradient is Aᵀ, not A.",
        source=COOKBOOK + "(100)",
    ),
    E(
        "trace_AXB",
        "trace of AXB",
        lambda X, A, B: jnp.trace(A @ X @ B),
        lambda X, A, B: A.T @ B.T,
        _X_A_B,
        r"\operatorname{tr}(AXB)",
        r"A^\top B^\top",
        "X",
        note="tr(AXB) = tr(BAX); read off the factor of dX and transpose it.",
        source=COOKBOOK + "(101)",
        published=(
            Published(
                source="Wikipedia, 'Matrix calculus', scalar-by-matrix identities (numerator layout)",
                formula="BA",
                why=(
                    "Numerator layout puts ∂f/∂X_ji at position (i, j): the transpose of the "
                    "layout jax.grad returns. Both are right in their own convention."
                ),
                grad=lambda X, A, B: B @ A,
                expect="transpose",
            ),
        ),
    ),
    E(
        "trace_AXtB",
        "trace of AXᵀB",
        lambda X, A, B: jnp.trace(A @ X.T @ B),
        lambda X, A, B: B @ A,
        _X_A_Bt,
        r"\operatorname{tr}(AX^\top B)",
        "BA",
        "X",
        source=COOKBOOK + "(102)",
        note="tr(AXᵀB) = tr(XᵀBA) = ⟨X, BA⟩: the factor of Xᵀ is read off as it stands.",
    ),
    E(
        "trace_XtA",
        "trace of XᵀA",
        lambda X, A: jnp.trace(X.T @ A),
        lambda X, A: A,
        _X_A_same,
        r"\operatorname{tr}(X^\top A)",
        "A",
        "X",
        note="The Frobenius inner product ⟨X, A⟩ (problem P5).",
        source=COOKBOOK + "(103)",
    ),
    E(
        "trace_AXt",
        "trace of AXᵀ",
        lambda X, A: jnp.trace(A @ X.T),
        lambda X, A: A,
        _X_A_same,
        r"\operatorname{tr}(AX^\top)",
        "A",
        "X",
        source=COOKBOOK + "(104)",
        note="tr(AXᵀ) = ⟨A, X⟩, the Frobenius inner product.",
    ),
    E(
        "trace_kron_AX",
        "trace of the Kronecker product A ⊗ X",
        lambda X, A: jnp.trace(jnp.kron(A, X)),
        lambda X, A: jnp.trace(A) * _eye(X),
        _X_kron,
        r"\operatorname{tr}(A\otimes X)",
        r"\operatorname{tr}(A)\,I",
        "X",
        conditions=("square",),
        note="tr(A ⊗ X) = tr(A) tr(X).",
        source=COOKBOOK + "(105)",
    ),
    # -- second order in X --
    E(
        "trace_X2B",
        "trace of X²B",
        lambda X, B: jnp.trace(X @ X @ B),
        lambda X, B: (X @ B + B @ X).T,
        _square_B,
        r"\operatorname{tr}(X^2B)",
        r"(XB + BX)^\top",
        "X",
        conditions=("square",),
        source=COOKBOOK + "(107)",
        note="One term per factor X: d tr(XXB) = tr(dX XB) + tr(X dX B).",
    ),
    E(
        "trace_XtBX",
        "trace of XᵀBX",
        lambda X, B: jnp.trace(X.T @ B @ X),
        lambda X, B: B @ X + B.T @ X,
        _X_left,
        r"\operatorname{tr}(X^\top BX)",
        r"BX + B^\top X",
        "X",
        note="2BX only for symmetric B.",
        source=COOKBOOK + "(108)",
    ),
    E(
        "trace_BXXt",
        "trace of BXXᵀ",
        lambda X, B: jnp.trace(B @ X @ X.T),
        lambda X, B: B @ X + B.T @ X,
        _X_left,
        r"\operatorname{tr}(BXX^\top)",
        r"BX + B^\top X",
        "X",
        source=COOKBOOK + "(109)",
        note="tr(BXXᵀ) = tr(XᵀBX) by the cyclic property: the gradient of (108).",
    ),
    E(
        "trace_XXtB",
        "trace of XXᵀB",
        lambda X, B: jnp.trace(X @ X.T @ B),
        lambda X, B: B @ X + B.T @ X,
        _X_left,
        r"\operatorname{tr}(XX^\top B)",
        r"BX + B^\top X",
        "X",
        source=COOKBOOK + "(110)",
        note="tr(XXᵀB) = tr(XᵀBX): the gradient of (108).",
    ),
    E(
        "trace_XBXt",
        "trace of XBXᵀ",
        lambda X, B: jnp.trace(X @ B @ X.T),
        lambda X, B: X @ B.T + X @ B,
        _X_right,
        r"\operatorname{tr}(XBX^\top)",
        r"XB^\top + XB",
        "X",
        source=COOKBOOK + "(111)",
        note="The right-multiplied counterpart of (108); 2XB for symmetric B.",
    ),
    E(
        "trace_BXtX",
        "trace of BXᵀX",
        lambda X, B: jnp.trace(B @ X.T @ X),
        lambda X, B: X @ B.T + X @ B,
        _X_right,
        r"\operatorname{tr}(BX^\top X)",
        r"XB^\top + XB",
        "X",
        source=COOKBOOK + "(112)",
        note="tr(BXᵀX) = tr(XBXᵀ): the gradient of (111).",
    ),
    E(
        "trace_XtXB",
        "trace of XᵀXB",
        lambda X, B: jnp.trace(X.T @ X @ B),
        lambda X, B: X @ B.T + X @ B,
        _X_right,
        r"\operatorname{tr}(X^\top XB)",
        r"XB^\top + XB",
        "X",
        source=COOKBOOK + "(113)",
        note="tr(XᵀXB) = tr(XBXᵀ): the gradient of (111).",
    ),
    E(
        "trace_AXBX",
        "trace of AXBX",
        lambda X, A, B: jnp.trace(A @ X @ B @ X),
        lambda X, A, B: A.T @ X.T @ B.T + B.T @ X.T @ A.T,
        _X_AXBX,
        r"\operatorname{tr}(AXBX)",
        r"A^\top X^\top B^\top + B^\top X^\top A^\top",
        "X",
        source=COOKBOOK + "(114)",
        note="Two factors X, two terms, each the transposed product around its X.",
    ),
    E(
        "trace_BtXtCXB",
        "trace of BᵀXᵀCXB",
        lambda X, B, C: jnp.trace(B.T @ X.T @ C @ X @ B),
        lambda X, B, C: C.T @ X @ B @ B.T + C @ X @ B @ B.T,
        _X_B_C,
        r"\operatorname{tr}(B^\top X^\top CXB)",
        r"C^\top XBB^\top + CXBB^\top",
        "X",
        source=COOKBOOK + "(116)",
        note="tr(BᵀXᵀCXB) = tr(XᵀCXBBᵀ): (117) with BBᵀ on the right.",
    ),
    E(
        "trace_XtBXC",
        "trace of XᵀBXC",
        lambda X, B, C: jnp.trace(X.T @ B @ X @ C),
        lambda X, B, C: B @ X @ C + B.T @ X @ C.T,
        _X_B_C_sq,
        r"\operatorname{tr}(X^\top BXC)",
        r"BXC + B^\top XC^\top",
        "X",
        source=COOKBOOK + "(117)",
        note="2BXC when B and C are symmetric.",
    ),
    E(
        "trace_AXBXtC",
        "trace of AXBXᵀC",
        lambda X, A, B, C: jnp.trace(A @ X @ B @ X.T @ C),
        lambda X, A, B, C: A.T @ C.T @ X @ B.T + C @ A @ X @ B,
        _X_118,
        r"\operatorname{tr}(AXBX^\top C)",
        r"A^\top C^\top XB^\top + CAXB",
        "X",
        source=COOKBOOK + "(118)",
        note="tr(AXBXᵀC) = tr(XBXᵀ(CA)): (117)'s pattern with CA on the left.",
    ),
    E(
        "trace_AXB_C_sq",
        "squared Frobenius norm of AXB + C, as a trace",
        lambda X, A, B, C: jnp.trace((A @ X @ B + C) @ (A @ X @ B + C).T),
        lambda X, A, B, C: 2 * A.T @ (A @ X @ B + C) @ B.T,
        _X_119,
        r"\operatorname{tr}[(AXB + C)(AXB + C)^\top]",
        r"2A^\top(AXB + C)B^\top",
        "X",
        note="The gradient of a linear least-squares fit in a matrix unknown.",
        source=COOKBOOK + "(119)",
    ),
    E(
        "trace_kron_XX",
        "trace of the Kronecker product X ⊗ X",
        lambda X: jnp.trace(jnp.kron(X, X)),
        lambda X: 2 * jnp.trace(X) * _eye(X),
        _square,
        r"\operatorname{tr}(X\otimes X)",
        r"2\operatorname{tr}(X)\,I",
        "X",
        conditions=("square",),
        note="tr(X ⊗ X) = tr(X)².",
        source=COOKBOOK + "(120)",
    ),
    E(
        "trace_AX3",
        "trace of AX³",
        lambda X, A: jnp.trace(A @ X @ X @ X),
        lambda X, A: (A @ X @ X + X @ A @ X + X @ X @ A).T,
        _square_B,
        r"\operatorname{tr}(AX^3)",
        r"\sum_{r=0}^{2}(X^r A X^{2-r})^\top",
        "X",
        conditions=("square",),
        note="The k = 3 case of Σ_{r=0}^{k-1} (X^r A X^{k-1-r})ᵀ: one term per factor X.",
        source=COOKBOOK + "(122)",
    ),
    E(
        "trace_123",
        "trace of BᵀXᵀCXXᵀCXB",
        lambda X, B, C: jnp.trace(B.T @ X.T @ C @ X @ X.T @ C @ X @ B),
        lambda X, B, C: (
            C @ X @ X.T @ C @ X @ B @ B.T
            + C.T @ X @ B @ B.T @ X.T @ C.T @ X
            + C @ X @ B @ B.T @ X.T @ C @ X
            + C.T @ X @ X.T @ C.T @ X @ B @ B.T
        ),
        _X_small,
        r"\operatorname{tr}(B^\top X^\top CXX^\top CXB)",
        r"CXX^\top CXBB^\top + C^\top XBB^\top X^\top C^\top X + CXBB^\top X^\top CX "
        r"+ C^\top XX^\top C^\top XBB^\top",
        "X",
        note="Four factors X, four terms.",
        source=COOKBOOK + "(123)",
    ),
    E(
        "trace_kron_form",
        "quadratic form in vec(X) with a Kronecker matrix",
        lambda X, A, B: X.T.ravel() @ jnp.kron(B, A) @ X.T.ravel(),
        lambda X, A, B: A @ X @ B.T + A.T @ X @ B,
        _X_B_C_sq,
        r"\operatorname{vec}(X)^\top (B\otimes A)\operatorname{vec}(X) "
        r"= \operatorname{tr}(X^\top AXB^\top)",
        r"AXB^\top + A^\top XB",
        "X",
        note="vec stacks columns; (B ⊗ A) vec(X) = vec(AXBᵀ). Here A is the [m, m] and B the "
        "[n, n] argument.",
    ),
    E(
        "trace_expm",
        "trace of the matrix exponential",
        lambda X: jnp.trace(jax.scipy.linalg.expm(X)),
        lambda X: jax.scipy.linalg.expm(X).T,
        _X_expm,
        r"\operatorname{tr}(e^X)",
        r"(e^X)^\top",
        "X",
        conditions=("square",),
        note="d tr f(X) = tr(f'(X) dX) for a power series f; here f' = f = exp.",
    ),
    E(
        "trace_hadamard",
        "sum of a Hadamard product",
        lambda X, A, B: jnp.sum(A * X * B),
        lambda X, A, B: A * B,
        _X_A_B_same,
        r"\mathbf 1^\top (A\odot X\odot B)\mathbf 1 = \operatorname{tr}(A^\top(X\odot B))",
        r"A\odot B",
        "X",
        note="Σ_ij A_ij X_ij B_ij: elementwise, and so is its gradient.",
    ),
    E(
        "trace_XtX_sq",
        "trace of (XᵀX)²",
        lambda X: jnp.trace((X.T @ X) @ (X.T @ X)),
        lambda X: 4 * X @ X.T @ X,
        lambda key, dtype: _X_A(key, dtype)[:1],
        r"\operatorname{tr}[(X^\top X)^2] = \|X^\top X\|_F^2",
        r"4XX^\top X",
        "X",
        note="The fourth power of the Schatten 4-norm.",
    ),
    # -- second-order entries --
    E(
        "trace_XtBX_hessian",
        "Hessian of tr(XᵀBX)",
        lambda X, B: jnp.trace(X.T @ B @ X),
        lambda X, B: jnp.einsum("ik,jl->ijkl", B + B.T, jnp.eye(X.shape[1], dtype=X.dtype)),
        _X_left,
        r"\operatorname{tr}(X^\top BX)",
        r"\frac{\partial^2 f}{\partial X_{ij}\partial X_{kl}} = (B + B^\top)_{ik}\,\delta_{jl}",
        "X",
        kind="hessian",
        note="A quadratic in X: the Hessian is constant, (B + Bᵀ) ⊗ I acting on the columns.",
    ),
    E(
        "trace_AXBX_hvp",
        "Hessian-vector product of tr(AXBX)",
        lambda X, A, B: jnp.trace(A @ X @ B @ X),
        lambda X, A, B, V: A.T @ V.T @ B.T + B.T @ V.T @ A.T,
        _X_AXBX,
        r"\operatorname{tr}(AXBX)",
        r"H[V] = A^\top V^\top B^\top + B^\top V^\top A^\top",
        "X",
        kind="hvp",
        note="The gradient (114) is linear in X, so H[V] is the gradient with X replaced by V.",
    ),
    E(
        "trace_XtX_sq_hvp",
        "Hessian-vector product of tr((XᵀX)²)",
        lambda X: jnp.trace((X.T @ X) @ (X.T @ X)),
        lambda X, V: 4 * (V @ X.T @ X + X @ V.T @ X + X @ X.T @ V),
        lambda key, dtype: _X_A(key, dtype)[:1],
        r"\operatorname{tr}[(X^\top X)^2]",
        r"H[V] = 4(VX^\top X + XV^\top X + XX^\top V)",
        "X",
        kind="hvp",
        note="The derivative of 4XXᵀX along V, one term per factor X.",
    ),
]
