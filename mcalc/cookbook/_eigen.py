"""Eigenvalues (and an eigenvector) of symmetric matrices with simple eigenvalues.

For symmetric ``S`` with a simple eigenvalue ``λ_i`` and unit eigenvector ``v_i``,
``dλ_i = v_iᵀ dS v_i`` and ``dv_i = (λ_i I - S)⁺ dS v_i``. ``jnp.linalg.eigh``
reads the symmetric part of its input, so ``jax.grad`` of a spectral function
returns a symmetric matrix: the closed forms here are symmetric too. Eigenvalues
are in ascending order, as ``eigh`` returns them; ``λ_max`` is the last one.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp

from ._entry import make
from ._samplers import sampler

SECTION = "eigenvalues"
E = functools.partial(make, SECTION)
COOKBOOK = "Matrix Cookbook (2012), eq. "
MAGNUS = (
    "Magnus, 'On differentiating eigenvalues and eigenvectors', Econometric Theory 1 (1985); "
    "Matrix Cookbook (2012), eq. (67)"
)
LEWIS = "Lewis, 'Derivatives of spectral functions', Math. Oper. Res. 21 (1996)"

eigh = jnp.linalg.eigh


def _eigvals(S):
    return eigh(S)[0]


def _proj(V, k):
    return jnp.outer(V[:, k], V[:, k])


def _spectral(S, g):
    """``V diag(g(λ)) Vᵀ``: the gradient of ``Σ_i G(λ_i)`` for ``G' = g``."""
    lam, V = eigh(S)
    return (V * g(lam)[None, :]) @ V.T


def _sym(A):
    return (A + A.T) / 2


# -- samplers ---------------------------------------------------------------------------


@sampler
def _simple(d):
    return (d.simple_spectrum(d.size(2, 5)),)


@sampler
def _simple_positive(d):
    return (d.simple_spectrum(d.size(2, 5), positive=True),)


@sampler
def _simple_3(d):  # at least 3 eigenvalues, so that a top-2 sum is not the whole trace
    return (d.simple_spectrum(d.size(3, 5)),)


@sampler
def _symmetric(d):
    return (d.symmetric(d.size(2, 5)),)


@sampler
def _eigvec(d):
    n = d.size(2, 5)
    return d.simple_spectrum(n), d.normal(n)


@sampler
def _pencil(d):
    n = d.size(2, 4)
    return d.simple_spectrum(n), d.spd(n, 1.0, 2.0)


@sampler
def _pencil_B(d):
    n = d.size(2, 4)
    return d.spd(n, 1.0, 2.0), d.simple_spectrum(n)


@sampler
def _rayleigh(d):
    n = d.size(2, 5)
    return d.normal(n), d.symmetric(n), d.spd(n)


@sampler
def _weights(d):
    n = d.size(2, 5)
    return d.simple_spectrum(n), d.normal(n)


# -- closed forms -------------------------------------------------------------------------


def _gen_eig(A, B):
    """The largest eigenvalue of ``Av = λBv`` and its B-normalised eigenvector (vᵀBv = 1)."""
    L = jnp.linalg.cholesky(B)
    Li = jnp.linalg.inv(L)
    lam, W = eigh(Li @ A @ Li.T)
    return lam[-1], Li.T @ W[:, -1]


def _gen_eig_grad_A(A, B):
    _, v = _gen_eig(A, B)
    return jnp.outer(v, v)  # vᵀBv = 1


def _gen_eig_grad_B(B, A):
    lam, v = _gen_eig(A, B)
    return -lam * jnp.outer(v, v)


def _eigvec_projection_grad(S, u):
    lam, V = eigh(S)
    c = u @ V  # uᵀ v_j
    gaps = lam[-1] - lam
    w = jnp.where(gaps > 0, c / jnp.where(gaps > 0, gaps, 1), 0)  # (λ_1 I - S)⁺ u in the V basis
    G = 2 * c[-1] * jnp.outer(V @ w, V[:, -1])
    return _sym(G)


def _eig_max_hvp(S, Vdir):
    lam, V = eigh(S)
    Vs = _sym(Vdir)  # eigh reads the symmetric part of S + tV
    v = V[:, -1]
    gaps = lam[-1] - lam
    coef = (V.T @ Vs @ v) / jnp.where(gaps > 0, gaps, 1)
    dv = V @ jnp.where(gaps > 0, coef, 0)
    return jnp.outer(dv, v) + jnp.outer(v, dv)


def _condition_grad(S):
    lam, V = eigh(S)
    kappa = lam[-1] / lam[0]
    return (_proj(V, -1) - kappa * _proj(V, 0)) / lam[0]


def _rayleigh_generalized(x, A, B):
    return (x @ A @ x) / (x @ B @ x)


def _rayleigh_generalized_grad(x, A, B):
    q = x @ B @ x
    return 2 * (A @ x - (x @ A @ x) / q * (B @ x)) / q


def _sum_sq_hessian(S):
    n = S.shape[0]
    eye = jnp.eye(n, dtype=S.dtype)
    return jnp.einsum("ik,jl->ijkl", eye, eye) + jnp.einsum("il,jk->ijkl", eye, eye)


ENTRIES = [
    E(
        "eig_max",
        "largest eigenvalue",
        lambda S: _eigvals(S)[-1],
        lambda S: _proj(eigh(S)[1], -1),
        _simple,
        r"\lambda_{\max}(S)",
        r"v_{\max}v_{\max}^\top",
        "S",
        conditions=("simple_eigenvalues",),
        note="dλ = vᵀ dS v for a simple eigenvalue with unit eigenvector v.",
        source=MAGNUS,
    ),
    E(
        "eig_min",
        "smallest eigenvalue",
        lambda S: _eigvals(S)[0],
        lambda S: _proj(eigh(S)[1], 0),
        _simple,
        r"\lambda_{\min}(S)",
        r"v_{\min}v_{\min}^\top",
        "S",
        conditions=("simple_eigenvalues",),
        source=MAGNUS,
        note="dλ = vᵀ dS v at the smallest eigenvalue.",
    ),
    E(
        "eig_second",
        "second largest eigenvalue",
        lambda S: _eigvals(S)[-2],
        lambda S: _proj(eigh(S)[1], -2),
        _simple,
        r"\lambda_2(S)",
        r"v_2v_2^\top",
        "S",
        conditions=("simple_eigenvalues",),
        source=MAGNUS,
        note="Any simple eigenvalue: dλ_i = v_iᵀ dS v_i.",
    ),
    E(
        "eig_top2_sum",
        "sum of the two largest eigenvalues",
        lambda S: jnp.sum(_eigvals(S)[-2:]),
        lambda S: eigh(S)[1][:, -2:] @ eigh(S)[1][:, -2:].T,
        _simple_3,
        r"\lambda_1(S) + \lambda_2(S)",
        r"V_2V_2^\top\ (\text{projector onto the top two eigenvectors})",
        "S",
        conditions=("simple_eigenvalues",),
        note="Ky Fan's sum needs only a gap below the k-th eigenvalue, not simple ones.",
        source="Overton & Womersley, 'Optimality conditions and duality theory for minimizing "
        "sums of the largest eigenvalues of symmetric matrices', Math. Programming 62 (1993)",
    ),
    E(
        "eig_sum",
        "sum of the eigenvalues",
        lambda S: jnp.sum(_eigvals(S)),
        lambda S: jnp.eye(S.shape[0], dtype=S.dtype),
        _symmetric,
        r"\textstyle\sum_i \lambda_i(S) = \operatorname{tr}(S)",
        "I",
        "S",
        conditions=("symmetric",),
        source=COOKBOOK + "(65)",
        note="The trace, written through the spectrum.",
    ),
    E(
        "eig_sum_sq",
        "sum of the squared eigenvalues",
        lambda S: jnp.sum(_eigvals(S) ** 2),
        lambda S: 2 * S,
        _symmetric,
        r"\textstyle\sum_i \lambda_i(S)^2 = \|S\|_F^2",
        "2S",
        "S",
        conditions=("symmetric",),
        source=LEWIS,
        note="Σλ² = ‖S‖_F² for symmetric S: no eigenvectors needed.",
    ),
    E(
        "eig_log_sum",
        "sum of the log-eigenvalues",
        lambda S: jnp.sum(jnp.log(_eigvals(S))),
        lambda S: _spectral(S, lambda lam: 1 / lam),
        _simple_positive,
        r"\textstyle\sum_i \ln\lambda_i(S) = \ln\det S",
        r"V\operatorname{diag}(1/\lambda)V^\top = S^{-1}",
        "S",
        conditions=("spd",),
        source=LEWIS,
        note="ln det S through the spectrum: V diag(1/λ) Vᵀ = S⁻¹.",
    ),
    E(
        "eig_exp_sum",
        "sum of the exponentiated eigenvalues",
        lambda S: jnp.sum(jnp.exp(_eigvals(S))),
        lambda S: _spectral(S, jnp.exp),
        _symmetric,
        r"\textstyle\sum_i e^{\lambda_i(S)} = \operatorname{tr}(e^S)",
        r"V\operatorname{diag}(e^\lambda)V^\top = e^S",
        "S",
        conditions=("symmetric",),
        source=LEWIS,
        note="tr(e^S) through the spectrum: V diag(e^λ) Vᵀ = e^S.",
    ),
    E(
        "eig_spectral_function",
        "a spectral function",
        lambda S: jnp.sum(jnp.log1p(_eigvals(S) ** 2)),
        lambda S: _spectral(S, lambda lam: 2 * lam / (1 + lam**2)),
        _symmetric,
        r"\textstyle\sum_i g(\lambda_i(S)),\ g(t) = \ln(1 + t^2)",
        r"V\operatorname{diag}\big(g'(\lambda)\big)V^\top",
        "S",
        conditions=("symmetric",),
        note="Any symmetric function of the eigenvalues, smooth g: V diag(g'(λ)) Vᵀ, with no "
        "simplicity needed.",
        source=LEWIS,
    ),
    E(
        "eig_gap",
        "spectral gap",
        lambda S: _eigvals(S)[-1] - _eigvals(S)[-2],
        lambda S: _proj(eigh(S)[1], -1) - _proj(eigh(S)[1], -2),
        _simple,
        r"\lambda_1(S) - \lambda_2(S)",
        r"v_1v_1^\top - v_2v_2^\top",
        "S",
        conditions=("simple_eigenvalues",),
        source=MAGNUS,
        note="The difference of the two eigenprojectors.",
    ),
    E(
        "eig_condition",
        "spectral condition number",
        lambda S: _eigvals(S)[-1] / _eigvals(S)[0],
        _condition_grad,
        _simple_positive,
        r"\kappa(S) = \lambda_{\max}(S)/\lambda_{\min}(S)",
        r"\big(v_{\max}v_{\max}^\top - \kappa\,v_{\min}v_{\min}^\top\big)/\lambda_{\min}",
        "S",
        conditions=("spd", "simple_eigenvalues"),
        source=MAGNUS,
        note="The quotient rule on λ_max/λ_min.",
    ),
    E(
        "eig_weighted_sum",
        "weighted sum of the sorted eigenvalues",
        lambda S, c: _eigvals(S) @ c,
        lambda S, c: (eigh(S)[1] * c[None, :]) @ eigh(S)[1].T,
        _weights,
        r"\textstyle\sum_i c_i\lambda_i(S)\ (\lambda\ \text{ascending})",
        r"V\operatorname{diag}(c)V^\top",
        "S",
        conditions=("simple_eigenvalues",),
        source=MAGNUS,
        note="With simple eigenvalues the order of the λ_i is locally fixed, so the weights stay attached.",
    ),
    E(
        "eigvec_projection",
        "squared projection of the top eigenvector",
        lambda S, u: (u @ eigh(S)[1][:, -1]) ** 2,
        _eigvec_projection_grad,
        _eigvec,
        r"(u^\top v_{\max})^2",
        r"\operatorname{sym}\big(2(u^\top v_1)(\lambda_1 I - S)^+u\,v_1^\top\big)",
        "S",
        conditions=("simple_eigenvalues",),
        note="dv_1 = (λ_1 I - S)⁺ dS v_1; squaring removes the sign ambiguity of v_1. "
        "sym(G) = (G + Gᵀ)/2 because eigh reads the symmetric part of S.",
        source="Matrix Cookbook (2012), eq. (68); Magnus (1985)",
    ),
    E(
        "gen_eig_max_A",
        "largest generalized eigenvalue, in A",
        lambda A, B: _gen_eig(A, B)[0],
        _gen_eig_grad_A,
        _pencil,
        r"\lambda_{\max}(A, B):\ Av = \lambda Bv",
        r"vv^\top/(v^\top Bv)",
        "A",
        conditions=("simple_eigenvalues", "spd"),
        note="A symmetric with simple generalized eigenvalues, B symmetric positive definite.",
        source="derived here (dλ = vᵀ(dA - λ dB)v / vᵀBv)",
    ),
    E(
        "gen_eig_max_B",
        "largest generalized eigenvalue, in B",
        lambda B, A: _gen_eig(A, B)[0],
        _gen_eig_grad_B,
        _pencil_B,
        r"\lambda_{\max}(A, B):\ Av = \lambda Bv",
        r"-\lambda\,vv^\top/(v^\top Bv)",
        "B",
        conditions=("simple_eigenvalues", "spd"),
        source="derived here (dλ = vᵀ(dA - λ dB)v / vᵀBv)",
        note="Growing B lowers λ: dλ = -λ vᵀdBv / vᵀBv.",
    ),
    E(
        "rayleigh_generalized",
        "generalized Rayleigh quotient",
        _rayleigh_generalized,
        _rayleigh_generalized_grad,
        _rayleigh,
        r"r(x) = \frac{x^\top Ax}{x^\top Bx}",
        r"\frac{2}{x^\top Bx}\big(Ax - r(x)\,Bx\big)",
        "x",
        conditions=("symmetric", "spd"),
        note="A symmetric, B positive definite; zero exactly at generalized eigenvectors.",
        source="derived here",
    ),
    # -- second-order entries --
    E(
        "eig_max_hvp",
        "Hessian-vector product of the largest eigenvalue",
        lambda S: _eigvals(S)[-1],
        _eig_max_hvp,
        _simple,
        r"\lambda_{\max}(S)",
        r"H[V] = \dot v v^\top + v\dot v^\top,\ "
        r"\dot v = \textstyle\sum_{j\ne 1} v_j\,\frac{v_j^\top\operatorname{sym}(V)v}{\lambda_1 - \lambda_j}",
        "S",
        conditions=("simple_eigenvalues",),
        kind="hvp",
        note="The derivative of vvᵀ along sym(V); its quadratic form is 2Σ_j (v_jᵀVv)²/(λ_1 - λ_j).",
        source=MAGNUS,
    ),
    E(
        "eig_sum_sq_hessian",
        "Hessian of the sum of squared eigenvalues",
        lambda S: jnp.sum(_eigvals(S) ** 2),
        _sum_sq_hessian,
        _symmetric,
        r"\textstyle\sum_i\lambda_i(S)^2 = \|\operatorname{sym}(S)\|_F^2",
        r"\frac{\partial^2 f}{\partial S_{ij}\partial S_{kl}} = \delta_{ik}\delta_{jl} + \delta_{il}\delta_{jk}",
        "S",
        conditions=("symmetric",),
        kind="hessian",
        note="Not 2I: eigh sees sym(S), so the Hessian is twice the projector onto symmetric "
        "matrices.",
        source="derived here",
    ),
]
