"""Measure the cookbook's entries: ``mcalc.verify`` on their derivations.

A second-order entry goes through the Hessian/HVP checker when this build has one.
Until then it is measured through the gradient checker, by a reduction that is
exact: the Hessian applied to a direction ``v`` is the gradient of the scalar
``⟨∇f(x), v⟩`` in ``x``, so ``check_grad`` compares the closed-form ``H v`` with
``jax.grad`` of that scalar (float64) and with its finite differences, at a random
``v`` per point.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..check import GradCheckReport, check_grad
from ..problems import Derivation
from ..verify._verify import VerifyResult, checker_for, verify
from . import _registry
from ._entry import Entry

__all__ = ["measure", "check_published", "as_gradient_check", "REDUCTION_NOTE"]

REDUCTION_NOTE = (
    "second-order entries are measured as H·v, the gradient of ⟨∇f(x), v⟩ for a random v, "
    "through mcalc.check_grad"
)


@functools.cache
def as_gradient_check(d: Derivation) -> Derivation:
    """A second-order derivation as a gradient check: ``H v = ∇ₓ⟨∇f(x), v⟩``.

    The returned derivation takes the direction ``v`` as an extra last argument
    (drawn shaped like the differentiated argument); its closed form is the entry's
    HVP, or its Hessian contracted with ``v``. Cached, so that its compiled programs
    are reused.
    """
    grad_f = jax.grad(d.f, argnums=d.argnum)

    def f(*args):
        *xs, v = args
        return jnp.sum(grad_f(*xs) * v)

    if d.kind == "hvp":
        hv = d.grad
    else:

        def hv(*args):
            *xs, v = args
            return jnp.tensordot(d.grad(*xs), v, axes=v.ndim)

    def sample(key, dtype):
        args = tuple(d.sample(key, dtype))
        x = np.asarray(args[d.argnum])
        rng = np.random.default_rng([int(k) for k in np.asarray(jax.random.key_data(key)).ravel()])
        return (*args, rng.standard_normal(x.shape).astype(x.dtype))

    f.__name__ = f"{d.name}_directional"
    hv.__name__ = f"{d.name}_{d.kind}_v"
    return dataclasses.replace(d, f=f, grad=hv, sample=sample, kind="gradient")


def measurable(d: Derivation) -> Derivation:
    """``d`` itself when this build has a checker for its kind, else its gradient reduction."""
    return d if checker_for(d.kind) is not None else as_gradient_check(d)


def measure(
    names: Iterable[str] | None = None,
    *,
    dtypes: Sequence[Any] = ("float32", "float64"),
    trials: int = 3,
    seed: int = 0,
    workers: int | None = None,
) -> VerifyResult:
    """Verify cookbook entries now, second-order ones included (see the module docs).

    Args:
      names: entry names or patterns (as ``mcalc verify --only``); ``None`` for all.
      dtypes, trials, seed, workers: as :func:`mcalc.verify`.

    Returns:
      The :class:`mcalc.verify.VerifyResult`, one row per (entry, dtype).

    Raises:
      ValueError: a name that matches no entry; bad dtypes or trials.

    Example:
      >>> import mcalc
      >>> result = mcalc.cookbook.measure(["trace_XtBX_hessian"], dtypes=["float64"], trials=1)
      >>> result.ok, result.rows[0].name
      (True, 'trace_XtBX_hessian')
    """
    registry = {n: measurable(e.derivation) for n, e in _registry._registry().items()}
    return verify(
        dtypes=dtypes, trials=trials, seed=seed, names=names, derivations=registry, workers=workers
    )


def check_published(entry: Entry, *, trials: int = 3, seed: int = 0) -> list[GradCheckReport]:
    """:func:`mcalc.check_grad` of each published form of ``entry``, in float64.

    Each form is checked at its own inputs when it has them (a transcription that
    indexes samples by features needs as many samples as features), else at the
    entry's. A report that passes means the record is wrong: tests require failure.

    Example:
      >>> import mcalc
      >>> e = mcalc.cookbook.get("quadratic_form")
      >>> [r.ok for r in mcalc.cookbook.check_published(e)]
      [False, False]
    """
    return [
        check_grad(
            entry.f,
            p.grad,
            argnum=entry.argnum,
            sampler=p.sample or entry.sample,
            dtype="float64",
            trials=trials,
            seed=seed,
        )
        for p in entry.published
    ]
