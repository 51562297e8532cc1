"""The compiled training program: pure ``init`` and ``chunk`` functions built from a config.

This module is the contract between single runs (:func:`mcalc.train`) and sweeps.
A :class:`Program` is built from a config and the data's shapes
(:func:`build_program`); it is a frozen, hashable description of everything
*static* -- the task, the shapes (``N``, ``D'``, ``M``), the batch size, the number
of steps, the optimizer's and schedule's names and non-numeric arguments, closed
form or autodiff -- and exposes pure functions of arrays:

``hyper = program.hyper()``
    A dict of scalar arrays (the data's dtype) holding every numeric
    hyperparameter a sweep may vary, keyed by its dotted config path: the task's
    traced hyperparameters ``model.<name>`` (``model.lam`` for P2, ``model.sigma2``
    for P4), ``model.init_scale``,
    ``optimizer.learning_rate`` (or the schedule's numeric arguments
    ``optimizer.schedule.args.<name>``), and every numeric argument of the
    optimizer ``optimizer.args.<name>``, those left at optax's defaults included.
    The optimizer is built with ``optax.inject_hyperparams``, so its arguments live
    in the optimizer state; ``chunk`` writes ``hyper``'s values into that state at
    every step, so ``hyper`` is the one source of truth. For a task with a
    closed-form optimum, :meth:`Program.with_optimum` adds its parameters under
    ``"optimum"`` (computed on the host for the lane's hyperparameters); the
    metrics then include the gaps to it.

``state = program.init(key, hyper)``
    A :class:`TrainState` pytree: ``params``, ``opt_state``, ``step`` (updates
    applied), ``diverged_at`` (-1, or the step whose loss was not finite),
    ``stopped`` (0, or the code of the stopping rule that ended it), the
    minibatch ``key`` and the current epoch's permutation ``perm``. ``key`` is a
    ``jax.random`` key (raw ``uint32[2]`` or typed); it seeds the initial
    parameters and the minibatch order.

``state, metrics = program.chunk(state, hyper, data)``
    ``log_every`` steps fused in one ``lax.scan``, then the metrics at the end of
    the chunk (a dict of scalars). ``data`` is a :class:`Data` pytree, passed as an
    argument (``in_axes=None`` under ``vmap``: never copied per lane). A step whose
    loss, gradient or new parameters are not finite is not applied; the state
    freezes there (the last finite parameters kept, ``diverged_at`` recording the
    step), so one diverging lane of a batched sweep does not disturb the others.
    Steps past ``steps`` are no-ops, so every chunk has the same shape and the
    program compiles once. At the end of a chunk the stopping rule
    (:func:`stop_rule`, the same for a run and for every lane of a sweep) is
    applied to the metrics; a lane it stops is frozen like a diverged one.

All three work unchanged under ``jax.vmap`` / ``jax.lax.map`` over a leading lane
axis of ``key`` and ``hyper`` (and ``state``). A sweep varies ``hyper`` and the seed
within one program; anything that changes a shape or a static choice (``M``, the
data, the batch size, the optimizer's name) needs another program.

The minibatch of step ``t`` is a function of ``(seed, t)`` alone: epoch
``e = t // (N // B)`` draws the permutation ``permutation(fold_in(key, e), N)``
and step ``t`` takes its slice ``t % (N // B)`` (the last ``N % B`` samples of an
epoch are skipped). A run resumed from a checkpoint therefore continues exactly
as if it had never stopped.

The optimizer sees the *mean* loss ``(1/B) [Σ_batch ℓ_i + (B/N) R(θ)]`` -- an
unbiased estimate of ``L/N`` when the task declares its penalty ``R``
(:attr:`mcalc.Task.penalty`) -- so learning rates do not scale with ``N``; the
metrics report the task's sum loss ``L`` on the full training set.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..task import Task

__all__ = [
    "Program",
    "TrainState",
    "Data",
    "build_program",
    "make_data",
    "compiled",
    "stop_rule",
    "STOP_REASONS",
]

#: The codes :func:`stop_rule` returns (and ``TrainState.stopped`` holds), by name.
STOP_REASONS = {0: None, 1: "tol", 2: "gap_tol"}


def stop_rule(metrics: Any, train: Any) -> Any:
    """The stopping rule of every run and sweep lane, applied at each logging point.

    ``1`` (``"tol"``) once ``‖∇L‖∞/N ≤ train.tol`` -- the largest entry of the mean
    loss's gradient (``metrics["grad_max"]``, scikit-learn's ``tol``); else ``2``
    (``"gap_tol"``) once ``L(θ) − L(θ*) ≤ train.gap_tol`` for a task with a
    closed-form optimum; else ``0`` (go on). A pure function of the metrics and the
    tolerances: it runs inside the compiled chunk (every lane of a sweep stops at
    the step a single run would) and on the host alike (NumPy scalars or arrays).

    Args:
      metrics: a mapping with ``grad_max`` (and ``objective_gap`` when there is an optimum).
      train: anything with ``tol`` and ``gap_tol`` (a ``TrainConfig``, a :class:`Program`).

    Returns:
      An int32 code (array-like, the shape of the metrics).

    Example:
      >>> import types
      >>> from mcalc.train import stop_rule
      >>> cfg = types.SimpleNamespace(tol=1e-6, gap_tol=None)
      >>> int(stop_rule({"grad_max": 5e-7}, cfg)), int(stop_rule({"grad_max": 2e-6}, cfg))
      (1, 0)
    """
    code = jnp.zeros(jnp.shape(metrics["grad_max"]), jnp.int32)
    if train.gap_tol is not None and "objective_gap" in metrics:
        code = jnp.where(metrics["objective_gap"] <= train.gap_tol, 2, code)
    if train.tol is not None:
        code = jnp.where(metrics["grad_max"] <= train.tol, 1, code)
    return code


class TrainState(NamedTuple):
    """The whole training state (a pytree; what checkpoints hold).

    Attributes:
      params: the model parameters.
      opt_state: the optax state (``InjectHyperparamsState``: its ``hyperparams``
        hold the optimizer's numeric arguments).
      step: int32 scalar, updates applied so far.
      diverged_at: int32 scalar, ``-1``, or the step at which the loss (or the
        update) was not finite; the state is frozen from then on.
      stopped: int32 scalar, ``0``, or the code of the stopping rule (:func:`stop_rule`)
        met at a logging point; the state is frozen from then on.
      key: ``uint32[2]``, the key of the minibatch order.
      perm: ``int32[N]``, the current epoch's permutation (``[0]`` for full batch).

    Example:
      >>> import jax, mcalc
      >>> from mcalc.train import build_program
      >>> cfg = mcalc.load_config("p2", {"data": {"source": "synthetic", "n_samples": 40,
      ...                                         "n_features": 3, "dtype": "float32"}})
      >>> dataset = mcalc.load_data(cfg)
      >>> program = build_program(cfg, dataset)
      >>> state = jax.jit(program.init)(jax.random.PRNGKey(0), program.hyper())
      >>> state.params["w"].shape, int(state.step), int(state.diverged_at), int(state.stopped)
      ((3,), 0, -1, 0)
    """

    params: Any
    opt_state: Any
    step: jax.Array
    diverged_at: jax.Array
    stopped: jax.Array
    key: jax.Array
    perm: jax.Array


class Data(NamedTuple):
    """The arrays a program trains and evaluates on (a pytree).

    :func:`make_data` makes it from a dataset; every lane of a sweep shares it.

    Attributes:
      X: ``[N, D']`` the training split's features (``D'``: with the intercept column).
      y: ``[N]`` the training split's labels.
      X_test: ``[N_test, D']`` the test split's features (``N_test`` may be 0).
      y_test: ``[N_test]`` the test split's labels.

    Example:
      >>> import jax.numpy as jnp
      >>> from mcalc.train import Data
      >>> data = Data(X=jnp.ones((4, 3)), y=jnp.array([0.0, 1.0, 1.0, 0.0]),
      ...             X_test=jnp.zeros((0, 3)), y_test=jnp.zeros((0,)))
      >>> [a.shape for a in data]
      [(4, 3), (4,), (0, 3), (0,)]
    """

    X: jax.Array
    y: jax.Array
    X_test: jax.Array
    y_test: jax.Array


def _tree_all_finite(tree: Any) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _tree_where(cond: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


def _global_norm(tree: Any) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(tree)))


def _split_args(
    fn: Any, args: dict[str, Any]
) -> tuple[tuple[str, ...], dict[str, float], tuple[tuple[str, Any], ...]]:
    """Numeric (sweepable) and static arguments of an optax factory.

    A given argument is numeric if it is a float, or an int where optax's default
    is a float; bools, strings and other ints (sizes, step counts) are static.
    Float defaults of arguments not given are numeric too (so a sweep may vary them).
    """
    sig = inspect.signature(fn).parameters
    numeric: dict[str, float] = {}
    static: list[tuple[str, Any]] = []
    for name, value in args.items():
        default = sig[name].default if name in sig else None
        is_float_default = isinstance(default, float)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            static.append((name, value))
        elif isinstance(value, float) or is_float_default:
            numeric[name] = float(value)
        else:
            static.append((name, value))
    for name, p in sig.items():
        if name in args or name == "learning_rate":
            continue
        if isinstance(p.default, float) and not isinstance(p.default, bool):
            numeric[name] = float(p.default)
    order = tuple(n for n in sig if n in numeric)
    return order, numeric, tuple(static)


def _freeze(value: Any) -> Any:
    """Hashable form of a static argument (dicts and lists from YAML)."""
    if isinstance(value, dict):
        return ("__dict__", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("__list__", tuple(_freeze(v) for v in value))
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "__dict__":
        return {k: _thaw(v) for k, v in value[1]}
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "__list__":
        return [_thaw(v) for v in value[1]]
    return value


def _schedule_traceable(fn: Any, static: dict[str, Any], numeric: dict[str, float]) -> bool:
    """Can the schedule be built from traced numeric arguments (a sweep may vary them)?"""
    if not numeric:
        return True

    def build(h):
        return fn(**static, **h)(jnp.asarray(0, jnp.int32))

    try:
        jax.eval_shape(build, {k: jnp.asarray(v, jnp.float32) for k, v in numeric.items()})
        return True
    except jax.errors.ConcretizationTypeError:
        # optax checks a value in Python (e.g. exponential_decay's rate): keep it static
        return False
    except Exception:  # noqa: BLE001 - any other failure: keep it static; real errors show later
        return False


@dataclasses.dataclass(frozen=True)
class Program:
    """A compiled training program's static description; see the module docstring.

    Build it with :func:`build_program`. Its methods ``hyper``, ``init``, ``step``,
    ``chunk`` and ``evaluate`` are pure functions of arrays (``self`` is static).
    Programs that differ only in the config's hyperparameter values compare equal, so
    they share compiled code.

    Attributes:
      task: the :class:`mcalc.Task`.
      n_train: ``N``, the training samples.
      n_test: ``N_test``, the test samples (may be 0).
      dim: ``D'``, the input width the task sees (with any intercept column).
      dtype: the data's and parameters' dtype, ``"float32"`` or ``"float64"``.
      batch_size: ``B``, samples per step, or ``None`` for full batch.
      steps: ``train.steps``, the updates a run takes at most.
      log_every: ``train.log_every``, the steps of one :meth:`chunk`.
      grad: ``"closed_form"`` (the task's ``grad``) or ``"autodiff"`` (``jax.grad``).
      intercept: whether the last input column is the constant 1 of ``data.intercept``.
      static_hyper: ``(name, int)`` pairs, the task's shape-fixing hyperparameters.
      tol: ``train.tol`` of the stopping rule, or ``None``.
      gap_tol: ``train.gap_tol`` of the stopping rule, or ``None``.
      opt_name: the optax optimizer's name (``optimizer.name``).
      opt_numeric: the optimizer's numeric arguments, traced (``optimizer.args.<name>``).
      opt_static: ``(name, value)`` pairs, its other arguments.
      sched_name: the optax schedule's name, or ``None`` for a constant learning rate.
      sched_numeric: the schedule's numeric arguments, traced.
      sched_static: ``(name, value)`` pairs, its other arguments.
      defaults: ``(dotted key, value)`` pairs, the config's hyperparameter values
        (what :meth:`hyper` returns without arguments).

    Example:
      Train a P2 model for one chunk (``program.log_every`` steps) with the pure functions:

      >>> import jax, mcalc
      >>> from mcalc.train import build_program, make_data
      >>> cfg = mcalc.load_config("p2", {"data": {"source": "synthetic", "n_samples": 40,
      ...                                         "n_features": 3, "dtype": "float32"}})
      >>> dataset = mcalc.load_data(cfg)
      >>> program = build_program(cfg, dataset)
      >>> data = make_data(program, dataset)
      >>> hyper = program.hyper(**{"model.lam": 0.5})
      >>> init, chunk = jax.jit(program.init), jax.jit(program.chunk)
      >>> state0 = init(jax.random.PRNGKey(0), hyper)
      >>> state, metrics = chunk(state0, hyper, data)
      >>> program.log_every, int(state.step), int(metrics["step"])
      (50, 50, 50)
      >>> float(metrics["loss"]) < 22.18  # below the initial loss, 32 log 2 at w = 0
      True
    """

    task: Task
    n_train: int
    n_test: int
    dim: int
    dtype: str
    batch_size: int | None
    steps: int
    log_every: int
    grad: str
    intercept: bool
    static_hyper: tuple[tuple[str, int], ...]
    tol: float | None
    gap_tol: float | None
    opt_name: str
    opt_numeric: tuple[str, ...]
    opt_static: tuple[tuple[str, Any], ...]
    sched_name: str | None
    sched_numeric: tuple[str, ...]
    sched_static: tuple[tuple[str, Any], ...]
    # The config's hyperparameter values: arguments of the compiled functions, not part of
    # them, so programs that differ only here compare equal (and share compiled code).
    defaults: tuple[tuple[str, float], ...] = dataclasses.field(compare=False)

    # ------------------------------------------------------------------ pieces

    @property
    def full_batch(self) -> bool:
        """Whether every step uses the whole training split (``train.batch_size`` null or ≥ N).

        Example:
          >>> program.full_batch  # the program of the class example
          True
        """
        return self.batch_size is None or self.batch_size >= self.n_train

    @property
    def batches_per_epoch(self) -> int:
        """Steps per pass over the training split, ``N // B`` (1 for full batch).

        Example:
          >>> program.batches_per_epoch  # the program of the class example
          1
        """
        return 1 if self.full_batch else self.n_train // self.batch_size

    @property
    def batch_rows(self) -> int:
        """Samples per step, ``B`` (``N`` for full batch).

        Example:
          >>> program.batch_rows  # the program of the class example (32 training samples)
          32
        """
        return self.n_train if self.full_batch else self.batch_size

    @property
    def _masked(self) -> bool:
        """Whether the penalty leaves the intercept column's weight out."""
        t = self.task
        return self.intercept and t.penalty is not None and t.unpenalized is not None

    def hyper_kwargs(self, hyper: dict[str, Any]) -> dict[str, Any]:
        """The task's hyperparameters as keyword arguments: traced ones from ``hyper``
        (``model.<name>``), static ones as Python ints.

        Args:
          hyper: a dict from :meth:`hyper` (scalars, or ``[L]`` arrays under ``vmap``).

        Returns:
          ``{name: value}`` for the task's functions (``loss(params, X, y, **kwargs)``).

        Example:
          >>> program.hyper_kwargs(hyper)  # the program and hyper of the class example
          {'lam': Array(0.5, dtype=float32)}
        """
        kw = {n: hyper[f"model.{n}"] for n in self.task.traced_hyper}
        kw.update(self.static_hyper)
        return kw

    def _optimizer(self) -> optax.GradientTransformation:
        fn = getattr(optax, self.opt_name)
        static = {k: _thaw(v) for k, v in self.opt_static}
        numeric = {k: v for k, v in self.defaults if k.startswith("optimizer.args.")}
        numeric = {k.removeprefix("optimizer.args."): v for k, v in numeric.items()}
        # inject_hyperparams turns every numeric argument, defaults included, into a traced
        # hyperparameter; sizes such as lbfgs's memory_size must stay Python values.
        names = inspect.signature(fn).parameters
        static_names = tuple(n for n in names if n not in numeric and n != "learning_rate")
        return optax.inject_hyperparams(
            fn, static_args=static_names, hyperparam_dtype=jnp.dtype(self.dtype)
        )(learning_rate=1.0, **static, **numeric)

    def learning_rate(self, hyper: dict[str, jax.Array], step: jax.Array) -> jax.Array:
        """The learning rate at ``step``: constant, or the schedule evaluated there.

        Args:
          hyper: a dict from :meth:`hyper`.
          step: int32 scalar, the number of updates applied so far.

        Returns:
          A scalar in the program's dtype.

        Example:
          >>> float(program.learning_rate(hyper, 10))  # the class example's: a constant 0.5
          0.5
        """
        if self.sched_name is None:
            return hyper["optimizer.learning_rate"]
        fn = getattr(optax, self.sched_name)
        static = {k: _thaw(v) for k, v in self.sched_static}
        numeric = {k: hyper[f"optimizer.schedule.args.{k}"] for k in self.sched_numeric}
        return jnp.asarray(fn(**static, **numeric)(step), self.dtype)

    def _penalty_terms(self, params, kw, scale):
        """``-R(θ) + scale · R(mask ⊙ θ)``: the task's penalty taken out of its summed loss and
        put back scaled to the batch's share ``scale = B/N`` (and without the intercept)."""
        pen, mask = self.task.penalty, self.task.unpenalized
        masked = params if not self._masked else jax.tree.map(jnp.multiply, params, mask(params))
        return -pen(params, **kw) + scale * pen(masked, **kw)

    def _adjusted(self, scale: float) -> bool:
        return self.task.penalty is not None and (scale != 1.0 or self._masked)

    def _loss(self, params, X, y, hyper, scale):
        kw = self.hyper_kwargs(hyper)
        loss = self.task.loss(params, X, y, **kw)
        if self._adjusted(scale):
            loss = loss + self._penalty_terms(params, kw, scale)
        return loss

    def _grad(self, params, X, y, hyper, scale):
        if self.grad == "autodiff" or self.task.grad is None:
            return jax.grad(self._loss)(params, X, y, hyper, scale)
        kw = self.hyper_kwargs(hyper)
        g = self.task.grad(params, X, y, **kw)
        if self._adjusted(scale):
            # the penalty's part of the closed form, moved as in _loss (its own jax.grad:
            # the penalty is a function of the parameters alone)
            dp = jax.grad(lambda p: self._penalty_terms(p, kw, scale))(params)
            g = jax.tree.map(jnp.add, g, dp)
        return g

    # ------------------------------------------------------------------ the contract

    def hyper(self, **values: float) -> dict[str, jax.Array]:
        """The numeric hyperparameters as scalar arrays: the config's values, or ``values``.

        Args:
          **values: replacements by dotted key, e.g. ``**{"model.lam": 0.1}``.

        Returns:
          ``{dotted key: scalar array}`` in the program's dtype: what :meth:`init`,
          :meth:`chunk` and the others take as ``hyper`` (a sweep stacks them into ``[L]``).

        Raises:
          KeyError: for a key that is not a hyperparameter of this program.

        Example:
          >>> sorted(program.hyper())  # the program of the class example
          ['model.init_scale', 'model.lam', 'optimizer.args.momentum', 'optimizer.learning_rate']
          >>> program.hyper(**{"model.lr": 0.1})
          Traceback (most recent call last):
          ...
          KeyError: "mcalc.Program.hyper: 'model.lr' is not a numeric hyperparameter of this program; it has model.lam, model.init_scale, optimizer.args.momentum, optimizer.learning_rate."
        """
        out = dict(self.defaults)
        for k, v in values.items():
            if k not in out:
                raise KeyError(
                    f"mcalc.Program.hyper: {k!r} is not a numeric hyperparameter of this program; "
                    f"it has {', '.join(out)}."
                )
            out[k] = v
        return {k: jnp.asarray(v, self.dtype) for k, v in out.items()}

    def init(self, key: jax.Array, hyper: dict[str, jax.Array]) -> TrainState:
        """The initial :class:`TrainState` (pure; ``vmap`` it over keys and hypers).

        Args:
          key: a ``jax.random`` key (raw ``uint32[2]`` or typed): it seeds the initial
            parameters and the minibatch order.
          hyper: a dict from :meth:`hyper`.

        Returns:
          The state at step 0: the task's ``init`` parameters times ``model.init_scale``.

        Example:
          >>> state0.params["w"].shape, int(state0.step)  # init's state in the class example
          ((3,), 0)
        """
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)
        k_init, k_batch = jax.random.split(key)
        scale = hyper["model.init_scale"]
        params = jax.tree.map(
            lambda a: (scale * jnp.asarray(a, self.dtype)).astype(self.dtype),
            self.task.init(k_init, self.dim, **self.hyper_kwargs(hyper)),
        )
        opt_state = self._with_hyper(
            self._optimizer().init(params), hyper, jnp.asarray(0, jnp.int32)
        )
        if self.full_batch:
            perm = jnp.zeros((1,), jnp.int32)
        else:
            perm = jax.random.permutation(jax.random.fold_in(k_batch, 0), self.n_train).astype(
                jnp.int32
            )
        return TrainState(
            params=params,
            opt_state=opt_state,
            step=jnp.asarray(0, jnp.int32),
            diverged_at=jnp.asarray(-1, jnp.int32),
            stopped=jnp.asarray(0, jnp.int32),
            key=k_batch,
            perm=perm,
        )

    def _with_hyper(self, opt_state, hyper, step):
        hp = dict(opt_state.hyperparams)
        for name in self.opt_numeric:
            if name in hp:
                hp[name] = hyper[f"optimizer.args.{name}"]
        if "learning_rate" in hp:
            hp["learning_rate"] = self.learning_rate(hyper, step)
        return opt_state._replace(hyperparams=hp)

    def _batch(self, state: TrainState, data: Data, t: jax.Array):
        if self.full_batch:
            return data.X, data.y, state.perm
        nb, B = self.batches_per_epoch, self.batch_size
        # Under vmap a lax.cond whose predicate differs per lane runs both branches --
        # a permutation of N at every step. A clock shared by the lanes keeps it a cond.
        epoch, pos = t // nb, t % nb
        perm = jax.lax.cond(
            pos == 0,
            lambda: jax.random.permutation(
                jax.random.fold_in(state.key, epoch), self.n_train
            ).astype(jnp.int32),
            lambda: state.perm,
        )
        idx = jax.lax.dynamic_slice(perm, (pos * B,), (B,))
        return jnp.take(data.X, idx, axis=0), jnp.take(data.y, idx, axis=0), perm

    def step(
        self,
        state: TrainState,
        hyper: dict[str, jax.Array],
        data: Data,
        clock: jax.Array | None = None,
    ) -> TrainState:
        """One optimizer step (pure); frozen once diverged or past ``steps``.

        Args:
          state: the current :class:`TrainState`.
          hyper: a dict from :meth:`hyper`.
          data: the :class:`Data`.
          clock: the step whose minibatch is drawn, ``state.step`` by default; a batched
            sweep passes one clock shared by its lanes (every live lane is at that step; a
            frozen lane's draw is never applied).

        Returns:
          The next state: the update applied, or ``state`` unchanged (bar
          ``diverged_at``, set when the loss, gradient or new parameters are not finite).

        Example:
          >>> int(jax.jit(program.step)(state0, hyper, data).step)  # the class example's
          1
        """
        active = (state.diverged_at < 0) & (state.stopped == 0) & (state.step < self.steps)
        Xb, yb, perm = self._batch(state, data, state.step if clock is None else clock)
        b = Xb.shape[0]
        scale = b / self.n_train
        params = state.params

        def mean_loss(p):
            return self._loss(p, Xb, yb, hyper, scale) / b

        loss = mean_loss(params)
        g = jax.tree.map(lambda x: x / b, self._grad(params, Xb, yb, hyper, scale))
        opt_state = self._with_hyper(state.opt_state, hyper, state.step)
        updates, new_opt = self._optimizer().update(
            g, opt_state, params, value=loss, grad=g, value_fn=mean_loss
        )
        new_params = optax.apply_updates(params, updates)
        ok = jnp.isfinite(loss) & _tree_all_finite(g) & _tree_all_finite(new_params)
        commit = active & ok
        return TrainState(
            params=_tree_where(commit, new_params, params),
            opt_state=_tree_where(commit, new_opt, state.opt_state),
            step=state.step + commit.astype(jnp.int32),
            diverged_at=jnp.where(active & ~ok, state.step, state.diverged_at),
            stopped=state.stopped,
            key=state.key,
            perm=jnp.where(commit, perm, state.perm),
        )

    def evaluate(self, params: Any, hyper: dict[str, Any], data: Data) -> dict[str, jax.Array]:
        """Metrics of ``params`` on the full training and test splits (scalars).

        ``loss``: the task's sum loss on the training split (what is minimised);
        ``grad_norm``: ``‖∇L‖₂``; ``grad_max``: ``‖∇L‖_∞ / N`` (scikit-learn's and
        mcalc.solvers' stopping measure); ``param_norm``: ``‖θ‖₂``; each of the task's
        metrics (``accuracy`` or ``mse`` by default) and ``test_loss``/``test_<metric>``
        when there is a test split; with an optimum θ* in ``hyper["optimum"]`` also
        ``param_gap = ‖θ - θ*‖/‖θ*‖`` and ``objective_gap = L(θ) - L(θ*)``.

        Args:
          params: the task's parameter pytree.
          hyper: a dict from :meth:`hyper` (or :meth:`with_optimum`).
          data: the :class:`Data`.

        Returns:
          ``{name: scalar}``, the metrics above.

        Example:
          >>> m = jax.jit(program.evaluate)(state0.params, hyper, data)  # the class example's
          >>> sorted(m)
          ['accuracy', 'grad_max', 'grad_norm', 'loss', 'param_norm', 'test_accuracy', 'test_loss']
          >>> round(float(m["loss"]), 2)  # 32 log 2 at w = 0
          22.18
        """
        loss = self._loss(params, data.X, data.y, hyper, 1.0)
        g = self._grad(params, data.X, data.y, hyper, 1.0)
        out = {
            "loss": loss,
            "grad_norm": _global_norm(g),
            "grad_max": jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jax.tree.leaves(g)]))
            / self.n_train,
            "param_norm": _global_norm(params),
        }
        metrics = self.task.metric_fns()
        for name, fn in metrics.items():
            out[name] = jnp.asarray(fn(params, data.X, data.y), self.dtype)
        if self.n_test:
            out["test_loss"] = self._loss(params, data.X_test, data.y_test, hyper, 1.0)
            for name, fn in metrics.items():
                out[f"test_{name}"] = jnp.asarray(fn(params, data.X_test, data.y_test), self.dtype)
        if "optimum" in hyper:
            opt = hyper["optimum"]
            diff = jax.tree.map(jnp.subtract, params, opt)
            tiny = jnp.finfo(jnp.dtype(self.dtype)).tiny
            out["param_gap"] = _global_norm(diff) / jnp.maximum(_global_norm(opt), tiny)
            out["objective_gap"] = loss - self._loss(opt, data.X, data.y, hyper, 1.0)
        return out

    def chunk(
        self,
        state: TrainState,
        hyper: dict[str, jax.Array],
        data: Data,
        start: jax.Array | None = None,
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        """``log_every`` steps in one ``lax.scan``, then the metrics at the chunk's end.

        At the chunk's end the stopping rule (:func:`stop_rule`) is applied to the
        metrics: a state it stops is frozen from then on.

        Args:
          state: the current :class:`TrainState`.
          hyper: a dict from :meth:`hyper`.
          data: the :class:`Data`.
          start: the clock of the chunk's first step (see :meth:`step`), for lanes
            batched under ``vmap``; by default each state's own ``step``.

        Returns:
          ``(state, metrics)``: the state after the chunk, and :meth:`evaluate`'s metrics
          with ``step``, ``diverged_at``, ``stopped`` and ``learning_rate``.

        Example:
          >>> sorted(metrics)  # chunk's metrics in the class example
          ['accuracy', 'diverged_at', 'grad_max', 'grad_norm', 'learning_rate', 'loss', 'param_norm', 'step', 'stopped', 'test_accuracy', 'test_loss']
        """

        def body(s, i):
            return self.step(s, hyper, data, None if start is None else start + i), None

        steps = jnp.arange(self.log_every, dtype=jnp.int32)
        state, _ = jax.lax.scan(body, state, steps)
        metrics = self.evaluate(state.params, hyper, data)
        live = (state.stopped == 0) & (state.diverged_at < 0)
        state = state._replace(stopped=jnp.where(live, stop_rule(metrics, self), state.stopped))
        return state, self._with_fields(state, hyper, metrics)

    def report(self, state: TrainState, hyper: dict[str, Any], data: Data) -> dict[str, jax.Array]:
        """The metrics a chunk ends with, for ``state`` as it is (the initial point's record).

        Args:
          state: a :class:`TrainState`.
          hyper: a dict from :meth:`hyper`.
          data: the :class:`Data`.

        Returns:
          The same keys as :meth:`chunk`'s metrics.

        Example:
          >>> report = jax.jit(program.report)(state0, hyper, data)  # the class example's
          >>> int(report["step"]), round(float(report["loss"]), 2)
          (0, 22.18)
        """
        return self._with_fields(state, hyper, self.evaluate(state.params, hyper, data))

    def _with_fields(self, state: TrainState, hyper: dict[str, Any], metrics: dict) -> dict:
        metrics["step"] = state.step
        metrics["diverged_at"] = state.diverged_at
        metrics["stopped"] = state.stopped
        metrics["learning_rate"] = self.learning_rate(hyper, jnp.maximum(state.step - 1, 0))
        return metrics

    # ------------------------------------------------------------------ helpers

    def abstract_state(self) -> TrainState:
        """Shapes and dtypes of :meth:`init`'s state (for restoring checkpoints).

        Returns:
          A :class:`TrainState` of ``jax.ShapeDtypeStruct`` leaves (traced, nothing runs).

        Example:
          >>> program.abstract_state().step  # the program of the class example
          ShapeDtypeStruct(shape=(), dtype=int32)
        """
        return jax.eval_shape(self.init, jax.random.PRNGKey(0), self.hyper())

    def abstract_params(self) -> Any:
        """Shapes and dtypes of the parameters (for loading saved ones).

        Returns:
          The task's parameter pytree, of ``jax.ShapeDtypeStruct`` leaves.

        Example:
          >>> program.abstract_params()  # the program of the class example
          {'w': ShapeDtypeStruct(shape=(3,), dtype=float32)}
        """
        return self.abstract_state().params

    def with_optimum(self, hyper: dict[str, Any], data: Data) -> dict[str, Any]:
        """``hyper`` plus ``"optimum"``: the task's closed-form optimum on the training split
        for these hyperparameter values (host-side, before training); unchanged for a task
        without one.

        Args:
          hyper: a dict from :meth:`hyper`.
          data: the :class:`Data` (its training split).

        Returns:
          ``hyper``, with ``hyper["optimum"]`` (a parameter pytree) for a task that has
          :attr:`mcalc.Task.optimum`; then :meth:`evaluate` reports the gaps to it.

        Example:
          P4 (Gaussian linear regression) has a closed-form optimum; P2 has none:

          >>> cfg4 = mcalc.load_config("p4", {"data": {"source": "synthetic", "n_samples": 40,
          ...                                          "n_features": 3, "dtype": "float32"}})
          >>> dataset4 = mcalc.load_data(cfg4)
          >>> program4 = build_program(cfg4, dataset4)
          >>> hyper4 = program4.with_optimum(program4.hyper(), make_data(program4, dataset4))
          >>> hyper4["optimum"]["w"].shape  # 3 features and the intercept
          (4,)
          >>> program.with_optimum(hyper, data) is hyper
          True
        """
        if self.task.optimum is None:
            return hyper
        kw = {n: float(hyper[f"model.{n}"]) for n in self.task.traced_hyper}
        kw.update(self.static_hyper)
        opt = self.task.optimum(data.X, data.y, intercept=self.intercept, **kw)
        opt = jax.tree.map(lambda a: jnp.asarray(a, self.dtype), opt)
        return {**hyper, "optimum": opt}

    def flops_per_step(self) -> float:
        """FLOPs of one optimizer step of one lane: the task's own count
        (:attr:`mcalc.Task.flops`), else XLA's analysis of the compiled step's loss and
        gradient.

        Sweeps use it to choose how their lanes run (``sweep.lanes: auto``).

        Returns:
          The count, a float.

        Example:
          >>> program.flops_per_step()  # P2's own count (8 B D), 32 samples of 3 features
          768.0
        """
        kw = {n: self.task.hyper[n].default for n in self.task.traced_hyper}
        kw.update(self.static_hyper)
        if self.task.flops is not None:
            return float(self.task.flops(self.batch_rows, self.dim, **kw))
        hyper = self.hyper()
        params = self.abstract_params()
        X = jax.ShapeDtypeStruct((self.batch_rows, self.dim), jnp.dtype(self.dtype))
        y = jax.ShapeDtypeStruct((self.batch_rows,), jnp.dtype(self.dtype))
        scale = self.batch_rows / self.n_train
        lowered = jax.jit(lambda p, X, y, h: self._grad(p, X, y, h, scale)).lower(
            params, X, y, hyper
        )
        cost = lowered.cost_analysis() or {}
        if isinstance(cost, list):  # older JAX: one dict per device
            cost = cost[0] if cost else {}
        return float(cost.get("flops", 0.0)) * 1.5  # the loss beside the gradient


@functools.lru_cache(maxsize=16)
def compiled(program: Program) -> tuple[Any, Any, Any]:
    """``jax.jit`` of ``init``, ``report`` and ``chunk`` (its state donated), one per program.

    Programs that compare equal share them, so repeated runs of the same shapes in one
    process (a notebook, a test suite) compile once; across processes JAX's persistent
    compilation cache does the same.
    """
    return (
        jax.jit(program.init),
        jax.jit(program.report),
        jax.jit(program.chunk, donate_argnums=0),
    )


def build_program(config: Any, dataset: Any) -> Program:
    """The :class:`Program` of a config on a dataset's shapes.

    Args:
      config: a validated :class:`mcalc.config.Config`.
      dataset: a :class:`mcalc.data.Dataset` (only its shapes are read).

    Returns:
      The :class:`Program`: everything static about training this config on data of
      these shapes, checked with :func:`check_task`.

    Raises:
      ValueError: when ``train.batch_size`` exceeds the training samples, or the task's
        functions do not fit together on these shapes (:func:`check_task`).

    Example:
      >>> import mcalc
      >>> from mcalc.train import build_program
      >>> cfg = mcalc.load_config("p2", {"data": {"source": "synthetic", "n_samples": 40,
      ...                                         "n_features": 3, "dtype": "float32"}})
      >>> dataset = mcalc.load_data(cfg)
      >>> program = build_program(cfg, dataset)
      >>> program.n_train, program.n_test, program.dim, program.steps, program.log_every
      (32, 8, 3, 2000, 50)
      >>> build_program(mcalc.load_config(cfg, ["train.batch_size=64"]), dataset)
      Traceback (most recent call last):
      ...
      ValueError: mcalc.train: train.batch_size=64 exceeds the 32 training samples; use a smaller batch or null (full batch).
    """
    from ..task import resolve_task

    t, o, m = config.train, config.optimizer, config.model
    if t.batch_size is not None and t.batch_size > dataset.n_train:
        raise ValueError(
            f"mcalc.train: train.batch_size={t.batch_size} exceeds the {dataset.n_train} training "
            "samples; use a smaller batch or null (full batch)."
        )
    task = resolve_task(config.task)
    defaults: dict[str, float] = {f"model.{n}": float(getattr(m, n)) for n in task.traced_hyper}
    defaults["model.init_scale"] = float(m.init_scale)
    opt_fn = getattr(optax, o.name)
    opt_numeric, opt_values, opt_static = _split_args(opt_fn, dict(o.args))
    for k in opt_numeric:
        defaults[f"optimizer.args.{k}"] = opt_values[k]
    sched_name, sched_numeric, sched_static = None, (), ()
    if o.schedule is None:
        defaults["optimizer.learning_rate"] = float(o.learning_rate)
    else:
        sched_name = o.schedule.name
        s_fn = getattr(optax, sched_name)
        s_args = dict(o.schedule.args)
        sig = inspect.signature(s_fn).parameters
        # Only the arguments given are numeric here (schedules' float defaults stay inside optax).
        numeric = {
            k: float(v)
            for k, v in s_args.items()
            if isinstance(v, float)
            or (
                isinstance(v, int) and not isinstance(v, bool) and isinstance(sig[k].default, float)
            )
        }
        static = {k: v for k, v in s_args.items() if k not in numeric}
        if not _schedule_traceable(s_fn, static, numeric):
            static, numeric = s_args, {}
        sched_numeric = tuple(numeric)
        sched_static = tuple((k, _freeze(v)) for k, v in static.items())
        for k, v in numeric.items():
            defaults[f"optimizer.schedule.args.{k}"] = v
    program = Program(
        task=task,
        n_train=dataset.n_train,
        n_test=dataset.n_test,
        dim=dataset.dim,
        dtype=str(np.dtype(config.data.dtype)),
        batch_size=t.batch_size,
        steps=int(t.steps),
        log_every=int(t.log_every),
        grad=m.grad,
        intercept=bool(dataset.intercept),
        static_hyper=tuple((n, int(getattr(m, n))) for n in task.static_hyper),
        tol=t.tol,
        gap_tol=t.gap_tol,
        opt_name=o.name,
        opt_numeric=opt_numeric,
        opt_static=tuple((k, _freeze(v)) for k, v in opt_static),
        sched_name=sched_name,
        sched_numeric=sched_numeric,
        sched_static=sched_static,
        defaults=tuple(defaults.items()),
    )
    check_task(program)
    return program


def _tree_shapes(tree: Any) -> str:
    return ", ".join(
        f"{jax.tree_util.keystr(path) or '()'}: {list(leaf.shape)}"
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
    )


def check_task(program: Program) -> None:
    """Check, by tracing alone (nothing runs), that the task's functions fit together on the
    program's shapes: ``init`` gives float arrays, ``loss`` a scalar, ``grad`` a pytree shaped
    like the parameters, ``predict`` one output per sample.

    Args:
      program: a :class:`Program` (its task, shapes and dtype).

    Returns:
      None when the task's functions fit together.

    Raises:
      ValueError: naming the task and the function at fault, with the shapes it returned.

    Example:
      A loss that forgets to sum over the samples:

      >>> import dataclasses, jax.numpy as jnp, mcalc
      >>> from mcalc.train import build_program, check_task
      >>> cfg = mcalc.load_config("p2", {"data": {"source": "synthetic", "n_samples": 40,
      ...                                         "n_features": 3, "dtype": "float32"}})
      >>> program = build_program(cfg, mcalc.load_data(cfg))  # checked: P2 fits
      >>> unsummed = mcalc.Task(name="unsummed", loss=lambda p, X, y: (X @ p["w"] - y) ** 2,
      ...                       init=lambda key, D: {"w": jnp.zeros(D)},
      ...                       predict=lambda p, X: X @ p["w"])
      >>> check_task(dataclasses.replace(program, task=unsummed))
      Traceback (most recent call last):
      ...
      ValueError: mcalc.train: task 'unsummed': loss must return a scalar (the sum over samples); got shape (32,).
    """
    with jax.enable_x64(program.dtype == "float64"):
        _check_task(program)


def _check_task(program: Program) -> None:
    task = program.task
    where = f"mcalc.train: task {task.name!r}"
    hyper = program.hyper()
    dt = jnp.dtype(program.dtype)
    X = jax.ShapeDtypeStruct((program.batch_rows, program.dim), dt)
    y = jax.ShapeDtypeStruct((program.batch_rows,), dt)

    def trace(fn: Any, what: str, *args: Any) -> Any:
        try:
            return jax.eval_shape(fn, *args)
        except Exception as e:  # noqa: BLE001 - the user's function failed: say which and why
            raise ValueError(
                f"{where}: {what} failed on these shapes: {type(e).__name__}: {e}"
            ) from e

    state = trace(program.init, f"init(key, D={program.dim}, ...)", jax.random.PRNGKey(0), hyper)
    params = state.params
    for leaf in jax.tree.leaves(params):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise ValueError(
                f"{where}: init must return floating arrays; got {_tree_shapes(params)} of {leaf.dtype}."
            )
    if not jax.tree.leaves(params):
        raise ValueError(f"{where}: init returned no arrays (params must be a pytree of arrays).")
    kw = program.hyper_kwargs
    loss = trace(
        lambda p, X, y, h: task.loss(p, X, y, **kw(h)), "loss(params, X, y)", params, X, y, hyper
    )
    if not hasattr(loss, "shape") or loss.shape != ():
        raise ValueError(
            f"{where}: loss must return a scalar (the sum over samples); got shape "
            f"{getattr(loss, 'shape', type(loss).__name__)}."
        )
    if task.grad is not None and program.grad == "closed_form":
        g = trace(
            lambda p, X, y, h: task.grad(p, X, y, **kw(h)),
            "grad(params, X, y)",
            params,
            X,
            y,
            hyper,
        )
        same = jax.tree.structure(g) == jax.tree.structure(params) and all(
            a.shape == b.shape
            for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(params), strict=True)
        )
        if not same:
            raise ValueError(
                f"{where}: grad must return a pytree shaped like params ({_tree_shapes(params)}); "
                f"got {_tree_shapes(g)}."
            )
    out = trace(task.predict, "predict(params, X)", params, X)
    want = (program.batch_rows,) if task.labels != "categorical" else None
    shape = getattr(out, "shape", None)
    ok = (
        shape == want
        if want
        else (shape is not None and len(shape) == 2 and shape[0] == program.batch_rows)
    )
    if not ok:
        expect = f"[{program.batch_rows}]" if want else f"[{program.batch_rows}, K]"
        raise ValueError(
            f"{where}: predict(params, X) must return {expect} for X [{program.batch_rows}, {program.dim}]; got {shape}."
        )


def make_data(program: Program, dataset: Any) -> Data:
    """The :class:`Data` pytree of a dataset, as JAX arrays in the program's dtype.

    Args:
      program: the :class:`Program` built for ``dataset`` (its dtype is used).
      dataset: a :class:`mcalc.data.Dataset`: its training and test splits, as the model
        sees them (standardised, with any intercept column).

    Returns:
      ``Data(X [N, D'], y [N], X_test [N_test, D'], y_test [N_test])``.

    Example:
      >>> import mcalc
      >>> from mcalc.train import build_program, make_data
      >>> cfg = mcalc.load_config("p2", {"data": {"source": "synthetic", "n_samples": 40,
      ...                                         "n_features": 3, "dtype": "float32"}})
      >>> dataset = mcalc.load_data(cfg)
      >>> program = build_program(cfg, dataset)
      >>> data = make_data(program, dataset)
      >>> data.X.shape, data.y.shape, data.X_test.shape, data.X.dtype
      ((32, 3), (32,), (8, 3), dtype('float32'))
    """
    dtype = jnp.dtype(program.dtype)
    return Data(
        X=jnp.asarray(dataset.X_train, dtype),
        y=jnp.asarray(dataset.y_train, dtype),
        X_test=jnp.asarray(dataset.X_test, dtype),
        y_test=jnp.asarray(dataset.y_test, dtype),
    )
