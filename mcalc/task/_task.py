"""The public description of a trainable problem: :class:`Task`, its :class:`Hyper` parameters,
exact :class:`Solver` s and a :class:`Reference` fit.

A task is data: pure functions and declarations. Everything mcalc does with a problem --
training from a config, sweeps, resuming, verification, reports, loading a trained model
and predicting -- reads it from here, so a user's task gets exactly what the built-in
ones get (they are defined with this same class, one file each).
"""

from __future__ import annotations

import dataclasses
import keyword
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "Task",
    "Hyper",
    "Solver",
    "Solution",
    "Reference",
    "LABEL_KINDS",
    "RESERVED_MODEL_KEYS",
]

#: What a task's labels are: {0, 1}; {-1, 1}; any real number; classes {0, ..., K-1}.
LABEL_KINDS = ("binary", "pm1", "real", "categorical")

#: ``model.*`` config keys every task has; a task's hyperparameters take other names.
RESERVED_MODEL_KEYS = ("n_features", "init_scale", "grad")

#: Names every run logs at each point; a task's metrics take other names.
RESERVED_METRICS = (
    "loss", "grad_norm", "grad_max", "param_norm", "param_gap", "objective_gap", "step",
    "chunk", "lane", "stopped", "diverged_at", "learning_rate", "time_s",
)  # fmt: skip

# Metric names that are maximised when picking the best configuration of a sweep.
_HIGHER_IS_BETTER = ("accuracy", "r2", "auc", "f1", "precision", "recall", "log_likelihood")


@dataclasses.dataclass(frozen=True)
class Hyper:
    """A hyperparameter of a task: its default and the range the config and sweeps enforce.

    Each becomes a config key ``model.<name>`` that a sweep may vary. A float
    hyperparameter is *traced*: every lane of a sweep gets its own value inside one
    compiled program. A ``static`` one is a Python int that fixes a shape (a hidden
    width, a number of classes): a sweep over it compiles one program per value.

    Attributes:
      default: the value when the config does not set it.
      ge, gt, le, lt: bounds: ``value >= ge``, ``> gt``, ``<= le``, ``< lt`` (``None``: none).
      static: an int that changes shapes (not traced).
      help: one line for the config's comments and reference.

    Example:
      >>> import mcalc
      >>> mcalc.Hyper(1.0, ge=0.0, help="λ of the penalty λ‖w‖²").check("lam", 0.5)
      0.5
    """

    default: float | int
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    static: bool = False
    help: str = ""

    def describe(self) -> str:
        """The range in words, e.g. ``"a number ≥ 0"``, as error messages and the config
        reference say it.

        Returns:
          ``"a number"`` or ``"an int"`` (``static``), followed by its bounds.

        Example:
          >>> import mcalc
          >>> mcalc.Hyper(0.5, gt=0.0, lt=1.0).describe()
          'a number > 0 and < 1'
          >>> mcalc.Hyper(16, ge=1, static=True).describe()
          'an int ≥ 1'
        """
        kind = "an int" if self.static else "a number"
        parts = [
            f"{op} {bound:g}"
            for op, bound in (("≥", self.ge), (">", self.gt), ("≤", self.le), ("<", self.lt))
            if bound is not None
        ]
        return f"{kind} {' and '.join(parts)}".strip() if parts else kind

    def check(self, name: str, value: Any, where: str = "") -> float | int:
        """``value`` as the hyperparameter's type, or a ``ValueError`` naming ``model.<name>``.

        Args:
          name: the hyperparameter's name (the config key ``model.<name>``).
          value: the value to check.
          where: where the value came from (a file, an override), to begin the message.

        Returns:
          ``value`` as a ``float`` (an ``int`` for a ``static`` hyperparameter).

        Raises:
          ValueError: for a value of the wrong type (a bool, a string; a float for a
            ``static`` one), not finite, or outside the bounds.

        Example:
          >>> import mcalc
          >>> lam = mcalc.Hyper(1.0, ge=0.0)
          >>> lam.check("lam", 2)
          2.0
          >>> lam.check("lam", -1.0, where="config.yaml")
          Traceback (most recent call last):
          ...
          ValueError: config.yaml: config key 'model.lam' must be finite, a number ≥ 0; got -1.0.
        """
        prefix = f"{where}: " if where else ""
        key = f"model.{name}"
        if self.static:
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        else:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not ok:
            raise ValueError(
                f"{prefix}config key '{key}' must be {self.describe()}; got {value!r} "
                f"({type(value).__name__})."
            )
        value = int(value) if self.static else float(value)
        bad = not math.isfinite(value)
        bad |= self.ge is not None and not value >= self.ge
        bad |= self.gt is not None and not value > self.gt
        bad |= self.le is not None and not value <= self.le
        bad |= self.lt is not None and not value < self.lt
        if bad:
            raise ValueError(
                f"{prefix}config key '{key}' must be finite, {self.describe()}; got {value!r}."
            )
        return value


class Solution(NamedTuple):
    """What an exact :class:`Solver` returns.

    Attributes:
      params: the solution, a pytree like the task's parameters.
      n_iter: iterations (1 for a closed form).
      converged: whether the solver's own stopping rule was met.
      info: JSON-ready details for the run's summary (residuals, rank, warnings, ...).
      summary: one phrase for the run's final message (default: the solver's name, whether
        it converged and in how many iterations).

    Example:
      >>> import numpy as np, mcalc
      >>> sol = mcalc.Solution(params={"w": np.array([0.5, 2.0])}, n_iter=1, converged=True,
      ...                      info={"method": "normal equations"})
      >>> sol.n_iter, sol.converged, sol.summary
      (1, True, '')
    """

    params: Any
    n_iter: int
    converged: bool
    info: dict[str, Any]
    summary: str = ""


@dataclasses.dataclass(frozen=True)
class Solver:
    """An exact solver a config can choose with ``solver: <name>`` instead of optax.

    Attributes:
      fn: ``fn(X, y, *, params, tol, max_iter, intercept, **hyper) -> Solution``:
        ``params`` is the initial point, ``tol`` the config's ``train.tol`` (``None``: the
        solver's default), ``max_iter`` its ``train.steps``, ``intercept`` whether the last
        column of ``X`` is the constant 1 of ``data.intercept``.
      help: one line for the config reference.
      intercept: whether it can leave an intercept column's weight unpenalised
        (``data.intercept: true``); when not, such configs are refused.

    Example:
      A ridge regression's exact solution, from its normal equations
      ``(XᵀX + λI) w = Xᵀy``; a task lists it as ``solvers={"exact": exact}``:

      >>> import numpy as np, mcalc
      >>> def normal_equations(X, y, *, params, tol, max_iter, intercept, lam):
      ...     w = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y)
      ...     return mcalc.Solution({"w": w}, n_iter=1, converged=True, info={})
      >>> exact = mcalc.Solver(normal_equations, help="the normal equations", intercept=False)
      >>> X, y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 2.0, 3.0])
      >>> exact.fn(X, y, params=None, tol=None, max_iter=1, intercept=False, lam=1.0).params
      {'w': array([0.875, 1.375])}
    """

    fn: Callable[..., Solution]
    help: str = ""
    intercept: bool = True


@dataclasses.dataclass(frozen=True)
class Reference:
    """A reference fit a reader would check a run against (reported beside it, timed).

    Attributes:
      name: what it is, e.g. ``"scikit-learn LogisticRegression"``.
      fit: ``fit(X, y, *, intercept, **hyper) -> params`` on the training split as the
        model sees it (standardised, with the intercept column last when ``intercept``);
        NumPy arrays are fine.

    Example:
      >>> import numpy as np, mcalc
      >>> ref = mcalc.Reference(
      ...     "NumPy least squares",
      ...     lambda X, y, *, intercept: {"w": np.linalg.lstsq(X, y, rcond=None)[0]},
      ... )
      >>> X, y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 2.0, 3.0])
      >>> ref.fit(X, y, intercept=False)
      {'w': array([1., 2.])}
    """

    name: str
    fit: Callable[..., Any]


def _accuracy_binary(params, X, y, predict):
    return jnp.mean(((predict(params, X) > 0.5) == (y > 0.5)).astype(X.dtype))


def _accuracy_pm1(params, X, y, predict):
    return jnp.mean((jnp.where(predict(params, X) >= 0, 1, -1) == y).astype(X.dtype))


def _accuracy_categorical(params, X, y, predict):
    return jnp.mean((jnp.argmax(predict(params, X), axis=-1) == y).astype(X.dtype))


def _mse(params, X, y, predict):
    return jnp.mean((predict(params, X) - y) ** 2)


_DEFAULT_METRICS = {
    "binary": ("accuracy", _accuracy_binary),
    "pm1": ("accuracy", _accuracy_pm1),
    "categorical": ("accuracy", _accuracy_categorical),
    "real": ("mse", _mse),
}


def _callable(task: str, field: str, value: Any, signature: str, *, required: bool) -> None:
    if value is None:
        if required:
            raise ValueError(f"mcalc.Task {task!r}: {field} is required: {signature}.")
        return
    if not callable(value):
        raise TypeError(
            f"mcalc.Task {task!r}: {field} must be a function {signature}; got "
            f"{type(value).__name__}."
        )


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """A trainable problem: its loss, closed-form gradient, parameters, predictions and labels.

    A task written by a user gets everything the built-in ones (``mcalc.tasks()``) get:
    a config names it (``task: mypkg.losses:poisson`` or ``task: path/to/file.py:poisson``)
    or Python passes the object; then ``mcalc train``, ``mcalc sweep`` over its
    ``model.<hyper>`` keys, resuming, ``mcalc verify --task``, the run report and
    ``mcalc.load_run(...).predict`` all work for it. ``name``, ``loss``, ``init`` and
    ``predict`` are required; the capabilities (``penalty`` to ``defaults``) each unlock
    something when given.

    Attributes:
      name: a short name (run folders are named after it by default).
      loss: ``loss(params, X, y, **hyper) -> scalar``, the **sum** over samples (plus any
        penalty). ``X: [N, D]`` one sample per row; ``y: [N]``.
      init: ``init(key, D, **hyper) -> params``, a pytree (e.g. ``{"w": [D]}``) of the
        initial parameters for ``D`` input features; the config's ``model.init_scale``
        multiplies it (0 starts at zero).
      predict: ``predict(params, X) -> [N]`` (``[N, K]`` class probabilities for
        categorical labels), the model's output in the labels' range: a probability of
        class 1 for ``"binary"``, a value in ``[-1, 1]`` for ``"pm1"``, the prediction
        for ``"real"``.
      grad: the closed-form gradient, same signature as ``loss``, returning a pytree
        shaped like ``params``; ``None`` trains with ``jax.grad(loss)``.
      labels: ``"binary"`` ({0, 1}), ``"pm1"`` ({-1, 1}), ``"real"`` or ``"categorical"``
        ({0, ..., K-1}, with ``K`` the static hyperparameter ``n_classes``); data are
        checked against it.
      hyper: name -> default value or :class:`Hyper`; each is a config key
        ``model.<name>``, passed to every function as a keyword argument.
      metrics: name -> ``metric(params, X, y) -> scalar``, reported on the training and
        test splits; default: ``accuracy`` for class labels, ``mse`` for real ones. The
        first is the one sweeps rank by (maximised for accuracy-like names, else
        minimised).
      title: a human name for reports.
      penalty: ``penalty(params, **hyper) -> scalar``, the part of ``loss`` that is not a
        sum over samples; minibatch steps then scale it by ``B/N`` (an unbiased estimate
        of ``L/N``), and ``data.intercept`` can leave the intercept unpenalised.
      unpenalized: ``unpenalized(params) -> mask``, a pytree of 0/1 like ``params``, 0 on
        the intercept column's weight (the last input feature); needed with ``penalty``
        for ``data.intercept: true``.
      optimum: ``optimum(X, y, *, intercept, **hyper) -> params``, the closed-form
        minimiser (``intercept``: whether the last column of ``X`` is the constant 1): runs
        report ``param_gap`` and ``objective_gap`` against it, and ``train.gap_tol`` can
        stop on it.
      solvers: name -> :class:`Solver`, exact solvers selectable with ``solver: <name>``.
      hessian: ``hessian(params, X, y, **hyper)``, the closed-form Hessian over the
        flattened parameters.
      reference: a :class:`Reference` fit shown beside the run in ``mcalc run``'s report.
      flops: ``flops(batch, D, **hyper) -> float``, FLOPs of one step (sweeps use it to
        choose how lanes run; default: XLA's own count).
      synthetic: ``synthetic(rng, n_samples, n_features, noise, **hyper) -> (X, y)`` with
        ``rng`` a ``numpy.random.Generator``: data for ``data.source: synthetic``
        (default: a random linear model whose outputs are made into labels of the task's
        kind).
      defaults: config values under every config of this task (its embedded default,
        what ``mcalc train <task>`` trains), e.g. ``{"data": {"source": "diabetes"}}``.

    Raises:
      ValueError, TypeError: at construction, naming the task and the field: a missing
        ``loss``, ``init`` or ``predict``, a field that is not callable, an unknown label
        kind, a hyperparameter that clashes with a reserved ``model.*`` key or whose
        default is outside its own range.

    Example:
      >>> import jax, jax.numpy as jnp, mcalc
      >>> ridge = mcalc.Task(
      ...     name="ridge",
      ...     loss=lambda p, X, y, lam: jnp.sum((X @ p["w"] - y) ** 2) + lam * p["w"] @ p["w"],
      ...     grad=lambda p, X, y, lam: {"w": 2 * X.T @ (X @ p["w"] - y) + 2 * lam * p["w"]},
      ...     init=lambda key, D, lam: {"w": jnp.zeros(D)},
      ...     predict=lambda p, X: X @ p["w"],
      ...     labels="real",
      ...     hyper={"lam": mcalc.Hyper(1.0, ge=0.0, help="λ of the penalty λ‖w‖²")},
      ... )
      >>> ridge.hyper_defaults()
      {'lam': 1.0}
    """

    name: str = ""
    loss: Callable[..., jax.Array] | None = None
    init: Callable[..., Any] | None = None
    predict: Callable[..., jax.Array] | None = None
    grad: Callable[..., Any] | None = None
    labels: str = "real"
    hyper: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    metrics: Mapping[str, Callable[..., jax.Array]] | None = None
    title: str = ""
    penalty: Callable[..., jax.Array] | None = None
    unpenalized: Callable[[Any], Any] | None = None
    optimum: Callable[..., Any] | None = None
    solvers: Mapping[str, Solver] = dataclasses.field(default_factory=dict)
    hessian: Callable[..., jax.Array] | None = None
    reference: Reference | None = None
    flops: Callable[..., float] | None = None
    synthetic: Callable[..., tuple[Any, Any]] | None = None
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        name = self.name
        if (
            not isinstance(name, str)
            or not name
            or any(c in name for c in "/\\:")
            or name
            in (
                ".",
                "..",
            )
        ):
            raise ValueError(
                f"mcalc.Task: name must be a non-empty string without '/', '\\' or ':'; got "
                f"{name!r}."
            )
        sig = "(params, X, y, **hyper)"
        _callable(name, "loss", self.loss, f"loss{sig} returning the summed loss", required=True)
        _callable(
            name,
            "init",
            self.init,
            "init(key, D, **hyper) returning the initial params",
            required=True,
        )
        _callable(
            name, "predict", self.predict, "predict(params, X) returning [N] outputs", required=True
        )
        _callable(
            name, "grad", self.grad, f"grad{sig} returning a pytree like params", required=False
        )
        _callable(
            name, "penalty", self.penalty, "penalty(params, **hyper) -> scalar", required=False
        )
        _callable(
            name, "unpenalized", self.unpenalized, "unpenalized(params) -> 0/1 mask", required=False
        )
        _callable(
            name,
            "optimum",
            self.optimum,
            "optimum(X, y, *, intercept, **hyper) -> params",
            required=False,
        )
        _callable(name, "hessian", self.hessian, f"hessian{sig} -> [P, P]", required=False)
        _callable(name, "flops", self.flops, "flops(batch, D, **hyper) -> float", required=False)
        _callable(
            name,
            "synthetic",
            self.synthetic,
            "synthetic(rng, n_samples, n_features, noise, **hyper) -> (X, y)",
            required=False,
        )
        if self.labels not in LABEL_KINDS:
            raise ValueError(
                f"mcalc.Task {name!r}: labels must be one of {', '.join(LABEL_KINDS)}; got "
                f"{self.labels!r}."
            )
        if not isinstance(self.hyper, Mapping):
            raise TypeError(
                f"mcalc.Task {name!r}: hyper must be a mapping name -> default or mcalc.Hyper; "
                f"got {type(self.hyper).__name__}."
            )
        hyper = {}
        for key, spec in self.hyper.items():
            if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
                raise ValueError(
                    f"mcalc.Task {name!r}: hyperparameter names must be Python identifiers "
                    f"(they are keyword arguments); got {key!r}."
                )
            if key in RESERVED_MODEL_KEYS:
                raise ValueError(
                    f"mcalc.Task {name!r}: hyperparameter {key!r} clashes with the config key "
                    f"model.{key} that every task has; rename it."
                )
            if not isinstance(spec, Hyper):
                if isinstance(spec, bool) or not isinstance(spec, numbers.Real):
                    raise TypeError(
                        f"mcalc.Task {name!r}: hyper[{key!r}] must be a number (its default) or "
                        f"mcalc.Hyper; got {spec!r}."
                    )
                spec = Hyper(float(spec))
            try:
                spec.check(key, spec.default)
            except ValueError as e:
                raise ValueError(
                    f"mcalc.Task {name!r}: the default of hyper[{key!r}]: {e}"
                ) from None
            hyper[key] = spec
        object.__setattr__(self, "hyper", hyper)
        if self.labels == "categorical" and not (
            "n_classes" in hyper and hyper["n_classes"].static
        ):
            raise ValueError(
                f"mcalc.Task {name!r}: categorical labels need the number of classes as a static "
                "hyperparameter named n_classes, e.g. hyper={'n_classes': mcalc.Hyper(3, ge=2, "
                "static=True)}."
            )
        if self.metrics is not None:
            if not isinstance(self.metrics, Mapping) or not self.metrics:
                raise TypeError(
                    f"mcalc.Task {name!r}: metrics must be a non-empty mapping name -> "
                    f"metric(params, X, y); got {self.metrics!r}."
                )
            for key, fn in self.metrics.items():
                _callable(
                    name, f"metrics[{key!r}]", fn, "metric(params, X, y) -> scalar", required=True
                )
                if not isinstance(key, str) or not key.isidentifier() or key.startswith("test_"):
                    raise ValueError(
                        f"mcalc.Task {name!r}: metric names must be identifiers not starting "
                        f"with 'test_' (that prefix marks the test split); got {key!r}."
                    )
                if key in RESERVED_METRICS:
                    raise ValueError(
                        f"mcalc.Task {name!r}: metric {key!r} clashes with a value every run "
                        f"logs ({', '.join(RESERVED_METRICS)}); rename it."
                    )
        if not isinstance(self.solvers, Mapping):
            raise TypeError(f"mcalc.Task {name!r}: solvers must be a mapping name -> mcalc.Solver.")
        for key, solver in self.solvers.items():
            if key == "optax" or not isinstance(key, str) or not key.isidentifier():
                raise ValueError(
                    f"mcalc.Task {name!r}: solver names must be identifiers other than 'optax'; "
                    f"got {key!r}."
                )
            if not isinstance(solver, Solver):
                raise TypeError(
                    f"mcalc.Task {name!r}: solvers[{key!r}] must be a mcalc.Solver; got "
                    f"{type(solver).__name__}."
                )
        if self.reference is not None and not isinstance(self.reference, Reference):
            raise TypeError(
                f"mcalc.Task {name!r}: reference must be a mcalc.Reference; got "
                f"{type(self.reference).__name__}."
            )
        if not isinstance(self.defaults, Mapping):
            raise TypeError(f"mcalc.Task {name!r}: defaults must be a mapping of config keys.")
        object.__setattr__(self, "title", self.title or name)

    # ------------------------------------------------------------------ derived views

    def hyper_defaults(self) -> dict[str, float | int]:
        """Every hyperparameter's default, by name.

        Returns:
          ``{name: default}``, in declaration order.

        Example:
          >>> import mcalc
          >>> mcalc.tasks()["p7"].hyper_defaults()
          {'hidden': 16}
        """
        return {k: h.default for k, h in self.hyper.items()}

    @property
    def traced_hyper(self) -> tuple[str, ...]:
        """The hyperparameters traced under ``vmap`` (floats), in declaration order.

        A sweep gives every lane its own value of these inside one compiled program.

        Example:
          >>> import mcalc
          >>> mcalc.tasks()["p2"].traced_hyper, mcalc.tasks()["p7"].traced_hyper
          (('lam',), ())
        """
        return tuple(k for k, h in self.hyper.items() if not h.static)

    @property
    def static_hyper(self) -> tuple[str, ...]:
        """The shape-fixing integer hyperparameters, in declaration order.

        A sweep over one of these compiles a program per value.

        Example:
          >>> import mcalc
          >>> mcalc.tasks()["p2"].static_hyper, mcalc.tasks()["p7"].static_hyper
          ((), ('hidden',))
        """
        return tuple(k for k, h in self.hyper.items() if h.static)

    def metric_fns(self) -> dict[str, Callable[..., jax.Array]]:
        """name -> ``metric(params, X, y)``: the task's own, or the default of its label kind.

        Returns:
          ``{name: metric}``, each ``metric(params, X: [N, D], y: [N]) -> scalar``: the
          task's ``metrics``, else ``accuracy`` for class labels, ``mse`` for real ones.

        Example:
          >>> import jax.numpy as jnp, mcalc
          >>> accuracy = mcalc.tasks()["p2"].metric_fns()["accuracy"]
          >>> X, y = jnp.array([[2.0, 0.0], [0.0, 2.0]]), jnp.array([1.0, 1.0])
          >>> float(accuracy({"w": jnp.array([1.0, -1.0])}, X, y))
          0.5
        """
        if self.metrics is not None:
            return dict(self.metrics)
        name, fn = _DEFAULT_METRICS[self.labels]
        predict = self.predict
        return {name: lambda params, X, y: fn(params, X, y, predict)}

    @property
    def metric(self) -> str:
        """Name of the first metric, the one sweeps rank configurations by.

        Example:
          >>> import mcalc
          >>> mcalc.tasks()["p2"].metric, mcalc.tasks()["p4"].metric
          ('accuracy', 'mse')
        """
        return next(iter(self.metric_fns()))

    @staticmethod
    def higher_is_better(metric: str) -> bool:
        """Whether a sweep maximises ``metric`` (accuracy-like names) or minimises it.

        Args:
          metric: a metric name, with or without the ``test_`` prefix.

        Returns:
          True for names containing accuracy, r2, auc, f1, precision, recall or
          log_likelihood; False otherwise (losses, errors).

        Example:
          >>> import mcalc
          >>> mcalc.Task.higher_is_better("test_accuracy"), mcalc.Task.higher_is_better("mse")
          (True, False)
        """
        base = metric.removeprefix("test_")
        return any(word in base for word in _HIGHER_IS_BETTER)

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={h.default!r}" for k, h in self.hyper.items())
        return f"mcalc.Task({self.name!r}, labels={self.labels!r}, hyper={{{hyper}}})"
