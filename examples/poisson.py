"""Poisson regression with an L2 penalty, as a task of your own: mcalc trains, sweeps,
resumes, verifies, reports and predicts with it exactly as with the built-in tasks.

.. math::
   L(w) = \\sum_i \\big[e^{x_i^\\top w} - y_i\\, x_i^\\top w\\big] + \\lambda \\lVert w\\rVert^2,
   \\qquad \\nabla L = X^\\top\\big(e^{Xw} - y\\big) + 2\\lambda w

(the negative log-likelihood of ``y_i ~ Poisson(exp(x_iᵀw))`` up to the constant
``Σ ln y_i!``). Its optimum is scikit-learn's ``PoissonRegressor(alpha=2λ/N,
fit_intercept=False)``, whose objective is ``(1/2N) Σ deviance + (α/2)‖w‖²``.

Use it from a config (``task: poisson.py:poisson``, a path relative to the config
file) or from Python (``mcalc.train(poisson, ...)``).
"""

import jax.numpy as jnp
import numpy as np

import mcalc


def loss(params, X, y, *, lam):
    a = X @ params["w"]
    return jnp.sum(jnp.exp(a) - y * a) + lam * jnp.dot(params["w"], params["w"])


def grad(params, X, y, *, lam):
    a = X @ params["w"]
    return {"w": (jnp.exp(a) - y) @ X + 2 * lam * params["w"]}


def init(key, D, *, lam):
    return {"w": jnp.zeros(D)}


def predict(params, X):
    """The Poisson mean ``exp(xᵀw)`` of each sample."""
    return jnp.exp(X @ params["w"])


def penalty(params, *, lam):
    return lam * jnp.dot(params["w"], params["w"])


def deviance(params, X, y):
    """The mean Poisson deviance ``(2/N) Σ [y ln(y/μ) - (y - μ)]`` (0 for a perfect fit)."""
    mu = predict(params, X)
    ylogy = jnp.where(y > 0, y * jnp.log(jnp.where(y > 0, y, 1.0) / mu), 0.0)
    return 2.0 * jnp.mean(ylogy - (y - mu))


def synthetic(rng, n_samples, n_features, noise, **hyper):
    """Counts ``y ~ Poisson(exp(xᵀw))`` with ``X ~ N(0, I)``, ``w ~ N(0, 0.3² I)``."""
    X = rng.standard_normal((n_samples, n_features))
    w = 0.3 * rng.standard_normal(n_features)
    return X, rng.poisson(np.exp(X @ w)).astype(float)


def sklearn_fit(X, y, *, intercept, lam):
    from sklearn.linear_model import PoissonRegressor

    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    model = PoissonRegressor(
        alpha=2 * lam / len(y), fit_intercept=False, tol=1e-12, max_iter=10_000
    ).fit(X, y)
    return {"w": model.coef_}


poisson = mcalc.Task(
    name="poisson",
    title="Poisson regression + L2",
    loss=loss,
    grad=grad,
    init=init,
    predict=predict,
    labels="real",
    hyper={"lam": mcalc.Hyper(1.0, ge=0.0, help="λ ≥ 0 of the penalty λ‖w‖²")},
    metrics={"deviance": deviance},
    penalty=penalty,
    reference=mcalc.Reference("scikit-learn PoissonRegressor(alpha=2λ/N)", sklearn_fit),
    synthetic=synthetic,
    defaults={
        "data": {"source": "synthetic", "n_samples": 1000, "n_features": 5, "standardize": False},
        "optimizer": {"name": "lbfgs", "learning_rate": 1.0},
        "train": {"steps": 200, "log_every": 10, "checkpoint_every": 100, "tol": 1e-10},
    },
)
