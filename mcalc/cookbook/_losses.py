"""Losses of classic machine learning: softmax and cross-entropy, logistic, ridge, lasso,
robust regression, PCA, matrix factorisation.

Data matrices hold one sample per row (``X`` is ``[N, D]``); ``σ`` is the logistic
sigmoid, ``softmax(z)_k = e^{z_k} / Σ_j e^{z_j}`` and ``LSE(z) = ln Σ_j e^{z_j}``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._entry import make
from ._samplers import reordered, sampler

SECTION = "losses"
E = functools.partial(make, SECTION)
GOODFELLOW = "Goodfellow, Bengio & Courville, Deep Learning (2016), §6.2.2.3"
BISHOP_SOFTMAX = "Bishop, Pattern Recognition and Machine Learning (2006), §4.3.4"
HUBER = "Huber, 'Robust estimation of a location parameter', Ann. Math. Statist. 35 (1964)"
KOREN = (
    "Koren, Bell & Volinsky, 'Matrix factorization techniques for recommender systems', "
    "IEEE Computer 42 (2009)"
)
GOLUB_PEREYRA = (
    "Golub & Pereyra, 'The differentiation of pseudo-inverses and nonlinear least squares "
    "problems whose variables separate', SIAM J. Numer. Anal. 10 (1973)"
)

softmax = jax.nn.softmax
sigmoid = jax.nn.sigmoid
LAM, LAM1, LAM2 = 0.7, 0.3, 0.5  # penalty weights of the entries below
DELTA = 1.0  # Huber's threshold


# -- samplers ---------------------------------------------------------------------------


@sampler
def _z(d):
    return (d.normal(d.size(2, 5)),)


@sampler
def _z_y(d):
    n = d.size(2, 5)
    return d.normal(n), d.simplex(n)


@sampler
def _z_a(d):
    n = d.size(2, 5)
    return d.normal(n), d.normal(n)


@sampler
def _x_A(d):  # x [n], A [m, n]
    m, n = d.size(2, 5), d.size(2, 4)
    return d.normal(n), d.normal(m, n)


@sampler
def _W_X_Y(d):  # W [D, K], X [N, D], Y [N, K] rows on the simplex
    n, dim, k = d.size(2, 6), d.size(2, 4), d.size(2, 4)
    return d.normal(dim, k, scale=0.5), d.normal(n, dim), d.simplex(n, k)


@sampler
def _w_X_ypm(d):
    n, dim = d.size(2, 6), d.size(2, 4)
    return d.normal(dim), d.normal(n, dim), d.labels_pm1(n)


@sampler
def _b_w_X_y01(d):
    n, dim = d.size(2, 6), d.size(2, 4)
    return d.normal(), d.normal(dim), d.normal(n, dim), d.labels_01(n)


@sampler
def _w_X_y(d):
    n, dim = d.size(2, 6), d.size(2, 4)
    return d.normal(dim), d.normal(n, dim), d.normal(n)


@sampler
def _w_nonzero_X_y(d):
    n, dim = d.size(2, 6), d.size(2, 4)
    return d.away_from_zero(dim), d.normal(n, dim), d.normal(n)


@sampler
def _w_X_y_huber(d):
    # Residuals y - Xw at least 0.1 away from ±δ, where Huber's loss changes formula.
    n, dim = d.size(2, 6), d.size(2, 4)
    w, X = d.normal(dim), d.normal(n, dim)
    inside = d.uniform(0.0, 1.0, n) < 0.5
    mags = np.where(inside, d.uniform(0.0, DELTA - 0.1, n), d.uniform(DELTA + 0.1, 2.5, n))
    return w, X, X @ w + d.signs(n) * mags


@sampler
def _r_huber(d):
    n = d.size(2, 6)
    mags = d.rng.choice([0.05, 0.6, 1.4, 2.2], n) + d.uniform(0.0, 0.3, n)
    return (d.signs(n) * mags,)


@sampler
def _w_X_y_small(d):  # Poisson regression: counts, and a small Xw so that exp stays moderate
    n, dim = d.size(2, 6), d.size(2, 4)
    return d.normal(dim, scale=0.3), d.normal(n, dim), d.rng.poisson(1.5, n).astype(float)


@sampler
def _w_X_ypm_hinge(d):
    # Margins y_i x_iᵀw at least 0.1 away from 1, where the squared hinge changes formula.
    n, dim = d.size(2, 6), d.size(2, 4)
    w, X, y = d.normal(dim), d.normal(n, dim), d.labels_pm1(n)
    m = y * (X @ w)
    shift = np.where(np.abs(m - 1) < 0.1, 1.15 - m, 0.0)  # moving x_i along y_i w moves m_i
    return w, X + (shift * y / (w @ w))[:, None] * w[None, :], y


@sampler
def _w_X_y_W(d):  # W [N, N] SPD
    n, dim = d.size(2, 6), d.size(2, 4)
    return d.normal(dim), d.normal(n, dim), d.normal(n), d.spd(n)


@sampler
def _B_X_Y(d):
    n, dim, k = d.size(2, 6), d.size(2, 4), d.size(2, 4)
    return d.normal(dim, k), d.normal(n, dim), d.normal(n, k)


@sampler
def _w_S(d):
    n = d.size(2, 5)
    return d.normal(n), d.symmetric(n)


@sampler
def _W_S(d):  # W [n, k], S [n, n] symmetric
    n, k = d.size(2, 5), d.size(1, 3)
    return d.normal(n, k), d.symmetric(n)


@sampler
def _W_X(d):  # W [D, k], X [N, D]
    n, dim, k = d.size(2, 6), d.size(2, 4), d.size(1, 3)
    return d.normal(dim, k, scale=0.5), d.normal(n, dim)


@sampler
def _U_V_X(d):  # U [m, k], V [n, k], X [m, n]
    m, n, k = d.size(2, 5), d.size(2, 5), d.size(1, 3)
    return d.normal(m, k), d.normal(n, k), d.normal(m, n)


_V_U_X = reordered(_U_V_X, 1, 0, 2)


@sampler
def _U_V_X_mask(d):
    U, V, X = _U_V_X.__wrapped__(d)
    return U, V, X, (d.uniform(0, 1, *X.shape) < 0.6).astype(float)


@sampler
def _X_y_tall(d):  # X [N, D] full column rank, N > D
    dim = d.size(2, 3)
    n = dim + d.size(1, 3)
    return d.full_rank(n, dim), d.normal(n)


# -- functions and closed forms -----------------------------------------------------------


def _softmax_ce(z, y):
    return -y @ jax.nn.log_softmax(z)


def _softmax_ce_W(W, X, Y):
    return -jnp.sum(Y * jax.nn.log_softmax(X @ W, axis=1))


def _entropy(z):
    s = softmax(z)
    return -s @ jax.nn.log_softmax(z)


def _entropy_grad(z):
    s, logs = softmax(z), jax.nn.log_softmax(z)
    return -s * (logs - s @ logs)


def _logistic_pm1(w, X, y):
    # softplus(-y a) = ln(1 + e^{-y a}), stable for large |a|.
    return jnp.sum(jax.nn.softplus(-y * (X @ w)))


def _logistic_pm1_grad(w, X, y):
    return -(y * sigmoid(-y * (X @ w))) @ X


def _logistic_pm1_hessian(w, X, y):
    p = sigmoid(y * (X @ w))
    return (X * (p * (1 - p))[:, None]).T @ X  # y² = 1


def _logistic_bias(b, w, X, y):
    a = X @ w + b
    return jnp.sum(jax.nn.softplus(a) - y * a)


def _huber(r):
    a = jnp.abs(r)
    return jnp.where(a <= DELTA, 0.5 * r**2, DELTA * (a - 0.5 * DELTA))


def _psi(r):
    return jnp.clip(r, -DELTA, DELTA)


def _pseudo_huber(r):
    return jnp.sum(DELTA**2 * (jnp.sqrt(1 + (r / DELTA) ** 2) - 1))


def _sq_hinge(w, X, y):
    return jnp.sum(jnp.maximum(0.0, 1 - y * (X @ w)) ** 2)


def _sq_hinge_grad(w, X, y):
    return -2 * (y * jnp.maximum(0.0, 1 - y * (X @ w))) @ X


def _rayleigh(w, S):
    return (w @ S @ w) / (w @ w)


def _rayleigh_grad(w, S):
    q = w @ w
    return 2 * (S @ w - (w @ S @ w) / q * w) / q


def _pca_recon(W, X):
    return jnp.sum((X - X @ W @ W.T) ** 2)


def _pca_recon_grad(W, X):
    C = X.T @ X
    return -4 * C @ W + 2 * C @ W @ W.T @ W + 2 * W @ W.T @ C @ W


def _mf_masked(U, V, X, M):
    return jnp.sum(M * (X - U @ V.T) ** 2) + LAM * jnp.sum(U**2)


def _ls_residual(X, y):
    w = jnp.linalg.solve(X.T @ X, X.T @ y)
    return jnp.sum((y - X @ w) ** 2)


def _ls_residual_grad(X, y):
    w = jnp.linalg.solve(X.T @ X, X.T @ y)
    return -2 * jnp.outer(y - X @ w, w)


def _mf_U_hessian(U, V, X):
    m = U.shape[0]
    return 2 * jnp.einsum("ik,lj->ijkl", jnp.eye(m, dtype=U.dtype), V.T @ V)


ENTRIES = [
    E(
        "logsumexp",
        "log-sum-exp",
        lambda z: jax.nn.logsumexp(z),
        lambda z: softmax(z),
        _z,
        r"\operatorname{LSE}(z) = \ln\textstyle\sum_j e^{z_j}",
        r"\operatorname{softmax}(z)",
        "z",
        note="The smooth maximum; its gradient is a probability vector.",
        source=GOODFELLOW,
    ),
    E(
        "softmax_cross_entropy",
        "softmax cross-entropy, in the logits",
        _softmax_ce,
        lambda z, y: softmax(z) - y,
        _z_y,
        r"-y^\top\ln\operatorname{softmax}(z)",
        r"\operatorname{softmax}(z) - y",
        "z",
        conditions=("simplex",),
        note="For targets y that sum to 1 (one-hot or soft labels); in general "
        "(Σ_k y_k) softmax(z) - y.",
        source=GOODFELLOW,
    ),
    E(
        "softmax_regression",
        "multinomial logistic regression, in the weights",
        _softmax_ce_W,
        lambda W, X, Y: X.T @ (softmax(X @ W, axis=1) - Y),
        _W_X_Y,
        r"-\textstyle\sum_i y_i^\top\ln\operatorname{softmax}(W^\top x_i)",
        r"X^\top\big(\operatorname{softmax}(XW) - Y\big)",
        "W",
        conditions=("simplex",),
        note="Softmax by rows; each row of Y sums to 1.",
        source=BISHOP_SOFTMAX,
    ),
    E(
        "softmax_component",
        "one softmax probability",
        lambda z: softmax(z)[0],
        lambda z: softmax(z)[0] * (jnp.zeros_like(z).at[0].set(1) - softmax(z)),
        _z,
        r"\operatorname{softmax}(z)_k,\ k = 1",
        r"s_k(e_k - s),\ s = \operatorname{softmax}(z)",
        "z",
        note="A row of the softmax Jacobian diag(s) - ssᵀ.",
        source=GOODFELLOW,
    ),
    E(
        "log_softmax_component",
        "one log-softmax probability",
        lambda z: jax.nn.log_softmax(z)[0],
        lambda z: jnp.zeros_like(z).at[0].set(1) - softmax(z),
        _z,
        r"\ln\operatorname{softmax}(z)_k,\ k = 1",
        r"e_k - \operatorname{softmax}(z)",
        "z",
        source=GOODFELLOW,
        note="One-hot minus probabilities: the building block of cross-entropy.",
    ),
    E(
        "softmax_expectation",
        "expectation under a softmax",
        lambda z, a: a @ softmax(z),
        lambda z, a: softmax(z) * (a - a @ softmax(z)),
        _z_a,
        r"a^\top\operatorname{softmax}(z)",
        r"s\odot(a - a^\top s),\ s = \operatorname{softmax}(z)",
        "z",
        note="The softmax Jacobian diag(s) - ssᵀ applied to a; shift-invariant in a.",
        source="derived here",
    ),
    E(
        "logsumexp_linear",
        "log-sum-exp of a linear map",
        lambda x, A: jax.nn.logsumexp(A @ x),
        lambda x, A: A.T @ softmax(A @ x),
        _x_A,
        r"\operatorname{LSE}(Ax)",
        r"A^\top\operatorname{softmax}(Ax)",
        "x",
        source="derived here",
        note="The chain rule through Ax: Aᵀ applied to the softmax.",
    ),
    E(
        "softmax_entropy",
        "entropy of a softmax",
        _entropy,
        _entropy_grad,
        _z,
        r"H(s) = -s^\top\ln s,\ s = \operatorname{softmax}(z)",
        r"-s\odot(\ln s - s^\top\ln s)",
        "z",
        source="derived here",
        note="Zero when all logits are equal, where the entropy is largest.",
    ),
    E(
        "logistic_pm1",
        "logistic loss with labels ±1",
        _logistic_pm1,
        _logistic_pm1_grad,
        _w_X_ypm,
        r"\textstyle\sum_i\ln\big(1 + e^{-y_i x_i^\top w}\big)",
        r"-X^\top\big(y\odot\sigma(-y\odot Xw)\big)",
        "w",
        conditions=("labels_pm1",),
        note="The {0, 1}-label form of problem P2 with y ↦ (y + 1)/2.",
        source="Hastie, Tibshirani & Friedman, The Elements of Statistical Learning (2nd ed., "
        "2009), §4.4",
    ),
    E(
        "logistic_bias",
        "logistic loss, in the intercept",
        _logistic_bias,
        lambda b, w, X, y: jnp.sum(sigmoid(X @ w + b) - y),
        _b_w_X_y01,
        r"\textstyle\sum_i\operatorname{softplus}(a_i) - y_ia_i,\ a = Xw + b",
        r"\textstyle\sum_i\big(\sigma(a_i) - y_i\big)",
        "b",
        conditions=("labels_01",),
        note="Zero at the optimum: the mean prediction matches the mean label.",
        source="derived here",
    ),
    E(
        "ridge",
        "ridge regression",
        lambda w, X, y: jnp.sum((y - X @ w) ** 2) + LAM * (w @ w),
        lambda w, X, y: 2 * (X @ w - y) @ X + 2 * LAM * w,
        _w_X_y,
        r"\|y - Xw\|_2^2 + \lambda\|w\|_2^2,\ \lambda = 0.7",
        r"2X^\top(Xw - y) + 2\lambda w",
        "w",
        note="Zero at w = (XᵀX + λI)⁻¹Xᵀy.",
        source="Hoerl & Kennard, 'Ridge regression', Technometrics 12 (1970)",
    ),
    E(
        "lasso_smooth",
        "the lasso's smooth part",
        lambda w, X, y: 0.5 * jnp.sum((y - X @ w) ** 2),
        lambda w, X, y: (X @ w - y) @ X,
        _w_X_y,
        r"\tfrac12\|y - Xw\|_2^2",
        r"X^\top(Xw - y)",
        "w",
        note="The gradient step of proximal gradient (ISTA/FISTA) before soft-thresholding.",
        source="Beck & Teboulle, 'A fast iterative shrinkage-thresholding algorithm', SIAM J. "
        "Imaging Sci. 2 (2009)",
    ),
    E(
        "lasso_nonzero",
        "lasso objective away from zero weights",
        lambda w, X, y: 0.5 * jnp.sum((y - X @ w) ** 2) + LAM * jnp.sum(jnp.abs(w)),
        lambda w, X, y: (X @ w - y) @ X + LAM * jnp.sign(w),
        _w_nonzero_X_y,
        r"\tfrac12\|y - Xw\|_2^2 + \lambda\|w\|_1,\ \lambda = 0.7",
        r"X^\top(Xw - y) + \lambda\operatorname{sign}(w)",
        "w",
        conditions=("nonzero_entries",),
        note="At a zero weight only a subgradient exists; that is where the lasso's sparsity comes "
        "from.",
        source="Tibshirani, 'Regression shrinkage and selection via the lasso', JRSS B 58 (1996)",
    ),
    E(
        "elastic_net",
        "elastic net away from zero weights",
        lambda w, X, y: (
            0.5 * jnp.sum((y - X @ w) ** 2) + LAM1 * jnp.sum(jnp.abs(w)) + 0.5 * LAM2 * (w @ w)
        ),
        lambda w, X, y: (X @ w - y) @ X + LAM1 * jnp.sign(w) + LAM2 * w,
        _w_nonzero_X_y,
        r"\tfrac12\|y - Xw\|_2^2 + \lambda_1\|w\|_1 + \tfrac{\lambda_2}2\|w\|_2^2",
        r"X^\top(Xw - y) + \lambda_1\operatorname{sign}(w) + \lambda_2 w",
        "w",
        conditions=("nonzero_entries",),
        source="Zou & Hastie, 'Regularization and variable selection via the elastic net', "
        "JRSS B 67 (2005)",
        note="The lasso plus ridge; away from zero weights both are smooth.",
    ),
    E(
        "huber_regression",
        "Huber regression",
        lambda w, X, y: jnp.sum(_huber(y - X @ w)),
        lambda w, X, y: -(_psi(y - X @ w) @ X),
        _w_X_y_huber,
        r"\textstyle\sum_i h_\delta(y_i - x_i^\top w),\ "
        r"h_\delta(r) = \begin{cases}\tfrac12 r^2 & |r|\le\delta\\ \delta(|r| - \tfrac\delta2) "
        r"& |r| > \delta\end{cases}",
        r"-X^\top\psi_\delta(y - Xw),\ \psi_\delta(r) = \operatorname{clip}(r, -\delta, \delta)",
        "w",
        conditions=("away_from_kinks",),
        note="Once differentiable everywhere (ψ is continuous); δ = 1.",
        source=HUBER,
    ),
    E(
        "huber_residual",
        "Huber loss, in the residuals",
        lambda r: jnp.sum(_huber(r)),
        _psi,
        _r_huber,
        r"\textstyle\sum_i h_\delta(r_i)",
        r"\psi_\delta(r) = \operatorname{clip}(r, -\delta, \delta)",
        "r",
        conditions=("away_from_kinks",),
        source=HUBER,
        note="ψ clips the residual: quadratic inside δ, linear outside.",
    ),
    E(
        "pseudo_huber",
        "pseudo-Huber loss",
        _pseudo_huber,
        lambda r: r / jnp.sqrt(1 + (r / DELTA) ** 2),
        _r_huber,
        r"\textstyle\sum_i\delta^2\big(\sqrt{1 + (r_i/\delta)^2} - 1\big)",
        r"r\oslash\sqrt{1 + (r/\delta)^2}",
        "r",
        note="A smooth Huber: quadratic near 0, linear far out.",
        source="Charbonnier et al., 'Two deterministic half-quadratic regularization algorithms "
        "for computed imaging', ICIP (1994)",
    ),
    E(
        "log_cosh_regression",
        "log-cosh regression",
        lambda w, X, y: jnp.sum(jnp.logaddexp(y - X @ w, X @ w - y) - jnp.log(2.0)),
        lambda w, X, y: -(jnp.tanh(y - X @ w) @ X),
        _w_X_y,
        r"\textstyle\sum_i\ln\cosh(y_i - x_i^\top w)",
        r"-X^\top\tanh(y - Xw)",
        "w",
        note="ln cosh r = logaddexp(r, -r) - ln 2: stable for large |r|.",
        source="derived here",
    ),
    E(
        "poisson_regression",
        "Poisson regression (log link)",
        lambda w, X, y: jnp.sum(jnp.exp(X @ w) - y * (X @ w)),
        lambda w, X, y: (jnp.exp(X @ w) - y) @ X,
        _w_X_y_small,
        r"\textstyle\sum_i e^{x_i^\top w} - y_ix_i^\top w",
        r"X^\top\big(e^{Xw} - y\big)",
        "w",
        note="The negative log-likelihood up to the constant Σ ln y_i!.",
        source="McCullagh & Nelder, Generalized Linear Models (2nd ed., 1989)",
    ),
    E(
        "squared_hinge",
        "squared hinge loss",
        _sq_hinge,
        _sq_hinge_grad,
        _w_X_ypm_hinge,
        r"\textstyle\sum_i\max(0, 1 - y_ix_i^\top w)^2",
        r"-2X^\top\big(y\odot\max(0, 1 - y\odot Xw)\big)",
        "w",
        conditions=("labels_pm1", "away_from_kinks"),
        note="Once differentiable (the plain hinge is not).",
        source="derived here",
    ),
    E(
        "weighted_least_squares",
        "weighted least squares",
        lambda w, X, y, W: (y - X @ w) @ W @ (y - X @ w),
        lambda w, X, y, W: -2 * (W @ (y - X @ w)) @ X,
        _w_X_y_W,
        r"(y - Xw)^\top W(y - Xw)",
        r"-2X^\top W(y - Xw)",
        "w",
        conditions=("spd",),
        source="derived here",
        note="Generalised least squares with W the inverse noise covariance.",
    ),
    E(
        "multi_output_least_squares",
        "least squares with several outputs",
        lambda B, X, Y: jnp.sum((Y - X @ B) ** 2),
        lambda B, X, Y: -2 * X.T @ (Y - X @ B),
        _B_X_Y,
        r"\|Y - XB\|_F^2",
        r"-2X^\top(Y - XB)",
        "B",
        source="Matrix Cookbook (2012), eq. (119), its A, X, B, C being X, B, I, -Y here",
        note="One least-squares problem per column of Y, solved together.",
    ),
    E(
        "rayleigh_quotient",
        "Rayleigh quotient (PCA's objective)",
        _rayleigh,
        _rayleigh_grad,
        _w_S,
        r"r(w) = \frac{w^\top Sw}{w^\top w}",
        r"\frac{2}{w^\top w}\big(Sw - r(w)\,w\big)",
        "w",
        conditions=("symmetric", "nonzero"),
        note="Zero exactly at eigenvectors of S; maximised by the top principal direction.",
        source="Horn & Johnson, Matrix Analysis (2nd ed., 2013), §4.2",
    ),
    E(
        "pca_variance",
        "variance captured by a projection",
        lambda W, S: jnp.trace(W.T @ S @ W),
        lambda W, S: 2 * S @ W,
        _W_S,
        r"\operatorname{tr}(W^\top SW)",
        "2SW",
        "W",
        conditions=("symmetric",),
        note="S is a covariance; under WᵀW = I its maximisers span the top eigenvectors.",
        source="Matrix Cookbook (2012), eq. (108) with a symmetric matrix",
    ),
    E(
        "pca_reconstruction",
        "PCA reconstruction error",
        _pca_recon,
        _pca_recon_grad,
        _W_X,
        r"\|X - XWW^\top\|_F^2",
        r"-4CW + 2CWW^\top W + 2WW^\top CW,\ C = X^\top X",
        "W",
        note="For orthonormal W it is -2(I - WWᵀ)CW.",
        source="derived here",
    ),
    E(
        "matrix_factorization_U",
        "matrix factorisation, in the left factor",
        lambda U, V, X: jnp.sum((X - U @ V.T) ** 2),
        lambda U, V, X: -2 * (X - U @ V.T) @ V,
        _U_V_X,
        r"\|X - UV^\top\|_F^2",
        r"-2(X - UV^\top)V",
        "U",
        source=KOREN,
        note="The residual times the other factor; alternating least squares sets it to zero for U.",
    ),
    E(
        "matrix_factorization_V",
        "matrix factorisation, in the right factor",
        lambda V, U, X: jnp.sum((X - U @ V.T) ** 2),
        lambda V, U, X: -2 * (X - U @ V.T).T @ U,
        _V_U_X,
        r"\|X - UV^\top\|_F^2",
        r"-2(X - UV^\top)^\top U",
        "V",
        source=KOREN,
        note="The transposed residual times U.",
    ),
    E(
        "matrix_completion",
        "masked, regularised matrix factorisation",
        _mf_masked,
        lambda U, V, X, M: -2 * (M * (X - U @ V.T)) @ V + 2 * LAM * U,
        _U_V_X_mask,
        r"\|M\odot(X - UV^\top)\|_F^2 + \lambda\|U\|_F^2",
        r"-2\big(M\odot(X - UV^\top)\big)V + 2\lambda U",
        "U",
        note="M is the 0/1 mask of observed entries (collaborative filtering).",
        source=KOREN,
    ),
    E(
        "least_squares_residual_X",
        "least-squares residual as a function of the design (variable projection)",
        _ls_residual,
        _ls_residual_grad,
        _X_y_tall,
        r"\min_w\|y - Xw\|_2^2 = \|(I - XX^+)y\|_2^2",
        r"-2\,r\,w^\top,\ w = X^+y,\ r = y - Xw",
        "X",
        conditions=("full_column_rank",),
        note="w's own change does not enter: ∂/∂w vanishes at the optimum (envelope theorem).",
        source=GOLUB_PEREYRA,
    ),
    # -- second-order entries --
    E(
        "logsumexp_hessian",
        "Hessian of log-sum-exp",
        lambda z: jax.nn.logsumexp(z),
        lambda z: jnp.diag(softmax(z)) - jnp.outer(softmax(z), softmax(z)),
        _z,
        r"\operatorname{LSE}(z)",
        r"\operatorname{diag}(s) - ss^\top,\ s = \operatorname{softmax}(z)",
        "z",
        kind="hessian",
        note="Positive semidefinite with 1 in its null space: LSE is convex, flat along 1.",
        source=GOODFELLOW,
    ),
    E(
        "ridge_hessian",
        "Hessian of ridge regression",
        lambda w, X, y: jnp.sum((y - X @ w) ** 2) + LAM * (w @ w),
        lambda w, X, y: 2 * (X.T @ X + LAM * jnp.eye(X.shape[1], dtype=X.dtype)),
        _w_X_y,
        r"\|y - Xw\|_2^2 + \lambda\|w\|_2^2",
        r"2(X^\top X + \lambda I)",
        "w",
        kind="hessian",
        note="The penalty lifts every eigenvalue by 2λ.",
        source="Hoerl & Kennard (1970)",
    ),
    E(
        "logistic_pm1_hessian",
        "Hessian of the logistic loss with labels ±1",
        _logistic_pm1,
        _logistic_pm1_hessian,
        _w_X_ypm,
        r"\textstyle\sum_i\ln\big(1 + e^{-y_ix_i^\top w}\big)",
        r"X^\top\operatorname{diag}\big(\sigma(m)\odot(1 - \sigma(m))\big)X,\ m = y\odot Xw",
        "w",
        conditions=("labels_pm1",),
        kind="hessian",
        note="y_i² = 1 removes the labels; Newton's method uses it.",
        source="Hastie, Tibshirani & Friedman (2009), §4.4.1",
    ),
    E(
        "matrix_factorization_U_hessian",
        "Hessian of matrix factorisation in the left factor",
        lambda U, V, X: jnp.sum((X - U @ V.T) ** 2),
        _mf_U_hessian,
        _U_V_X,
        r"\|X - UV^\top\|_F^2",
        r"\frac{\partial^2 f}{\partial U_{ij}\partial U_{kl}} = 2\,\delta_{ik}(V^\top V)_{lj}",
        "U",
        kind="hessian",
        note="Rows of U decouple: block diagonal with blocks 2VᵀV (alternating least squares).",
        source=KOREN,
    ),
]
