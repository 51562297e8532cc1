"""The P4 task: Gaussian maximum likelihood for linear regression (the NLL in ``w``), real targets.

Loss and closed-form gradient are :func:`mcalc.gaussian_nll` and
:func:`mcalc.gaussian_nll_grad`; the closed-form optimum (and the exact solver
``closed_form``) is :func:`mcalc.least_squares`, ``w* = X⁺y``; the reference is
scikit-learn's ``LinearRegression``.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import problems as P
from ._linear import init_linear, margin
from ._task import Hyper, Reference, Solution, Solver, Task

__all__ = ["TASK"]


def loss(params, X, y, *, sigma2):
    return P.gaussian_nll(params["w"], X, y, sigma2=sigma2)


def grad(params, X, y, *, sigma2):
    return {"w": P.gaussian_nll_grad(params["w"], X, y, sigma2=sigma2)}


def hessian(params, X, y, *, sigma2):
    return P.gaussian_nll_hessian(params["w"], X, y, sigma2=sigma2)


def predict(params, X):
    return margin(params, X)


def optimum(X, y, *, intercept, sigma2):
    """``w* = X⁺y`` (it does not depend on σ²)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", P.RankDeficientWarning)  # the closed_form solver reports it
        return {"w": P.least_squares(X, y).w}


def closed_form(X, y, *, params, tol, max_iter, intercept, sigma2):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", P.RankDeficientWarning)
        res = P.least_squares(X, y)
    info = {
        "rank": int(res.rank),
        "full_rank": bool(res.full_rank),
        "sigma2_mle": float(res.sigma2),
        "warnings": [str(w.message) for w in caught],
    }
    summary = f"closed form (rank {int(res.rank)} of {X.shape[1]}, σ²* = {float(res.sigma2):.4g})"
    return Solution({"w": res.w}, 1, True, info, summary)


def sklearn_fit(X, y, *, intercept, sigma2):
    """scikit-learn's ``LinearRegression``: the least-squares ``w*`` (σ² does not move it)."""
    from sklearn.linear_model import LinearRegression

    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    model = LinearRegression(fit_intercept=intercept).fit(X[:, :-1] if intercept else X, y)
    w = model.coef_.ravel()
    return {"w": np.concatenate([w, [model.intercept_]]) if intercept else w}


TASK = Task(
    name="p4",
    title="P4 Gaussian linear regression",
    loss=loss,
    grad=grad,
    init=init_linear,
    predict=predict,
    labels="real",
    hyper={"sigma2": Hyper(1.0, gt=0.0, help="noise variance σ² > 0 of the Gaussian likelihood")},
    optimum=optimum,
    hessian=hessian,
    solvers={
        "closed_form": Solver(
            closed_form, "w* = (XᵀX)⁻¹Xᵀy by Cholesky, the SVD's X⁺y when rank-deficient"
        )
    },
    reference=Reference("scikit-learn LinearRegression", sklearn_fit),
    flops=lambda batch, D, **_: 8.0 * batch * D,
    # Gaussian linear regression on diabetes: GD on the NLL, compared with the closed form.
    defaults={
        "data": {"source": "diabetes", "intercept": True},
        "model": {"sigma2": 1.0, "init_scale": 0.0},
        "optimizer": {"name": "sgd", "learning_rate": 0.1, "args": {"momentum": 0.9}},
        "train": {"steps": 2000, "log_every": 50, "checkpoint_every": 1000, "gap_tol": 1e-9},
    },
)
