"""The trainable tasks: each problem's loss, closed-form gradient, initial parameters and metrics.

Parameters are a dict pytree: ``{"w": [D']}`` for the linear tasks (P2, P3, P4),
``{"W0": [M, D], "W1": [D, M], "w2": [D]}`` for P7. Every loss is the spec's *sum*
over samples; ``lam_scale`` scales P2's penalty so that a minibatch of ``B`` of the
``N`` training samples gives an unbiased estimate of ``(B/N) · L``:
``Σ_batch ℓ_i + (B/N) λ‖w‖²``.

The gradients are the closed forms of :mod:`mcalc.problems` (``grad="closed_form"``)
or ``jax.grad`` of the same loss (``grad="autodiff"``). P7 runs through the flax
module :class:`mcalc.ResidualNet` (built from the parameter dict with
``ResidualNet.from_params``, so training stays a pure function of arrays).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .. import problems as P
from ..models import ResidualNet

__all__ = ["Task", "TASKS", "get_task"]

Params = dict[str, jax.Array]
Hyper = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Task:
    """One trainable problem.

    Attributes:
      name: ``"p2"`` .. ``"p7"``.
      title: a short human name.
      metric: ``"accuracy"`` (classification) or ``"mse"`` (regression).
      hyper: the model hyperparameters it reads (``"model.lam"``, ``"model.sigma2"``).
      loss: ``loss(params, X, y, hyper, lam_scale, pen_mask) -> scalar``, the spec's sum loss.
      grad: the closed form of ``jax.grad(loss)``, same signature.
      score: ``score(params, X) -> [N]``, the model's output (for metrics).
    """

    name: str
    title: str
    metric: str
    hyper: tuple[str, ...]
    loss: Callable[..., jax.Array]
    grad: Callable[..., Params]
    score: Callable[[Params, jax.Array], jax.Array]


# --- P2: logistic regression + L2 ------------------------------------------------


def _p2_loss(params, X, y, hyper, lam_scale, pen_mask):
    w = params["w"]
    lam = hyper["model.lam"] * lam_scale
    loss = P.logistic_l2(w, X, y, lam=lam)
    if pen_mask is not None:  # the intercept is not penalised: take its share back out
        loss = loss - lam * jnp.sum((1 - pen_mask) * w * w)
    return loss


def _p2_grad(params, X, y, hyper, lam_scale, pen_mask):
    w = params["w"]
    lam = hyper["model.lam"] * lam_scale
    g = P.logistic_l2_grad(w, X, y, lam=lam)
    if pen_mask is not None:
        g = g - (2 * lam) * (1 - pen_mask) * w
    return {"w": g}


def _linear_score(params, X):
    return X @ params["w"]


# --- P3: bipolar sigmoid + squared loss ----------------------------------------------


def _p3_loss(params, X, y, hyper, lam_scale, pen_mask):
    return P.bipolar_squared(params["w"], X, y)


def _p3_grad(params, X, y, hyper, lam_scale, pen_mask):
    return {"w": P.bipolar_squared_grad(params["w"], X, y)}


# --- P4: Gaussian linear regression ------------------------------------------------


def _p4_loss(params, X, y, hyper, lam_scale, pen_mask):
    return P.gaussian_nll(params["w"], X, y, sigma2=hyper["model.sigma2"])


def _p4_grad(params, X, y, hyper, lam_scale, pen_mask):
    return {"w": P.gaussian_nll_grad(params["w"], X, y, sigma2=hyper["model.sigma2"])}


# --- P7: the residual network, through the flax module -------------------------------


def _p7_score(params, X):
    return ResidualNet.from_params(params)(X)


def _p7_loss(params, X, y, hyper, lam_scale, pen_mask):
    g = _p7_score(params, X)
    return 0.5 * jnp.sum((g - y) ** 2)


def _p7_grad(params, X, y, hyper, lam_scale, pen_mask):
    return P.resnet_grad(params, X, y)


TASKS: dict[str, Task] = {
    "p2": Task(
        "p2",
        "P2 logistic regression + L2",
        "accuracy",
        ("model.lam",),
        _p2_loss,
        _p2_grad,
        _linear_score,
    ),
    "p3": Task(
        "p3", "P3 bipolar sigmoid, squared loss", "accuracy", (), _p3_loss, _p3_grad, _linear_score
    ),
    "p4": Task(
        "p4",
        "P4 Gaussian linear regression",
        "mse",
        ("model.sigma2",),
        _p4_loss,
        _p4_grad,
        _linear_score,
    ),
    "p7": Task("p7", "P7 residual network", "accuracy", (), _p7_loss, _p7_grad, _p7_score),
}


def get_task(name: str) -> Task:
    return TASKS[name]


def init_params(
    task: str, key: jax.Array, dim: int, hidden: int, init_scale: jax.Array, dtype: Any
) -> Params:
    """Initial parameters: ``init_scale`` times a random draw (zero at ``init_scale = 0``).

    Linear tasks: ``w ~ init_scale · N(0, I/D')``. P7: ``init_scale`` times the
    LeCun-normal initialisation of :class:`mcalc.ResidualNet`.
    """
    if task == "p7":
        from flax import nnx

        net = ResidualNet(dim, hidden, rngs=nnx.Rngs(params=key), dtype=dtype)
        return jax.tree.map(lambda a: (init_scale * a).astype(dtype), net.params())
    w = jax.random.normal(key, (dim,), dtype) / jnp.sqrt(jnp.asarray(dim, dtype))
    return {"w": (init_scale * w).astype(dtype)}


def accuracy_or_mse(task: Task, params: Params, X: jax.Array, y: jax.Array) -> jax.Array:
    """The task metric: accuracy for classification, mean squared error for regression."""
    s = task.score(params, X)
    if task.name == "p2":
        pred = (s > 0).astype(y.dtype)  # σ(a) > 1/2  ⇔  a > 0
    elif task.name == "p3":
        pred = jnp.where(s >= 0, 1, -1).astype(y.dtype)  # sign of tanh(a/2)
    elif task.name == "p7":
        pred = (s > 0.5).astype(y.dtype)
    else:
        return jnp.mean((s - y) ** 2)
    return jnp.mean((pred == y).astype(s.dtype))
