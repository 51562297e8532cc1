"""Softmax (multinomial logistic) regression with an L2 penalty, as a task of your own.

Labels are class indices ``y_i ∈ {0, ..., K-1}`` (the ``"categorical"`` label kind,
with ``K`` the static hyperparameter ``n_classes``); ``Y`` is their one-hot matrix.

.. math::
   L(W) = -\\sum_i \\ln \\operatorname{softmax}(W^\\top x_i)_{y_i} + \\lambda \\lVert W\\rVert_F^2,
   \\qquad \\nabla L = X^\\top\\big(\\operatorname{softmax}(XW) - Y\\big) + 2\\lambda W

with ``W: [D, K]``. Its optimum is scikit-learn's multinomial
``LogisticRegression(C=1/(2λ), fit_intercept=False)``.
"""

import jax
import jax.numpy as jnp
import numpy as np

import mcalc


def _onehot(y, K):
    return jax.nn.one_hot(y.astype(jnp.int32), K, dtype=y.dtype)


def loss(params, X, y, *, lam, n_classes):
    W = params["W"]
    logp = jax.nn.log_softmax(X @ W, axis=-1)
    return -jnp.sum(_onehot(y, n_classes) * logp) + lam * jnp.sum(W * W)


def grad(params, X, y, *, lam, n_classes):
    W = params["W"]
    return {"W": X.T @ (jax.nn.softmax(X @ W, axis=-1) - _onehot(y, n_classes)) + 2 * lam * W}


def init(key, D, *, lam, n_classes):
    return {"W": jnp.zeros((D, n_classes))}


def predict(params, X):
    """Class probabilities ``softmax(XW)``, ``[N, K]``."""
    return jax.nn.softmax(X @ params["W"], axis=-1)


def penalty(params, *, lam, n_classes):
    return lam * jnp.sum(params["W"] ** 2)


def synthetic(rng, n_samples, n_features, noise, *, n_classes, **_):
    """Classes drawn from a random softmax teacher at temperature ``noise`` (0: its argmax)."""
    X = rng.standard_normal((n_samples, n_features))
    logits = 3.0 * X @ rng.standard_normal((n_features, n_classes)) / np.sqrt(n_features)
    if noise == 0:
        return X, np.argmax(logits, axis=1).astype(float)
    p = np.exp((logits - logits.max(axis=1, keepdims=True)) / noise)
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(n_classes, p=row) for row in p])
    return X, y.astype(float)


def sklearn_fit(X, y, *, intercept, lam, n_classes):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1 / (2 * lam), fit_intercept=False, tol=1e-12, max_iter=10_000)
    model.fit(np.asarray(X, np.float64), np.asarray(y).astype(int))
    W = np.zeros((X.shape[1], n_classes))
    W[:, model.classes_] = model.coef_.T  # sklearn's columns are the classes it saw
    return {"W": W}


softmax = mcalc.Task(
    name="softmax",
    title="softmax regression + L2",
    loss=loss,
    grad=grad,
    init=init,
    predict=predict,
    labels="categorical",
    hyper={
        "lam": mcalc.Hyper(1.0, gt=0.0, help="λ > 0 of the penalty λ‖W‖²"),
        "n_classes": mcalc.Hyper(3, ge=2, static=True, help="number of classes K"),
    },
    penalty=penalty,
    reference=mcalc.Reference("scikit-learn LogisticRegression (multinomial)", sklearn_fit),
    synthetic=synthetic,
    defaults={
        "data": {"source": "synthetic", "n_samples": 600, "n_features": 4, "noise": 0.5},
        "optimizer": {"name": "lbfgs", "learning_rate": 1.0},
        "train": {"steps": 300, "log_every": 10, "checkpoint_every": 100, "tol": 1e-9},
    },
)
