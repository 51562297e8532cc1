"""Exact solvers for P2, L2-regularised logistic regression: Newton's method and L-BFGS.

.. math::
   \\min_w\\ L(w) = \\sum_i \\big[\\operatorname{softplus}(x_i^\\top w) - y_i x_i^\\top w\\big]
   + \\lambda\\lVert w\\rVert^2

Both run as one compiled ``lax.while_loop`` on the closed forms of
:mod:`mcalc.problems._p2_logistic` (``∇L = Xᵀ(σ(Xw) - y) + 2λw`` and
``∇²L = Xᵀ S X + 2λI``), never on ``jax.grad``.

Stopping rule (both solvers, the same as scikit-learn's lbfgs ``tol``): stop when

.. math:: \\frac{1}{N}\\lVert \\nabla L(w) \\rVert_\\infty \\le \\mathrm{tol},

the largest entry of the gradient of the *mean* loss ``L / N``. Dividing by ``N``
makes ``tol`` independent of the number of samples and of the starting point.

Performance: the loss, gradient and Hessian are summed over blocks of rows
(:func:`_sums`), so that one evaluation reads ``X`` from memory once: for a tall
``X`` both ``Xw`` and ``rᵀX`` (and ``Xᵀ S X``) are computed while a block is in
cache, where two separate products read ``X`` twice.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _validation as v
from ..problems._blocks import row_block_sum
from ..problems._p2_logistic import curvature, pointwise_loss, residual

__all__ = [
    "SolverResult",
    "logistic_newton",
    "logistic_lbfgs",
    "default_tol",
    "newton_core",
    "lbfgs_core",
    "lbfgs_solve",
    "lbfgs_memory",
    "carry_memory",
    "shift_penalty",
]


class SolverResult(NamedTuple):
    """What a solver returns (a pytree: it can leave a ``jit``).

    Attributes:
      w: ``[D]`` the weights found.
      n_iter: integer scalar, iterations taken (Newton steps or L-BFGS steps).
      grad_norm: scalar, ``‖∇L(w)‖_∞ / N`` at ``w``: the largest entry of the gradient
        of the mean loss, the quantity compared with ``tol``.
      converged: boolean scalar, ``grad_norm <= tol``. False when ``max_iter`` ran out
        or the solver could not make progress (see the solver's notes).
      loss: scalar, ``L(w)`` as :func:`mcalc.logistic_l2` computes it (a sum over samples).

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> res = mcalc.logistic_newton(jnp.array([[1.0], [-1.0]]), jnp.array([1.0, 0.0]))
      >>> int(res.n_iter) > 0, bool(res.converged), bool(res.grad_norm <= 1e-5)
      (True, True, True)
    """

    w: jax.Array
    n_iter: jax.Array
    grad_norm: jax.Array
    converged: jax.Array
    loss: jax.Array


# ---------------------------------------------------------------------------
# The closed forms, evaluated in one pass over X.

_CONTRACT_ROWS = (((0,), (0,)), ((), ()))
# Rows per block: about 2 MiB of X, so that a block read for Xw is still in cache for
# rᵀX. Measured at 200 000 x 100 float64 on the 2-core CPU: one blocked pass 14-16 ms
# against 39-47 ms for Xw then rᵀX; the blocked Xᵀ S X 155 ms against 252 ms.
_BLOCK_BYTES = 2 * 2**20


def _block_rows(X: jax.Array) -> int:
    return max(64, _BLOCK_BYTES // (X.shape[1] * X.dtype.itemsize))


def _sums(w: jax.Array, X: jax.Array, y: jax.Array, order: int) -> tuple[jax.Array, ...]:
    """The data terms of ``L`` (``order >= 0``), ``∇L`` (``>= 1``) and ``∇²L`` (``2``).

    ``Σ softplus(a) - y a``, ``(σ(a) - y) X`` and ``Xᵀ diag(σ(a)(1 - σ(a))) X`` (in the
    forms of :mod:`mcalc.problems._p2_logistic` that are exact at any margin) with
    ``a = Xw``, accumulated over blocks of rows so that ``X`` is read once.
    """

    def block(Xb: jax.Array, yb: jax.Array) -> tuple[jax.Array, ...]:
        a = Xb @ w
        # The margin-exact pointwise forms of mcalc.logistic_l2 and its closed forms.
        out = (jnp.sum(pointwise_loss(a, yb)),)
        if order >= 1:
            # r @ X, not X.T @ r: the fast layout for a tall X on the CPU.
            out += (residual(a, yb) @ Xb,)
        if order >= 2:
            out += (jax.lax.dot_general(Xb * curvature(a)[:, None], Xb, _CONTRACT_ROWS),)
        return out

    return row_block_sum(block, X, y, _block_rows(X))


def _value(w, X, y, lam):
    (f,) = _sums(w, X, y, 0)
    return f + lam * jnp.dot(w, w)


def _value_grad(w, X, y, lam):
    f, g = _sums(w, X, y, 1)
    return f + lam * jnp.dot(w, w), g + (2 * lam) * w


def _value_grad_hessian(w, X, y, lam):
    f, g, H = _sums(w, X, y, 2)
    H = H + (2 * lam) * jnp.eye(w.shape[0], dtype=H.dtype)
    return f + lam * jnp.dot(w, w), g + (2 * lam) * w, H


@jax.custom_vjp
def _objective(w, X, y, lam):
    """``L(w)`` whose derivative in ``w`` is the closed form (for optax's line search)."""
    return _value(w, X, y, lam)


def _objective_fwd(w, X, y, lam):
    f, g = _value_grad(w, X, y, lam)
    return f, g


def _objective_bwd(g, ct):
    # Only w is optimised; X, y and lam get no cotangent.
    return ct * g, None, None, None


_objective.defvjp(_objective_fwd, _objective_bwd)


def _grad_norm(g: jax.Array, n: int) -> jax.Array:
    return jnp.max(jnp.abs(g)) / n


# ---------------------------------------------------------------------------
# Pure cores: no validation, traceable, vmappable (used by the path solver).


def newton_core(
    X: jax.Array, y: jax.Array, lam: jax.Array, w0: jax.Array, tol: jax.Array, max_iter: int
) -> SolverResult:
    """Damped Newton's method; see :func:`logistic_newton`. Inputs already validated."""
    n = X.shape[0]
    eps = jnp.finfo(X.dtype).eps

    def cond(carry):
        w, f, g, H, k, failed = carry
        return (k < max_iter) & (_grad_norm(g, n) > tol) & ~failed

    def body(carry):
        w, f, g, H, k, _ = carry
        d = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(H, lower=True), g)
        gd = jnp.dot(g, d)  # the Newton decrement squared; > 0 when H is positive definite
        descent = jnp.isfinite(gd) & (gd > 0)
        # Armijo backtracking. The slack of a few ulps of f lets the last steps, whose
        # decrease is below the rounding error of the sum, be taken.
        slack = 16 * eps * jnp.abs(f)

        def armijo_fails(t, f_t):
            return ~(f_t <= f - 1e-4 * t * gd + slack)

        def ls_cond(s):
            t, f_t, j = s
            return descent & armijo_fails(t, f_t) & (j < 50)

        def ls_body(s):
            t, _, j = s
            t = t / 2
            return t, _value(w - t * d, X, y, lam), j + 1

        one = jnp.ones((), X.dtype)
        t, f_t, _ = jax.lax.while_loop(ls_cond, ls_body, (one, _value(w - d, X, y, lam), 0))
        ok = descent & ~armijo_fails(t, f_t)
        w_new = jnp.where(ok, w - t * d, w)
        # One pass over X gives f, ∇L and ∇²L at the new point; the Hessian of the
        # last point is not used (one spare O(N D²) product per solve).
        f_new, g_new, H_new = _value_grad_hessian(w_new, X, y, lam)
        return w_new, f_new, g_new, H_new, k + ok.astype(k.dtype), ~ok

    f0, g0, H0 = _value_grad_hessian(w0, X, y, lam)
    init = (w0, f0, g0, H0, jnp.zeros((), jnp.int32), jnp.zeros((), bool))
    w, f, g, _, k, _ = jax.lax.while_loop(cond, body, init)
    gn = _grad_norm(g, n)
    return SolverResult(w=w, n_iter=k, grad_norm=gn, converged=gn <= tol, loss=f)


def lbfgs_core(
    X: jax.Array,
    y: jax.Array,
    lam: jax.Array,
    w0: jax.Array,
    tol: jax.Array,
    max_iter: int,
    memory_size: int = 10,
) -> SolverResult:
    """``optax.lbfgs`` with its zoom line search; see :func:`logistic_lbfgs`."""
    return lbfgs_solve(X, y, lam, w0, tol, max_iter, memory_size)[0]


def lbfgs_memory(w: jax.Array, memory_size: int = 10) -> Any:
    """An empty L-BFGS memory (optax's state) for weights shaped like ``w``."""
    return optax.lbfgs(memory_size=memory_size).init(w)


def carry_memory(state: Any, lam_old: jax.Array, lam_new: jax.Array) -> Any:
    """The L-BFGS memory of a solve at ``lam_old``, made exact for ``lam_new``.

    The memory holds pairs ``s_i = w_{i+1} - w_i`` and ``y_i = ∇L(w_{i+1}) - ∇L(w_i)``
    and the last gradient seen. Only the penalty's part ``2λ s_i`` of ``y_i`` depends
    on ``λ`` (the data part does not), so ``y_i + 2(λ_new - λ_old) s_i`` is exactly the
    pair the solve would have stored at ``λ_new``: a warm-started solve starts with the
    curvature of its neighbour instead of a unit-length gradient step, whose line
    search took 5-12 evaluations at small ``λ`` (200 000 x 100: 346 evaluations for 99
    steps along a 32-penalty path).
    """
    shift = 2 * (lam_new - lam_old)
    S = optax.tree.get(state, "diff_params_memory")
    Y = optax.tree.get(state, "diff_updates_memory") + shift * S
    sy = jnp.sum(S * Y, axis=-1)
    # sᵀy >= 2 λ_new ‖s‖² >= 0 for the convex loss; an unused (zero) slot gets weight 0.
    rho = jnp.where(sy > 0, 1 / jnp.where(sy > 0, sy, 1), 0).astype(sy.dtype)
    last_grad = optax.tree.get(state, "updates") + shift * optax.tree.get(state, "params")
    return optax.tree.set(state, diff_updates_memory=Y, weights_memory=rho, updates=last_grad)


def shift_penalty(
    w: jax.Array, f: jax.Array, g: jax.Array, lam_old: jax.Array, lam_new: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """``L(w)`` and ``∇L(w)`` at ``lam_new`` from their values at ``lam_old``: only the
    penalty ``λ‖w‖²`` (gradient ``2λw``) changes, so no pass over ``X`` is needed."""
    shift = lam_new - lam_old
    return f + shift * jnp.dot(w, w), g + (2 * shift) * w


def lbfgs_solve(
    X: jax.Array,
    y: jax.Array,
    lam: jax.Array,
    w0: jax.Array,
    tol: jax.Array,
    max_iter: int,
    memory_size: int = 10,
    memory: Any = None,
    start: tuple[jax.Array, jax.Array] | None = None,
) -> tuple[SolverResult, Any, jax.Array]:
    """:func:`lbfgs_core` from a given L-BFGS ``memory`` (:func:`carry_memory`).

    Returns the result, the memory at the end and ``∇L`` at the solution.

    ``start``: ``(L(w0), ∇L(w0))`` when the caller knows them (a path does: see
    :func:`shift_penalty`), saving the first pass over ``X``.
    """
    n = X.shape[0]

    def value_fn(w):
        return _objective(w, X, y, lam)

    opt = optax.lbfgs(memory_size=memory_size)

    def cond(carry):
        w, state, f, g, k, stalled = carry
        return (k < max_iter) & (_grad_norm(g, n) > tol) & ~stalled

    def body(carry):
        w, state, f, g, k, _ = carry
        updates, state = opt.update(g, state, w, value=f, grad=g, value_fn=value_fn)
        w_new = optax.apply_updates(w, updates)
        # The line search leaves the value and gradient at the accepted point in its
        # state: reuse them instead of evaluating again (what value_and_grad_from_state
        # does, without its cond, which under vmap would copy X into every lane).
        f_new = optax.tree.get(state, "value")
        g_new = optax.tree.get(state, "grad")
        # A line search that cannot move (step 0, or a non-finite trial) ends the run.
        stalled = jnp.all(w_new == w) | ~jnp.isfinite(f_new)
        w_new, f_new, g_new = jax.tree.map(
            lambda new, old: jnp.where(jnp.isfinite(f_new), new, old),
            (w_new, f_new, g_new),
            (w, f, g),
        )
        return w_new, state, f_new, g_new, k + 1, stalled

    f0, g0 = _value_grad(w0, X, y, lam) if start is None else start
    state0 = opt.init(w0) if memory is None else memory
    init = (w0, state0, f0, g0, jnp.zeros((), jnp.int32), jnp.zeros((), bool))
    w, state, f, g, k, _ = jax.lax.while_loop(cond, body, init)
    gn = _grad_norm(g, n)
    return SolverResult(w=w, n_iter=k, grad_norm=gn, converged=gn <= tol, loss=f), state, g


_newton_jit = jax.jit(newton_core, static_argnames=("max_iter",))
_lbfgs_jit = jax.jit(lbfgs_core, static_argnames=("max_iter", "memory_size"))


# ---------------------------------------------------------------------------
# The public boundary.


def default_tol(dtype: Any) -> float:
    """The default ``tol`` for a dtype: ``1e-10`` in float64, ``1e-5`` in float32.

    ``‖∇L‖_∞ / N`` cannot be computed more accurately than a few hundred ulps of
    the gradient's terms, so the float64 default is out of reach in float32.

    Args:
      dtype: the dtype of the computation (a NumPy/JAX dtype or its name).

    Returns:
      ``1e-10`` for 64-bit floats, ``1e-5`` for narrower ones.

    Raises:
      TypeError: if ``dtype`` is not a dtype.

    Example:
      >>> from mcalc.solvers import default_tol
      >>> default_tol("float64"), default_tol("float32")
      (1e-10, 1e-05)
    """
    return 1e-10 if jnp.dtype(dtype).itemsize >= 8 else 1e-5


def problem_args(fn: str, X: Any, y: Any, w0: Any = None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Validate ``X: [N, D]``, labels ``y: [N]`` in ``{0, 1}`` and ``w0: [D]``.

    Everything is cast to the dtype of ``X`` (so integer labels do not promote a
    float32 problem to float64); ``w0`` defaults to zeros.
    """
    X = v.as_float(fn, "X", X)
    v.check_ndim(fn, "X", X, 2, "[N, D] (one sample per row)")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{fn}: X must have at least one row and one column; got shape {X.shape}.")
    y = v.as_float(fn, "y", y)
    v.check_ndim(fn, "y", y, 1, "[N]")
    v.check_dim(fn, "y", y, 0, X.shape[0], f"N = X.shape[0] = {X.shape[0]}")
    v.check_finite(fn, "X", X)
    v.check_binary_labels(fn, "y", y)
    if w0 is None:
        w0 = np.zeros(X.shape[1], X.dtype)  # NumPy: no eager dispatch before the solve
    else:
        w0 = v.as_float(fn, "w0", w0)
        v.check_ndim(fn, "w0", w0, 1, "[D]")
        v.check_dim(fn, "w0", w0, 0, X.shape[1], f"D = X.shape[1] = {X.shape[1]}")
        v.check_finite(fn, "w0", w0)
    return X, _as_dtype(y, X.dtype), _as_dtype(w0, X.dtype)


def _as_dtype(x: Any, dtype: Any) -> Any:
    """``x`` in ``dtype``; a concrete Python or NumPy value stays NumPy (a solver's small
    inputs then reach ``jit`` without an eager JAX dispatch each: a 4 ms fit is mostly
    such per-call overhead)."""
    if isinstance(x, jax.Array | jax.core.Tracer):
        # A weakly typed scalar (jnp.asarray(1.0)) would compile a second program.
        if x.dtype == dtype and not x.weak_type:
            return x
        return jnp.asarray(x, dtype)
    if isinstance(x, np.ndarray) and x.dtype == dtype:
        return x
    return np.asarray(x, dtype)


def controls(fn: str, tol: Any, max_iter: Any, dtype: Any) -> tuple[jax.Array, int]:
    """Validate ``tol > 0`` (``None``: :func:`default_tol`) and a static ``max_iter >= 1``."""
    if tol is None:
        tol = default_tol(dtype)
    v.check_scalar(fn, "tol", tol, minimum=0.0, strict=True)
    max_iter = v.check_static_int(fn, "max_iter", max_iter, minimum=1)
    return _as_dtype(tol, dtype), max_iter


def logistic_newton(
    X: jax.Array,
    y: jax.Array,
    *,
    lam: float = 1.0,
    w0: jax.Array | None = None,
    tol: float | None = None,
    max_iter: int = 50,
) -> SolverResult:
    """Minimise :func:`mcalc.logistic_l2` by Newton's method with a backtracking line search.

    .. math:: w \\leftarrow w - t\\,(X^\\top S X + 2\\lambda I)^{-1}
              \\big(X^\\top(\\sigma(Xw) - y) + 2\\lambda w\\big),
              \\quad S = \\operatorname{diag}(\\sigma(Xw)(1 - \\sigma(Xw)))

    The step solves with a Cholesky factor of the Hessian; ``t`` starts at 1 and
    is halved until the loss decreases enough (Armijo), which makes the method
    converge from any start, quadratically near the optimum (a handful of steps).
    Each step costs ``O(N D²)`` for the Hessian: the method of choice for small
    and medium ``D``; for a tall ``X`` with many features, :func:`logistic_lbfgs`.

    Stops when ``‖∇L(w)‖_∞ / N <= tol`` (the gradient of the mean loss, the same
    rule as scikit-learn's ``tol``), after ``max_iter`` steps, or when no step
    decreases the loss.

    ``lam > 0`` makes the loss strictly convex with one minimiser. With
    ``lam = 0`` on linearly separable data there is no minimiser: ``‖w‖`` grows
    without bound, the gradient decays like ``exp(-margin)`` and the Hessian
    becomes singular, so the run ends either "converged" at a large weight vector
    of arbitrary scale or with ``converged=False``. Use ``lam > 0`` there.

    Args:
      X: ``[N, D]`` inputs, one sample per row; finite. Its dtype is the dtype of
        the computation and of the result.
      y: ``[N]`` labels in ``{0, 1}``.
      lam: ``λ >= 0``, strength of the penalty ``λ‖w‖²``.
      w0: ``[D]`` starting point; zeros by default.
      tol: tolerance on ``‖∇L‖_∞ / N``; default :func:`default_tol` (``1e-10`` in
        float64, ``1e-5`` in float32).
      max_iter: static int ``>= 1``, the most Newton steps.

    Returns:
      A :class:`SolverResult`.

    Raises:
      ValueError: on shapes that do not fit together, NaN/Inf in ``X`` or ``w0``,
        labels other than 0 and 1, ``lam < 0``, ``tol <= 0`` or ``max_iter < 1``.
      TypeError: on non-real inputs or a non-integer ``max_iter``.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> X = jnp.array([[1.0, 2.0], [2.0, -1.0], [-1.0, 0.5], [0.5, -2.0]])
      >>> y = jnp.array([1.0, 1.0, 0.0, 0.0])
      >>> res = mcalc.logistic_newton(X, y, lam=0.5)
      >>> bool(res.converged), res.w.shape
      (True, (2,))
      >>> bool(jnp.abs(mcalc.logistic_l2_grad(res.w, X, y, lam=0.5)).max() < 1e-4)
      True
    """
    fn = "mcalc.logistic_newton"
    X, y, w0 = problem_args(fn, X, y, w0)
    v.check_scalar(fn, "lam", lam, minimum=0.0)
    tol, max_iter = controls(fn, tol, max_iter, X.dtype)
    return _newton_jit(X, y, _as_dtype(lam, X.dtype), w0, tol, max_iter)


def logistic_lbfgs(
    X: jax.Array,
    y: jax.Array,
    *,
    lam: float = 1.0,
    w0: jax.Array | None = None,
    tol: float | None = None,
    max_iter: int = 1000,
    memory_size: int = 10,
) -> SolverResult:
    """Minimise :func:`mcalc.logistic_l2` by L-BFGS (``optax.lbfgs``, zoom line search).

    The loss and its closed-form gradient ``Xᵀ(σ(Xw) - y) + 2λw`` are computed
    together in one pass over ``X`` and handed to optax's line search as the
    derivative of the objective (no ``jax.grad``). Each step costs ``O(N D)``,
    usually one evaluation: the method of choice for a tall ``X`` with many
    features, where Newton's ``O(N D²)`` Hessian dominates.

    Stops when ``‖∇L(w)‖_∞ / N <= tol`` (scikit-learn's rule for ``tol``), after
    ``max_iter`` steps, or when the line search cannot move ``w``.

    ``lam > 0`` makes the loss strictly convex with one minimiser. With ``lam = 0``
    on linearly separable data there is none: ``‖w‖`` grows until the gradient,
    which decays like ``exp(-margin)``, drops below ``tol``, and the result is a
    separator of arbitrary scale. Use ``lam > 0`` there.

    Args:
      X: ``[N, D]`` inputs, one sample per row; finite. Its dtype is the dtype of
        the computation and of the result.
      y: ``[N]`` labels in ``{0, 1}``.
      lam: ``λ >= 0``, strength of the penalty ``λ‖w‖²``.
      w0: ``[D]`` starting point; zeros by default.
      tol: tolerance on ``‖∇L‖_∞ / N``; default :func:`default_tol`.
      max_iter: static int ``>= 1``, the most L-BFGS steps.
      memory_size: static int ``>= 1``, how many past steps approximate the Hessian.

    Returns:
      A :class:`SolverResult`.

    Raises:
      ValueError: on shapes that do not fit together, NaN/Inf in ``X`` or ``w0``,
        labels other than 0 and 1, ``lam < 0``, ``tol <= 0``, ``max_iter < 1``
        or ``memory_size < 1``.
      TypeError: on non-real inputs or non-integer ``max_iter``/``memory_size``.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> X = jnp.array([[1.0, 2.0], [2.0, -1.0], [-1.0, 0.5], [0.5, -2.0]])
      >>> y = jnp.array([1.0, 1.0, 0.0, 0.0])
      >>> res = mcalc.logistic_lbfgs(X, y, lam=0.5)
      >>> bool(res.converged)
      True
      >>> bool(jnp.allclose(res.w, mcalc.logistic_newton(X, y, lam=0.5).w, atol=1e-4))
      True
    """
    fn = "mcalc.logistic_lbfgs"
    X, y, w0 = problem_args(fn, X, y, w0)
    v.check_scalar(fn, "lam", lam, minimum=0.0)
    tol, max_iter = controls(fn, tol, max_iter, X.dtype)
    memory_size = v.check_static_int(fn, "memory_size", memory_size, minimum=1)
    return _lbfgs_jit(X, y, _as_dtype(lam, X.dtype), w0, tol, max_iter, memory_size)
