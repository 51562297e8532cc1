"""A task's closed form as a derivation: what ``mcalc verify --task MODULE:NAME`` checks.

The check runs at random points, never only at the initial parameters (where a
missing ``2λθ`` is invisible at ``θ = 0``): each point draws a small data set of the
task's kind (its own synthetic generator, else a random linear model made into
labels), parameters from ``init`` plus a random perturbation of every entry, and
each traced hyperparameter from around its default, inside its declared range. The
data and the hyperparameters are held fixed while the parameters are differentiated.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._task import Hyper, Task

__all__ = ["task_derivations"]


def _draw_hyper(h: Hyper, rng: np.random.Generator) -> float:
    """A value near the default, inside the declared range (the default when none fits)."""
    base = h.default if h.default != 0 else 0.5
    for _ in range(20):
        value = float(base * math.exp(rng.normal(0.0, 0.5)))
        try:
            return float(h.check("x", value))
        except ValueError:
            continue
    return float(h.default)


def task_derivations(task: Task) -> list[Any]:
    """The :class:`mcalc.Derivation` records that check ``task``'s closed forms: its gradient
    against ``jax.grad`` of its loss and finite differences, and its Hessian (when it declares
    one, over the flattened parameters) against ``jax.hessian``.

    Raises:
      ValueError: for a task with no closed-form gradient (nothing to verify).
    """
    from ..data._sources import synthetic
    from ..problems import Derivation

    if task.grad is None:
        raise ValueError(
            f"mcalc.verify: task {task.name!r} has no closed-form gradient (Task.grad is None): "
            "it trains with jax.grad, so there is nothing to verify."
        )
    static = {n: task.hyper[n].default for n in task.static_hyper}
    traced = task.traced_hyper

    def kw(h: Any) -> dict[str, Any]:
        return {**dict(zip(traced, h, strict=True)), **static}

    def f(params, X, y, h):
        return task.loss(params, X, y, **kw(h))

    def grad(params, X, y, h):
        return task.grad(params, X, y, **kw(h))

    def sample(key: jax.Array, dtype: Any) -> tuple[Any, ...]:
        seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        n, d = int(rng.integers(5, 30)), int(rng.integers(1, 6))
        defaults = task.hyper_defaults()  # what a config without overrides gives the generator
        raw = synthetic(task, n_samples=n, n_features=d, noise=1.0, seed=seed, hyper=defaults)
        hyper = tuple(_draw_hyper(task.hyper[name], rng) for name in traced)
        params = task.init(jax.random.key_data(key) if _typed(key) else key, d, **kw(hyper))
        leaves, tree = jax.tree.flatten(params)
        noise = [rng.normal(0.0, 0.5, np.shape(x)) for x in leaves]
        params = jax.tree.unflatten(
            tree,
            [
                jnp.asarray(np.asarray(x, np.float64) + e, dtype)
                for x, e in zip(leaves, noise, strict=True)
            ],
        )
        return (
            params,
            jnp.asarray(raw.X, dtype),
            jnp.asarray(raw.y, dtype),
            tuple(jnp.asarray(v, dtype) for v in hyper),
        )

    formula = f"{task.name}.loss(params, X, y)"
    out = [
        Derivation(
            name=f"{task.name}.grad",
            problem=f"task {task.name}",
            f=f,
            grad=grad,
            argnum=0,
            sample=sample,
            formula=formula,
            grad_formula=f"{task.name}.grad(params, X, y)",
            wrt="params",
        )
    ]
    if task.hessian is not None:
        out.append(_hessian_derivation(task, f, kw, sample, formula))
    return out


def _hessian_derivation(task: Task, f: Any, kw: Any, sample: Any, formula: str) -> Any:
    """The task's closed-form Hessian over the flattened parameters, as a derivation."""
    from jax.flatten_util import ravel_pytree

    from ..problems import Derivation

    def flat_sample(key: jax.Array, dtype: Any) -> tuple[Any, ...]:
        params, X, y, h = sample(key, dtype)
        theta, _ = ravel_pytree(params)
        return theta, X, y, h, params

    def unravel(theta: Any, like: Any) -> Any:
        return ravel_pytree(like)[1](theta)

    def f_flat(theta, X, y, h, like):
        return f(unravel(theta, like), X, y, h)

    def hess_flat(theta, X, y, h, like):
        return task.hessian(unravel(theta, like), X, y, **kw(h))

    return Derivation(
        name=f"{task.name}.hessian",
        problem=f"task {task.name}",
        f=f_flat,
        grad=hess_flat,
        argnum=0,
        sample=flat_sample,
        formula=formula,
        grad_formula=f"{task.name}.hessian(params, X, y)",
        wrt="params",
        kind="hessian",
    )


def _typed(key: Any) -> bool:
    return jax.dtypes.issubdtype(getattr(key, "dtype", None), jax.dtypes.prng_key)
