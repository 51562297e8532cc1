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
      problem: the problem it belongs to, ``"P1"`` .. ``"P7"`` (see the docs' problem page).
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

    :func:`mcalc.derivations` returns the built-in ones; :func:`mcalc.verify` checks any
    (``derivations=[...]``), each row one check at points drawn by ``sample``.

    Example:
      >>> import jax, jax.numpy as jnp, mcalc
      >>> cube = mcalc.Derivation(
      ...     name="sum_cubed", problem="mine", f=lambda x: jnp.sum(x**3),
      ...     grad=lambda x: 3 * x**2, argnum=0,
      ...     sample=lambda key, dtype: (jax.random.normal(key, (3,), dtype),),
      ...     formula=r"\\sum_i x_i^3", grad_formula="3x^2", wrt="x",
      ... )
      >>> mcalc.verify(derivations=[cube], dtypes=["float64"], trials=2).ok
      True
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
        """The shapes of the array leaves of ``args``, for tables.

        Args:
          args: a tuple of arguments (pytrees of arrays), e.g. from ``sample``.

        Returns:
          The shapes, ``x``-joined per leaf and space-separated, ``()`` for a scalar.

        Example:
          >>> import jax.numpy as jnp, mcalc
          >>> mcalc.derivations()["quadratic_form"].sizes((jnp.ones(4), jnp.ones((4, 4))))
          '4 4x4'
        """
        leaves = jax.tree_util.tree_leaves(args)
        return " ".join("x".join(str(d) for d in leaf.shape) or "()" for leaf in leaves)
