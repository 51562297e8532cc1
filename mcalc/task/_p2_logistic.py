"""The P2 task: logistic regression with an L2 penalty, labels in {0, 1}.

Loss, closed-form gradient and Hessian are :func:`mcalc.logistic_l2` and its
neighbours; the exact solvers are :mod:`mcalc.solvers`' Newton and L-BFGS; the
reference is scikit-learn's ``LogisticRegression(C=1/(2λ))``, whose optimum is the same.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import problems as P
from ._linear import init_linear, intercept_mask, margin
from ._task import Hyper, Reference, Solution, Solver, Task

__all__ = ["TASK"]


def loss(params, X, y, *, lam):
    return P.logistic_l2(params["w"], X, y, lam=lam)


def grad(params, X, y, *, lam):
    return {"w": P.logistic_l2_grad(params["w"], X, y, lam=lam)}


def hessian(params, X, y, *, lam):
    return P.logistic_l2_hessian(params["w"], X, y, lam=lam)


def predict(params, X):
    """P(y = 1 | x) = σ(xᵀw)."""
    return jax.nn.sigmoid(margin(params, X))


def accuracy(params, X, y):
    # σ(a) > 1/2 ⇔ a > 0, read off the margin: σ rounds to exactly 1/2 for tiny |a|.
    return jnp.mean(((margin(params, X) > 0).astype(y.dtype) == y).astype(X.dtype))


def penalty(params, *, lam):
    w = params["w"]
    return lam * jnp.dot(w, w)


def _solver(name: str):
    def solve(X, y, *, params, tol, max_iter, intercept, lam):
        from .. import solvers

        fn = solvers.logistic_newton if name == "newton" else solvers.logistic_lbfgs
        tol = solvers.default_tol(X.dtype) if tol is None else tol
        res = fn(X, y, lam=lam, w0=params["w"], tol=tol, max_iter=max_iter)
        info = {
            "n_iter": int(res.n_iter),
            "grad_max": float(res.grad_norm),
            "converged": bool(res.converged),
            "tol": float(tol),
            "loss": float(res.loss),
            "rule": "‖∇L‖∞/N ≤ tol (mcalc.solvers, scikit-learn's tol)",
        }
        n, ok = int(res.n_iter), bool(res.converged)
        summary = (
            f"{name} {'converged' if ok else 'did not converge'} in {n} iterations "
            f"(‖∇L‖∞/N = {float(res.grad_norm):.3g} {'≤' if ok else '>'} tol {float(tol):g})"
        )
        return Solution({"w": res.w}, n, ok, info, summary)

    return solve


def sklearn_fit(X, y, *, intercept, lam):
    """scikit-learn's ``LogisticRegression(C=1/(2λ), fit_intercept=False)``: the same optimum
    (its objective is ``C Σ loss + ½‖w‖²``). With an intercept column, scikit-learn fits it
    unpenalised (``fit_intercept=True`` on the other columns), as mcalc does."""
    from sklearn.linear_model import LogisticRegression

    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    C = 1.0 / (2.0 * lam) if lam > 0 else np.inf
    kw = {"C": C} if np.isfinite(C) else {"penalty": None}
    model = LogisticRegression(fit_intercept=intercept, tol=1e-10, max_iter=10_000, **kw).fit(
        X[:, :-1] if intercept else X, y
    )
    w = model.coef_.ravel()
    return {"w": np.concatenate([w, model.intercept_]) if intercept else w}


TASK = Task(
    name="p2",
    title="P2 logistic regression + L2",
    loss=loss,
    grad=grad,
    init=init_linear,
    predict=predict,
    labels="binary",
    hyper={
        "lam": Hyper(
            1.0, ge=0.0, help="λ ≥ 0 of the penalty λ‖w‖² (the intercept is not penalised)"
        )
    },
    metrics={"accuracy": accuracy},
    penalty=penalty,
    unpenalized=intercept_mask,
    solvers={
        "newton": Solver(
            _solver("newton"), "Newton's method (mcalc.logistic_newton)", intercept=False
        ),
        "lbfgs": Solver(_solver("lbfgs"), "L-BFGS (mcalc.logistic_lbfgs)", intercept=False),
    },
    hessian=hessian,
    reference=Reference("scikit-learn LogisticRegression(C=1/(2λ))", sklearn_fit),
    flops=lambda batch, D, **_: 8.0 * batch * D,  # Xw and rᵀX, multiply-adds counted twice
    # L2-logistic regression on standardised breast cancer, full-batch heavy-ball GD.
    defaults={
        "data": {"source": "breast_cancer"},
        "model": {"lam": 1.0, "init_scale": 0.0},
        "optimizer": {"name": "sgd", "learning_rate": 0.5, "args": {"momentum": 0.9}},
        "train": {"steps": 2000, "log_every": 50, "checkpoint_every": 1000, "tol": 1e-6},
    },
)
