"""The record that ties a function to its closed-form gradient and its inputs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

Sampler = Callable[[jax.Array, Any], tuple[Any, ...]]


@dataclasses.dataclass(frozen=True)
class Derivation:
    """One verified derivation: a scalar function, its closed-form gradient, and inputs.

    Attributes:
      name: unique registry key, e.g. ``"logistic_l2"``.
      problem: the problem of ``spec/problems.md`` it belongs to, ``"P1"`` .. ``"P7"``.
      f: the scalar function ``f(*args)``.
      grad: the closed form of ``jax.grad(f, argnums=argnum)(*args)``.
      argnum: which positional argument the gradient is taken in (an int, or
        ``None`` when ``f`` and ``grad`` take a pytree as argument 0 and the
        gradient is a pytree of the same structure).
      sample: ``sample(key, dtype) -> args``; valid random inputs of random sizes.
      formula: LaTeX of the function.
      grad_formula: LaTeX of the gradient.
      wrt: name of the argument the gradient is taken in, for tables.
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
