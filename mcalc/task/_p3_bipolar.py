"""The P3 task: a bipolar-sigmoid unit ``f = tanh(xᵀw/2)`` with the squared loss, labels in {-1, 1}.

Loss and closed-form gradient are :func:`mcalc.bipolar_squared` and
:func:`mcalc.bipolar_squared_grad`.
"""

from __future__ import annotations

import jax.numpy as jnp

from .. import problems as P
from ._linear import init_linear, margin
from ._task import Task

__all__ = ["TASK"]


def loss(params, X, y):
    return P.bipolar_squared(params["w"], X, y)


def grad(params, X, y):
    return {"w": P.bipolar_squared_grad(params["w"], X, y)}


def hessian(params, X, y):
    return P.bipolar_squared_hessian(params["w"], X, y)


def predict(params, X):
    """``f = tanh(xᵀw / 2)`` in (-1, 1); its sign is the predicted class."""
    return P.bipolar_sigmoid(margin(params, X))


def accuracy(params, X, y):
    # sign(tanh(a/2)) = sign(a), read off the margin.
    pred = jnp.where(margin(params, X) >= 0, 1, -1).astype(y.dtype)
    return jnp.mean((pred == y).astype(X.dtype))


TASK = Task(
    name="p3",
    title="P3 bipolar sigmoid, squared loss",
    loss=loss,
    grad=grad,
    init=init_linear,
    predict=predict,
    labels="pm1",
    metrics={"accuracy": accuracy},
    hessian=hessian,
    flops=lambda batch, D, **_: 8.0 * batch * D,
    # The bipolar sigmoid unit on breast cancer, labels mapped {0,1} -> {-1,1} explicitly.
    defaults={
        "data": {"source": "breast_cancer", "relabel": "to_pm1"},
        "model": {"init_scale": 0.0},
        "optimizer": {"name": "sgd", "learning_rate": 0.5, "args": {"momentum": 0.9}},
        "train": {"steps": 2000, "log_every": 50, "checkpoint_every": 1000},
    },
)
