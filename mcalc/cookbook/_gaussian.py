"""The multivariate Gaussian: log-likelihood in the mean, covariance, precision; KL; mixtures.

For samples ``x_1 .. x_N`` (rows of ``X``) of ``N(μ, Σ)``:

    ℓ(μ, Σ) = -Nd/2 ln 2π - N/2 ln det Σ - ½ Σ_i (x_i - μ)ᵀ Σ⁻¹ (x_i - μ)

With ``S = Σ_i (x_i - μ)(x_i - μ)ᵀ`` the gradients are ``∂ℓ/∂μ = Σ⁻¹ Σ_i (x_i - μ)``,
``∂ℓ/∂Σ = ½(Σ⁻¹SΣ⁻¹ - NΣ⁻¹)`` and, in the precision ``Λ = Σ⁻¹``,
``∂ℓ/∂Λ = ½(NΛ⁻¹ - S)``. The functions are written with LU-based ``slogdet`` and
``solve``, defined for every nearby matrix, so the check's finite differences can
leave the symmetric matrices; at a symmetric point the gradients are symmetric.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._entry import make
from ._samplers import reordered, sampler

SECTION = "gaussian"
E = functools.partial(make, SECTION)
BISHOP = "Bishop, Pattern Recognition and Machine Learning (2006), §2.3.4"
LOG_2PI = math.log(2 * math.pi)

inv = jnp.linalg.inv


def _logdet(S):
    return jnp.linalg.slogdet(S)[1]


def _loglik(mu, Sigma, X):
    R = X - mu[None, :]
    n, d = X.shape
    quad = jnp.sum(R * jnp.linalg.solve(Sigma, R.T).T)
    return -0.5 * n * d * LOG_2PI - 0.5 * n * _logdet(Sigma) - 0.5 * quad


def _scatter(mu, X):
    R = X - mu[None, :]
    return R.T @ R


def _loglik_precision(Lam, mu, X):
    n, d = X.shape
    S = _scatter(mu, X)
    return -0.5 * n * d * LOG_2PI + 0.5 * n * _logdet(Lam) - 0.5 * jnp.sum(Lam * S)


def _kl(mu0, S0, mu1, S1):
    d = mu0.shape[0]
    delta = mu1 - mu0
    S1i = inv(S1)
    return 0.5 * (jnp.trace(S1i @ S0) + delta @ S1i @ delta - d + _logdet(S1) - _logdet(S0))


def _gmm_terms(M, X, Sigmas, logits):
    """``Σ_k⁻¹(x_i - μ_k)`` [N, K, d] and ``ln π_k + ln N(x_i | μ_k, Σ_k)`` [N, K]."""
    R = X[:, None, :] - M[None, :, :]
    K, d = M.shape
    sol = jnp.stack([jnp.linalg.solve(Sigmas[k], R[:, k].T).T for k in range(K)], axis=1)
    quad = jnp.sum(R * sol, axis=-1)
    logdets = jnp.stack([_logdet(Sigmas[k]) for k in range(K)])
    logp = jax.nn.log_softmax(logits)[None, :] - 0.5 * (d * LOG_2PI + logdets[None, :] + quad)
    return sol, logp


def _gmm_loglik(M, X, Sigmas, logits):
    """Σ_i ln Σ_k π_k N(x_i | μ_k, Σ_k), means ``M`` [K, d], ``π = softmax(logits)``."""
    return jnp.sum(jax.nn.logsumexp(_gmm_terms(M, X, Sigmas, logits)[1], axis=1))


def _gmm_means_grad(M, X, Sigmas, logits):
    sol, logp = _gmm_terms(M, X, Sigmas, logits)
    gamma = jax.nn.softmax(logp, axis=1)  # responsibilities [N, K]
    return jnp.sum(gamma[:, :, None] * sol, axis=0)  # Σ_i γ_ik Σ_k⁻¹ (x_i - μ_k)


# -- samplers ---------------------------------------------------------------------------


@sampler
def _mu_Sigma_X(d):
    dim, n = d.size(2, 4), d.size(2, 6)
    mu = d.normal(dim)
    return mu, d.spd(dim), mu + d.normal(n, dim)


@sampler
def _L_mu_X(d):
    dim, n = d.size(2, 4), d.size(2, 6)
    mu = d.normal(dim)
    return d.lower_triangular(dim), mu, mu + d.normal(n, dim)


@sampler
def _s_mu_X(d):
    dim, n = d.size(2, 4), d.size(2, 6)
    mu = d.normal(dim)
    return d.normal(dim, scale=0.3), mu, mu + d.normal(n, dim)


@sampler
def _kl_args(d):
    dim = d.size(2, 4)
    return d.normal(dim), d.spd(dim), d.normal(dim), d.spd(dim)


_Sigma_mu_X = reordered(_mu_Sigma_X, 1, 0, 2)
_X_mu_Sigma = reordered(_mu_Sigma_X, 2, 0, 1)
_kl_S0 = reordered(_kl_args, 1, 0, 2, 3)
_kl_S1 = reordered(_kl_args, 3, 0, 1, 2)


@sampler
def _spd(d):
    return (d.spd(d.size(2, 4)),)


@sampler
def _gmm(d):
    K, dim, n = d.size(2, 3), d.size(2, 3), d.size(3, 6)
    M = d.normal(K, dim)
    X = M[d.rng.integers(0, K, n)] + 0.7 * d.normal(n, dim)
    Sigmas = np.stack([d.spd(dim) for _ in range(K)])
    return M, X, Sigmas, d.normal(K, scale=0.5)


# -- closed forms -------------------------------------------------------------------------


def _grad_mu(mu, Sigma, X):
    return jnp.linalg.solve(Sigma, jnp.sum(X - mu[None, :], axis=0))


def _grad_Sigma(Sigma, mu, X):
    Si = inv(Sigma)
    return 0.5 * (Si @ _scatter(mu, X) @ Si - X.shape[0] * Si)


def _grad_X(X, mu, Sigma):
    return -jnp.linalg.solve(Sigma, (X - mu[None, :]).T).T


def _grad_L(L, mu, X):
    Si = inv(L @ L.T)
    return (Si @ _scatter(mu, X) @ Si - X.shape[0] * Si) @ L


def _loglik_diag(s, mu, X):
    # Σ = diag(σ²), σ = exp(s): the log-standard-deviation parametrisation.
    R = X - mu[None, :]
    n, d = X.shape
    return -0.5 * n * d * LOG_2PI - n * jnp.sum(s) - 0.5 * jnp.sum(R**2 * jnp.exp(-2 * s)[None, :])


def _grad_diag(s, mu, X):
    R = X - mu[None, :]
    return -X.shape[0] + jnp.sum(R**2, axis=0) * jnp.exp(-2 * s)


def _kl_grad_S1(S1, mu0, S0, mu1):
    delta = mu1 - mu0
    S1i = inv(S1)
    return 0.5 * (S1i - S1i @ (S0 + jnp.outer(delta, delta)) @ S1i)


ENTRIES = [
    E(
        "gauss_mean",
        "Gaussian log-likelihood, in the mean",
        lambda mu, Sigma, X: _loglik(mu, Sigma, X),
        _grad_mu,
        _mu_Sigma_X,
        r"\ell(\mu) = -\tfrac N2\ln\det(2\pi\Sigma) - \tfrac12\sum_i (x_i - \mu)^\top\Sigma^{-1}(x_i - \mu)",
        r"\Sigma^{-1}\textstyle\sum_i (x_i - \mu)",
        "mu",
        conditions=("spd",),
        note="Zero at the sample mean: the maximum-likelihood μ.",
        source=BISHOP,
    ),
    E(
        "gauss_covariance",
        "Gaussian log-likelihood, in the covariance",
        lambda Sigma, mu, X: _loglik(mu, Sigma, X),
        _grad_Sigma,
        _Sigma_mu_X,
        r"\ell(\Sigma),\ S = \textstyle\sum_i (x_i - \mu)(x_i - \mu)^\top",
        r"\tfrac12\big(\Sigma^{-1}S\Sigma^{-1} - N\Sigma^{-1}\big)",
        "Sigma",
        conditions=("spd",),
        note="Zero at Σ = S/N: the maximum-likelihood covariance.",
        source=BISHOP,
    ),
    E(
        "gauss_precision",
        "Gaussian log-likelihood, in the precision",
        _loglik_precision,
        lambda Lam, mu, X: 0.5 * (X.shape[0] * inv(Lam) - _scatter(mu, X)),
        _Sigma_mu_X,
        r"\ell(\Lambda) = \tfrac N2\ln\det\Lambda - \tfrac12\operatorname{tr}(\Lambda S) "
        r"- \tfrac{Nd}2\ln 2\pi",
        r"\tfrac12\big(N\Lambda^{-1} - S\big)",
        "Lambda",
        conditions=("spd",),
        note="Concave in Λ: the precision is the natural parameter.",
        source=BISHOP,
    ),
    E(
        "gauss_score",
        "Gaussian log-likelihood, in the samples (the score)",
        lambda X, mu, Sigma: _loglik(mu, Sigma, X),
        _grad_X,
        _X_mu_Sigma,
        r"\ell(X)",
        r"-(X - \mathbf 1\mu^\top)\Sigma^{-1}",
        "X",
        conditions=("spd",),
        note="Row i is -Σ⁻¹(x_i - μ), the score ∇ₓ ln p(x) used by score matching and Langevin "
        "sampling.",
        source=BISHOP,
    ),
    E(
        "gauss_cholesky",
        "Gaussian log-likelihood, in a Cholesky factor of the covariance",
        lambda L, mu, X: _loglik(mu, L @ L.T, X),
        _grad_L,
        _L_mu_X,
        r"\ell(L),\ \Sigma = LL^\top",
        r"\big(\Sigma^{-1}S\Sigma^{-1} - N\Sigma^{-1}\big)L",
        "L",
        conditions=("lower_triangular",),
        note="The chain rule through Σ = LLᵀ: (G + Gᵀ)L with G = ∂ℓ/∂Σ symmetric. "
        "jax.grad varies the whole of L; for triangular L keep the lower triangle.",
        source="derived here",
    ),
    E(
        "gauss_diag_logstd",
        "diagonal Gaussian log-likelihood, in the log standard deviations",
        _loglik_diag,
        _grad_diag,
        _s_mu_X,
        r"\ell(s),\ \Sigma = \operatorname{diag}(e^{2s})",
        r"-N\mathbf 1 + \textstyle\sum_i (x_i - \mu)^{\odot 2}\odot e^{-2s}",
        "s",
        note="The parametrisation of variational autoencoders' encoders.",
        source="derived here",
    ),
    E(
        "gauss_kl_mean",
        "KL divergence between Gaussians, in the first mean",
        _kl,
        lambda mu0, S0, mu1, S1: jnp.linalg.solve(S1, mu0 - mu1),
        _kl_args,
        r"\mathrm{KL}(\mathcal N_0\,\|\,\mathcal N_1) = \tfrac12\big[\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) "
        r"+ \delta^\top\Sigma_1^{-1}\delta - d + \ln\tfrac{\det\Sigma_1}{\det\Sigma_0}\big],\ "
        r"\delta = \mu_1 - \mu_0",
        r"\Sigma_1^{-1}(\mu_0 - \mu_1)",
        "mu0",
        conditions=("spd",),
        source="derived here",
        note="Σ₁⁻¹ pulls μ₀ towards μ₁.",
    ),
    E(
        "gauss_kl_cov0",
        "KL divergence between Gaussians, in the first covariance",
        lambda S0, mu0, mu1, S1: _kl(mu0, S0, mu1, S1),
        lambda S0, mu0, mu1, S1: 0.5 * (inv(S1) - inv(S0)),
        _kl_S0,
        r"\mathrm{KL}(\mathcal N_0\,\|\,\mathcal N_1)",
        r"\tfrac12\big(\Sigma_1^{-1} - \Sigma_0^{-1}\big)",
        "Sigma0",
        conditions=("spd",),
        source="derived here",
        note="Zero at Σ₀ = Σ₁.",
    ),
    E(
        "gauss_kl_cov1",
        "KL divergence between Gaussians, in the second covariance",
        lambda S1, mu0, S0, mu1: _kl(mu0, S0, mu1, S1),
        _kl_grad_S1,
        _kl_S1,
        r"\mathrm{KL}(\mathcal N_0\,\|\,\mathcal N_1)",
        r"\tfrac12\big(\Sigma_1^{-1} - \Sigma_1^{-1}(\Sigma_0 + \delta\delta^\top)\Sigma_1^{-1}\big)",
        "Sigma1",
        conditions=("spd",),
        source="derived here",
        note="Zero at Σ₁ = Σ₀ + δδᵀ: moment matching.",
    ),
    E(
        "gauss_entropy",
        "differential entropy of a Gaussian",
        lambda S: 0.5 * _logdet(2 * math.pi * math.e * S),
        lambda S: 0.5 * inv(S),
        _spd,
        r"h(\Sigma) = \tfrac12\ln\det(2\pi e\,\Sigma)",
        r"\tfrac12\Sigma^{-1}",
        "Sigma",
        conditions=("spd",),
        source="derived here",
        note="Depends on Σ only through ln det Σ.",
    ),
    E(
        "gmm_means",
        "Gaussian-mixture log-likelihood, in the means",
        _gmm_loglik,
        _gmm_means_grad,
        _gmm,
        r"\textstyle\sum_i\ln\sum_k\pi_k\,\mathcal N(x_i\mid\mu_k,\Sigma_k)",
        r"\Big[\textstyle\sum_i\gamma_{ik}\,\Sigma_k^{-1}(x_i - \mu_k)\Big]_{k},\ "
        r"\gamma_{ik} = \frac{\pi_k\mathcal N(x_i\mid\mu_k,\Sigma_k)}{\sum_j\pi_j\mathcal N(x_i\mid\mu_j,\Sigma_j)}",
        "M",
        conditions=("spd",),
        note="Row k of the gradient; the responsibilities γ are those of EM's E-step.",
        source="Bishop, Pattern Recognition and Machine Learning (2006), §9.2",
    ),
    # -- second-order entries --
    E(
        "gauss_mean_hessian",
        "Hessian of the Gaussian log-likelihood in the mean",
        lambda mu, Sigma, X: _loglik(mu, Sigma, X),
        lambda mu, Sigma, X: -X.shape[0] * inv(Sigma),
        _mu_Sigma_X,
        r"\ell(\mu)",
        r"-N\Sigma^{-1}",
        "mu",
        conditions=("spd",),
        kind="hessian",
        note="Constant: the log-likelihood is quadratic in μ.",
        source=BISHOP,
    ),
    E(
        "gauss_precision_hvp",
        "Hessian-vector product of the Gaussian log-likelihood in the precision",
        _loglik_precision,
        lambda Lam, mu, X, V: -0.5 * X.shape[0] * inv(Lam) @ V.T @ inv(Lam),
        _Sigma_mu_X,
        r"\ell(\Lambda)",
        r"H[V] = -\tfrac N2\Lambda^{-1}V^\top\Lambda^{-1}",
        "Lambda",
        conditions=("spd",),
        kind="hvp",
        note="Negative definite: ℓ is strictly concave in Λ.",
        source="derived here",
    ),
]
