"""The P7 task: the two-layer residual sigmoid network, squared loss, labels in {0, 1}.

The forward pass runs through the flax module :class:`mcalc.ResidualNet` (built from
the parameter dict, so training stays a pure function of arrays); the closed-form
gradient is :func:`mcalc.resnet_grad`, the delta rule.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from .. import problems as P
from ..models import ResidualNet
from ._task import Hyper, Task

__all__ = ["TASK"]


def predict(params, X):
    """``g = σ(w2ᵀ(x + σ(W1 σ(W0 x))))``, the probability of class 1."""
    return ResidualNet.from_params(params)(X)


def loss(params, X, y, *, hidden):
    return 0.5 * jnp.sum((predict(params, X) - y) ** 2)


def grad(params, X, y, *, hidden):
    return P.resnet_grad(params, X, y)


def init(key, D, *, hidden):
    """LeCun-normal (``ResidualNet``'s own), drawn in float32 whatever JAX's x64 setting."""
    from flax import nnx

    return ResidualNet(D, hidden, rngs=nnx.Rngs(params=key), dtype=jnp.float32).params()


def synthetic(rng, n_samples, n_features, noise, **_):
    """Labels of a random teacher network (hidden width 8) on ``X ~ N(0, I)``, centred at the
    median so that both classes are equally common; ``y ~ Bernoulli(σ(a/noise))``."""
    from ..data._sources import _sigmoid, labels_from_scores

    X = rng.standard_normal((n_samples, n_features))
    m = 8
    W0 = 2.0 * rng.standard_normal((m, n_features)) / math.sqrt(n_features)
    W1 = 2.0 * rng.standard_normal((n_features, m)) / math.sqrt(m)
    w2 = rng.standard_normal(n_features)
    a = (X + _sigmoid(_sigmoid(X @ W0.T) @ W1.T)) @ w2
    return X, labels_from_scores(rng, a - np.median(a), noise)


TASK = Task(
    name="p7",
    title="P7 residual network",
    loss=loss,
    grad=grad,
    init=init,
    predict=predict,
    labels="binary",
    hyper={
        "hidden": Hyper(
            16,
            ge=1,
            static=True,
            help="hidden width M of the residual network (D comes from the data)",
        )
    },
    # three [b, D] x [D, M]-sized products forward, about twice that backward
    flops=lambda batch, D, *, hidden: 18.0 * batch * D * hidden,
    synthetic=synthetic,
    # The residual network on breast cancer: minibatch Adam with a cosine schedule, float32.
    defaults={
        "data": {"source": "breast_cancer", "dtype": "float32"},
        "model": {"hidden": 16, "init_scale": 1.0},
        "optimizer": {
            "name": "adam",
            "learning_rate": None,
            "schedule": {
                "name": "cosine_decay_schedule",
                "args": {"init_value": 0.01, "decay_steps": 2000},
            },
        },
        "train": {"steps": 2000, "batch_size": 64, "log_every": 100, "checkpoint_every": 1000},
    },
)
