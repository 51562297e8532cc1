"""The record that ties a function to its closed-form derivative and its inputs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

Sampler = Callable[[jax.Array, Any], tuple[Any, ...]]


@dataclasses.dataclass(frozen=True)
class Derivation:
    """One verified derivation: a scalar function, its closed-form derivative, and inputs.

    Attributes:
      name: unique registry key, e.g. ``"logistic_l2"``.
      problem: the problem it belongs to, ``"P1"`` .. ``"P7"``.
      f: the scalar function ``f(*args)``.
      grad: the closed form; what it computes depends on ``kind``: the gradient
        ``jax.grad(f, argnums=argnum)(*args)`` (``"gradient"``), the Hessian
        ``hess(*args)`` shaped ``arg.shape + arg.shape`` (``"hessian"``), or the
        Hessian-vector product ``hvp(*args, v)``, shaped like the argument
        (``"hvp"``).
      argnum: which positional argument the derivative is taken in (an int; the
        argument may be a pytree, e.g. a dict of parameters, and the gradient or
        HVP is then a pytree of the same structure).
      sample: ``sample(key, dtype) -> args``; valid random inputs of random sizes.
      formula: LaTeX of the function.
      grad_formula: LaTeX of the closed form.
      wrt: name of the argument the derivative is taken in, for tables.
      kind: ``"gradient"`` (default), ``"hessian"`` or ``"hvp"``; ``mcalc verify``
        checks it with :func:`mcalc.check_grad`, :func:`mcalc.check_hessian` or
        :func:`mcalc.check_hvp`.
    """

    name: str
    problem: str
    f: Callable[..., jax.Array]
    grad: Callable[..., Any]
    argnum: int
    sample: Sampler
    formula: str
    grad_formula: str
    wrt: str
    kind: str = "gradient"

    def sizes(self, args: tuple[Any, ...]) -> str:
        """A short description of the sizes of ``args``, e.g. ``"X[5,5]"``."""
        leaves = jax.tree_util.tree_leaves(args)
        return " ".join("x".join(str(d) for d in leaf.shape) or "()" for leaf in leaves)
