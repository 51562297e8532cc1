"""Second derivatives: a claimed Hessian or Hessian-vector product against autodiff in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._check import run_check
from ._report import GradCheckReport

__all__ = ["check_hessian", "check_hvp"]


def check_hessian(
    f: Callable[..., Any],
    hess_f: Callable[..., Any],
    *args: Any,
    argnum: int = 0,
    trials: int = 5,
    seed: int = 0,
    sampler: Callable[..., Any] | None = None,
    dtype: Any = None,
    fixed: Sequence[int] = (),
    rtol: float | None = None,
    atol: float | None = None,
    fd: bool = True,
) -> GradCheckReport:
    """Check a claimed Hessian ``hess_f`` of a scalar function ``f`` against float64 autodiff.

    .. math:: \\text{hess\\_f}(x_1, \\dots, x_n) \\overset{?}{=}
              \\frac{\\partial^2 f(x_1, \\dots, x_n)}{\\partial x_{\\text{argnum}}^2}

    The Hessian in one array argument ``x`` of shape ``s`` has shape ``s + s``
    (``[n, n]`` for a vector); ``[n, n]`` with ``n = x.size`` (``x`` flattened in
    row-major order) is accepted for any ``s``. Points, tolerances and the report
    are those of :func:`mcalc.check_grad`. The reference is ``jax.hessian(f)`` in
    float64 for a JAX ``f``, ``torch.autograd`` for a PyTorch one, and mixed
    second differences of ``f`` in float64 for anything else (NumPy, SciPy);
    finite differences of the gradient along every unit vector are the second
    opinion.

    On failure ``report.diagnosis`` says how the Hessian is wrong: not symmetric
    (by how much, and whether its symmetric part is right); off by a sign, a
    constant factor, or the transpose of an index pair (a Hessian in a matrix);
    a missing or extra multiple of the identity (the ``2λI`` of a penalty, with
    its coefficient); symmetric positive semi-definite where the true Hessian is
    indefinite (the Gauss-Newton part ``JᵀJ`` alone, the second-order term of the
    residuals missing); right only for symmetric inputs, or at the given point
    only; or where the error sits.

    Args:
      f: scalar function ``f(*args)``: JAX, PyTorch or NumPy/SciPy code.
      hess_f: the claimed Hessian ``hess_f(*args)``, shaped ``s + s`` or ``[n, n]``.
      *args: the point to check at (see :func:`mcalc.check_grad`).
      argnum: the argument differentiated, an array.
      trials, seed, sampler, dtype, fixed, rtol, atol, fd: as for :func:`mcalc.check_grad`.

    Returns:
      A :class:`mcalc.GradCheckReport` with ``kind == "hessian"``.

    Raises:
      ValueError: ``f`` does not return a scalar, ``argnum`` does not select one
        array argument, ``trials < 1``, neither ``args`` nor ``sampler`` is given.
      TypeError: ``f``/``hess_f``/``sampler`` is not callable, or the argument
        differentiated is not floating.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> f = lambda w: jnp.sum(jnp.sin(w)) + 0.5 * w @ w
      >>> w = jnp.array([0.3, -1.2, 2.0])
      >>> mcalc.check_hessian(f, lambda w: jnp.diag(1 - jnp.sin(w)), w).ok
      True
      >>> print(mcalc.check_hessian(f, lambda w: jnp.diag(-jnp.sin(w)), w).diagnosis)
      The claimed Hessian misses a multiple of the identity: claimed - jax.hessian = -1 × I at every point (a forgotten 1·I, like the 2λI of a penalty λ‖w‖² with λ = 0.5).
    """
    return run_check(
        "mcalc.check_hessian",
        f,
        hess_f,
        args,
        order="hessian",
        argnum=argnum,
        trials=trials,
        seed=seed,
        sampler=sampler,
        dtype=dtype,
        fixed=fixed,
        rtol=rtol,
        atol=atol,
        fd=fd,
    )


def check_hvp(
    f: Callable[..., Any],
    hvp_f: Callable[..., Any],
    *args: Any,
    argnum: int | Sequence[int] = 0,
    trials: int = 5,
    seed: int = 0,
    sampler: Callable[..., Any] | None = None,
    dtype: Any = None,
    fixed: Sequence[int] = (),
    rtol: float | None = None,
    atol: float | None = None,
    fd: bool = True,
    v: Any = None,
) -> GradCheckReport:
    """Check a claimed Hessian-vector product ``hvp_f(*args, v) = ∇²f v`` against float64 autodiff.

    .. math:: \\text{hvp\\_f}(x_1, \\dots, x_n, v) \\overset{?}{=}
              \\nabla^2_{x_{\\text{argnum}}} f(x_1, \\dots, x_n)\\, v

    ``v`` and the result are shaped like the differentiated argument (a pytree
    for a pytree argument). At every point the check draws a random ``v`` on the
    scale of each leaf (``v=`` fixes it at the given point). The reference is
    forward-over-reverse autodiff, ``jax.jvp(jax.grad(f), (x,), (v,))``, in
    float64 (``torch.autograd`` for a PyTorch ``f``; mixed second differences of
    ``f`` along ``v`` for NumPy/SciPy code); finite differences of the gradient
    along ``v`` are the second opinion.

    The diagnoses are those of :func:`mcalc.check_hessian`, for the operator
    ``v ↦ hvp_f(*args, v)``: off by a transpose (a matrix argument), a sign or a
    factor; a missing or extra multiple of the identity (``claimed - H v = β v``);
    and, for arguments of up to 64 entries, where the operator is rebuilt from
    unit vectors: not symmetric, or only the Gauss-Newton part.

    Args:
      f: scalar function ``f(*args)``.
      hvp_f: the claimed product ``hvp_f(*args, v)``, shaped like ``args[argnum]``.
      *args: the point to check at (see :func:`mcalc.check_grad`).
      argnum: the argument (or tuple of arguments) differentiated.
      trials, seed, sampler, dtype, fixed, rtol, atol, fd: as for :func:`mcalc.check_grad`.
      v: the direction at the given point, shaped like the differentiated
        argument (default: random).

    Returns:
      A :class:`mcalc.GradCheckReport` with ``kind == "hvp"``.

    Raises:
      ValueError: as :func:`mcalc.check_grad`; ``v`` not shaped like the argument.
      TypeError: as :func:`mcalc.check_grad`.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> X = jnp.array([[1.0, 2.0], [0.5, -1.0]])
      >>> f = lambda X: jnp.trace(X @ X @ X)  # HVP: 3 (XV + VX)ᵀ
      >>> mcalc.check_hvp(f, lambda X, V: 3 * (X @ V + V @ X).T, X).ok
      True
      >>> print(mcalc.check_hvp(f, lambda X, V: 3 * (X @ V + V @ X), X).diagnosis)
      The claimed Hessian-vector product is off by a transpose: claimed = (jvp(jax.grad))ᵀ at every point.
    """
    return run_check(
        "mcalc.check_hvp",
        f,
        hvp_f,
        args,
        order="hvp",
        argnum=argnum,
        trials=trials,
        seed=seed,
        sampler=sampler,
        dtype=dtype,
        fixed=fixed,
        rtol=rtol,
        atol=atol,
        fd=fd,
        v=v,
    )
