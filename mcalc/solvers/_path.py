"""The regularisation path of P2: L2-logistic regression solved for many ``λ`` in one program."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _concurrency
from .. import _validation as v
from ._logistic import (
    _value_grad,
    carry_memory,
    controls,
    lbfgs_core,
    lbfgs_memory,
    lbfgs_solve,
    newton_core,
    problem_args,
    shift_penalty,
)

__all__ = ["PathResult", "logistic_path", "default_batch_size", "default_chains"]

_SOLVERS = {"newton": newton_core, "lbfgs": lbfgs_core}
_MAX_ITER = {"newton": 50, "lbfgs": 1000}


class PathResult(NamedTuple):
    """Solutions along a path of penalties (a pytree), in the order of the ``lams`` given.

    Attributes:
      lams: ``[L]`` the penalties ``λ``.
      w: ``[L, D]`` the weights, one row per ``λ``.
      n_iter: ``[L]`` iterations taken for each ``λ``.
      grad_norm: ``[L]`` ``‖∇L(w)‖_∞ / N`` at each solution.
      converged: ``[L]`` ``grad_norm <= tol``.
      loss: ``[L]`` ``L(w)`` at each solution (:func:`mcalc.logistic_l2`, a sum over samples).

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> X = jnp.array([[1.0, 2.0], [2.0, -1.0], [-1.0, 0.5], [0.5, -2.0]])
      >>> path = mcalc.logistic_path(X, jnp.array([1.0, 1.0, 0.0, 0.0]), jnp.array([10.0, 1.0]))
      >>> path.w.shape, bool(path.converged.all())
      ((2, 2), True)
      >>> bool(jnp.linalg.norm(path.w[0]) < jnp.linalg.norm(path.w[1]))  # more λ, smaller w
      True
    """

    lams: jax.Array
    w: jax.Array
    n_iter: jax.Array
    grad_norm: jax.Array
    converged: jax.Array
    loss: jax.Array


# Lanes solved at once are vmapped; under vmap a lax.cond with a per-lane predicate
# becomes a select that evaluates both branches over copies of its operands -- X
# among them, inside optax's line search -- and every lane runs as many iterations
# as the slowest. Measured on the 2-core CPU (32 λ in [1e-3, 1e3], float64), one
# lane at a time, warm-started, was fastest from 200 x 10 up (breast cancer, Newton:
# 10 ms against 23 ms for 32 lanes; L-BFGS: 89 ms against 1.9 s); only below a few
# KiB of data (50 x 3) did 4-32 lanes win, by 2x.
_TINY_BYTES = 4 * 2**10
# On an accelerator (not measured here) wide batches pay; cap L-BFGS's copies of X.
_ACCELERATOR_COPY_BYTES = 2 * 2**30


def default_batch_size(
    n: int, d: int, n_lams: int, *, itemsize: int = 8, solver: str = "newton"
) -> int:
    """How many ``λ`` :func:`logistic_path` solves at once when ``batch_size`` is not given.

    On the CPU: one at a time (lanes in sequence inside one program, each
    warm-started from the previous solution), except for data of a few KiB, where
    all of them at once. On an accelerator: all at once, L-BFGS capped so that
    its per-lane copies of ``X`` stay under 2 GiB.

    Args:
      n: number of samples (rows of ``X``).
      d: number of features (columns of ``X``).
      n_lams: number of penalties on the path.
      itemsize: bytes per entry of ``X`` (8 for float64).
      solver: ``"newton"`` or ``"lbfgs"``.

    Returns:
      The batch size, between 1 and ``n_lams``.

    Example:
      >>> from mcalc.solvers import default_batch_size
      >>> default_batch_size(569, 30, 32)  # breast cancer on the CPU: one λ at a time
      1
    """
    data = n * d * itemsize
    if jax.default_backend() == "cpu":
        return n_lams if data <= _TINY_BYTES else 1
    if solver == "newton":
        return n_lams
    return int(max(1, min(n_lams, _ACCELERATOR_COPY_BYTES // max(1, data))))


# Chains: XLA runs one λ's solve at these sizes on about one core (the products with a
# tall X are memory-bound matrix-vector products), so independent warm-started chains
# run side by side in threads, one per core. Measured on the 2-core CPU, 200 000 x 100
# float64, L-BFGS: 5.55 s for one chain, 3.17 s for two (115 iterations against 99: each
# warm start is one grid step further away). On breast cancer a whole path takes a few
# ms, which threads do not shorten; below this much data one chain is the default.
_CHAIN_BYTES = 4 * 2**20


def default_chains(n: int, d: int, n_lams: int, *, itemsize: int = 8) -> int:
    """How many independent chains :func:`logistic_path` runs at once when ``chains`` is not given.

    On the CPU, one per core (:func:`mcalc._concurrency.default_workers`) from
    4 MiB of data up, else one. On an accelerator: one.

    Args:
      n: number of samples (rows of ``X``).
      d: number of features (columns of ``X``).
      n_lams: number of penalties on the path (there are never more chains).
      itemsize: bytes per entry of ``X`` (8 for float64).

    Returns:
      The number of chains, at least 1; pass ``chains`` to :func:`logistic_path` to
      get the same iterates on every machine.

    Example:
      >>> from mcalc.solvers import default_chains
      >>> default_chains(569, 30, 32)  # a few ms of work: threads would not help
      1
    """
    if n * d * itemsize < _CHAIN_BYTES:
        return 1
    return _concurrency.default_workers(n_lams)


def _path(X, y, lams, tol, max_iter: int, solver: str, batch_size: int, warm_start: bool):
    n_lams, d = lams.shape[0], X.shape[1]
    lanes = batch_size
    steps = -(-n_lams // lanes)
    # Strongest penalty first: its solution is nearest zero, and each solution is a
    # good start for the next, smaller λ.
    order = jnp.argsort(-lams)
    ordered = lams[order]
    padded = jnp.concatenate([ordered, jnp.repeat(ordered[-1:], steps * lanes - n_lams)])
    # [steps, lanes]: lane j walks the contiguous stretch ordered[j*steps : (j+1)*steps].
    grid = padded.reshape(lanes, steps).T
    # L-BFGS warm-starts its curvature memory too (carry_memory): the previous λ's pairs,
    # corrected exactly for the new λ, instead of a first step along the bare gradient.
    carry_lbfgs = solver == "lbfgs" and warm_start

    # X and y are closed over: one copy shared by every lane and step.
    def solve(lam, state):
        if carry_lbfgs:
            w_init, lam_prev, memory, f, g = state
            memory = carry_memory(memory, lam_prev, lam)
            start = shift_penalty(w_init, f, g, lam_prev, lam)
            res, memory, g_end = lbfgs_solve(
                X, y, lam, w_init, tol, max_iter, memory=memory, start=start
            )
            return res, (res.w, lam, memory, res.loss, g_end)
        res = _SOLVERS[solver](X, y, lam, state[0], tol, max_iter)
        return res, ((res.w,) if warm_start else state)

    if lanes == 1:
        # No vmap of one lane: it would still turn conds into selects over copies of X.
        def solve_lanes(lam, state):
            one = jax.tree.map(lambda a: a[0], state)
            return jax.tree.map(lambda a: a[None], solve(lam[0], one))
    else:
        solve_lanes = jax.vmap(solve)

    def step(state, lam):
        res, state = solve_lanes(lam, state)
        return state, res

    w_init = jnp.zeros((lanes, d), X.dtype)
    state = (w_init,)
    if carry_lbfgs:
        memory = lbfgs_memory(w_init[0])
        memory = jax.tree.map(lambda a: jnp.stack([a] * lanes), memory)
        # Every lane starts at w = 0, where the penalty and its gradient vanish: one
        # evaluation serves all lanes.
        f, g = _value_grad(w_init[0], X, y, jnp.zeros((), X.dtype))
        f, g = jnp.broadcast_to(f, (lanes,)), jnp.broadcast_to(g, (lanes, d))
        state = (w_init, grid[0], memory, f, g)
    _, res = jax.lax.scan(step, state, grid)
    # [steps, lanes, ...] -> path order -> the caller's order.
    unsort = jnp.argsort(order)
    res = jax.tree.map(lambda a: a.swapaxes(0, 1).reshape(-1, *a.shape[2:])[:n_lams][unsort], res)
    return PathResult(lams, *res)


_path_jit = jax.jit(_path, static_argnames=("max_iter", "solver", "batch_size", "warm_start"))


def logistic_path(
    X: jax.Array,
    y: jax.Array,
    lams: jax.Array,
    *,
    solver: str = "newton",
    tol: float | None = None,
    max_iter: int | None = None,
    batch_size: int | None = None,
    warm_start: bool = True,
    chains: int | None = None,
) -> PathResult:
    """Minimise :func:`mcalc.logistic_l2` for every ``λ`` of ``lams``, as one compiled program.

    .. math:: w^*(\\lambda) = \\arg\\min_w \\sum_i \\big[\\operatorname{softplus}(x_i^\\top w)
              - y_i x_i^\\top w\\big] + \\lambda\\lVert w\\rVert^2, \\quad \\lambda \\in \\texttt{lams}

    The penalties are solved from the largest to the smallest, ``batch_size`` at
    a time: a ``lax.scan`` over batches (``jax.lax.map`` with warm starts), each
    batch a ``vmap`` of :func:`logistic_newton` or :func:`logistic_lbfgs`'s loop
    over its lanes, with ``X`` and ``y`` closed over -- never copied per ``λ``.
    With ``warm_start`` each lane starts from its previous solution, the
    neighbouring ``λ``; L-BFGS also starts from its previous curvature memory, made
    exact for the new penalty (only ``2λ`` of the Hessian changes with ``λ``), so
    its first step is a quasi-Newton step, not a step along the bare gradient whose
    line search takes many passes over ``X``. ``batch_size=1`` solves the penalties in sequence (on the
    CPU the fastest from a few KiB of data up), ``batch_size=len(lams)`` as one
    vectorised program (tiny data; accelerators); the default
    (:func:`default_batch_size`) picks by backend and size of ``X``.

    With ``chains = k > 1`` the penalties, largest first, are dealt round-robin
    into ``k`` independent warm-started chains (chain ``j`` solves the ``j``-th,
    ``(j+k)``-th, ... largest ``λ``), each its own compiled program; on the host
    the chains run at the same time, one thread each (XLA runs one solve of a
    tall ``X`` on about one core). The result depends on ``chains``, never on
    the threads: inside ``jax.jit`` the same chains run one after the other. The
    default (:func:`default_chains`) is one chain per CPU core from 4 MiB of data
    up, else one -- so the default result (within ``tol``) and ``n_iter`` depend
    on the machine's core count; pass ``chains`` for the same iterates everywhere.

    Args:
      X: ``[N, D]`` inputs; finite. Its dtype is the dtype of the result.
      y: ``[N]`` labels in ``{0, 1}``.
      lams: ``[L]`` penalties ``λ >= 0``, any order (results come back in it).
      solver: ``"newton"`` (default; small to medium ``D``) or ``"lbfgs"`` (tall
        ``X`` with many features).
      tol: tolerance on ``‖∇L‖_∞ / N`` for every ``λ``; default
        :func:`mcalc.solvers.default_tol`.
      max_iter: static int ``>= 1``, the most iterations per ``λ``; default 50 for
        Newton, 1000 for L-BFGS.
      batch_size: static int ``>= 1``, how many ``λ`` are solved at once.
      warm_start: start each ``λ`` from the solution of the previous one in its lane.
      chains: static int ``>= 1``, independent chains of penalties solved at once.

    Returns:
      A :class:`PathResult`, one row per ``λ`` in the order given.

    Raises:
      ValueError: on an unknown ``solver``, ``lams`` that is not a non-empty 1-D array
        of finite values ``>= 0``, ``batch_size < 1``, ``chains < 1``, and everything
        :func:`mcalc.logistic_newton` rejects.
      TypeError: on a non-integer ``max_iter``, ``batch_size`` or ``chains``.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> X = jnp.array([[1.0, 2.0], [2.0, -1.0], [-1.0, 0.5], [0.5, -2.0]])
      >>> y = jnp.array([1.0, 1.0, 0.0, 0.0])
      >>> path = mcalc.logistic_path(X, y, jnp.array([0.1, 1.0, 10.0]))
      >>> path.w.shape, bool(path.converged.all())
      ((3, 2), True)
      >>> norms = jnp.linalg.norm(path.w, axis=1)  # the penalty shrinks ‖w‖
      >>> bool(norms[0] > norms[1] > norms[2])
      True
    """
    fn = "mcalc.logistic_path"
    if solver not in _SOLVERS:
        raise ValueError(f"{fn}: solver must be one of {sorted(_SOLVERS)}; got {solver!r}.")
    X, y, _ = problem_args(fn, X, y)
    lams = v.as_float(fn, "lams", lams).astype(X.dtype)
    v.check_ndim(fn, "lams", lams, 1, "[L] (one penalty per solution)")
    if lams.shape[0] == 0:
        raise ValueError(f"{fn}: lams must hold at least one penalty; got shape {lams.shape}.")
    if v.is_concrete(lams):
        v.check_finite(fn, "lams", lams)
        bad = np.flatnonzero(np.asarray(lams) < 0)
        if bad.size:
            raise ValueError(
                f"{fn}: lams must be >= 0; got {float(lams[bad[0]])!r} at index {int(bad[0])}."
            )
    tol, max_iter = controls(fn, tol, _MAX_ITER[solver] if max_iter is None else max_iter, X.dtype)
    if batch_size is None:
        batch_size = default_batch_size(
            X.shape[0], X.shape[1], lams.shape[0], itemsize=X.dtype.itemsize, solver=solver
        )
    batch_size = min(v.check_static_int(fn, "batch_size", batch_size, minimum=1), lams.shape[0])
    if chains is None:
        chains = default_chains(*X.shape, lams.shape[0], itemsize=X.dtype.itemsize)
    chains = min(v.check_static_int(fn, "chains", chains, minimum=1), lams.shape[0])
    if chains == 1:
        return _path_jit(X, y, lams, tol, max_iter, solver, batch_size, bool(warm_start))

    # Chain j takes every chains-th penalty from the j-th largest: its own neighbours
    # are `chains` grid steps apart, and every chain spans the whole range of λ. Short
    # chains repeat their last penalty (0 iterations from its own solution), so every
    # chain has one shape and the program compiles once.
    order = jnp.argsort(-lams)
    members = [order[j::chains] for j in range(chains)]
    length = members[0].shape[0]

    def solve(idx: jax.Array) -> PathResult:
        idx = jnp.concatenate([idx, jnp.repeat(idx[-1:], length - idx.shape[0])])
        res = _path_jit(
            X, y, lams[idx], tol, max_iter, solver, min(batch_size, length), bool(warm_start)
        )
        return res if traced else jax.block_until_ready(res)

    # Inside a jit trace even concrete inputs give traced `order`: no threads then.
    traced = not all(v.is_concrete(a) for a in (X, y, lams, tol, order))
    threads = 1 if traced else _concurrency.default_workers(chains)
    parts = _concurrency.concurrent_map(solve, members, threads)
    back = jnp.argsort(jnp.concatenate(members))
    fields = [
        jnp.concatenate([f[: m.shape[0]] for f, m in zip(field, members, strict=True)])[back]
        for field in list(zip(*parts, strict=True))[1:]
    ]
    return PathResult(lams, *fields)
