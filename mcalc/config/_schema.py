"""The typed schema of a training config: dataclasses, one field per setting.

Each field carries a one-line ``help`` (its ``metadata``); the same text is the
comment beside the field in ``configs/*.yaml``, in every run folder's
``config.yaml`` and in the generated config reference. OmegaConf turns these
dataclasses into a structured config, so an unknown key or a value of the wrong
type is an error naming the key.

The ``model`` section depends on the task: besides ``n_features``, ``init_scale``
and ``grad``, it holds one field per hyperparameter the task declares
(:class:`mcalc.Hyper`), typed and documented by that declaration;
:func:`schema_for` builds that task's :class:`Config` class.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Config",
    "DataConfig",
    "ModelConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "TrainConfig",
    "SOURCES",
    "RELABELS",
    "GRADS",
    "DTYPES",
    "field_help",
    "schema_for",
]

SOURCES = ("synthetic", "breast_cancer", "diabetes", "csv", "npz")
RELABELS = ("none", "to_pm1", "to_01")
GRADS = ("closed_form", "autodiff")
DTYPES = ("float32", "float64")


def _f(default: Any, help: str) -> Any:  # noqa: A002 - "help" reads best in the schema
    """A dataclass field with a one-line ``help``; mutable defaults get a factory."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"help": help})
    if dataclasses.is_dataclass(default):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class DataConfig:
    """Where the samples come from and how they are prepared (the ``data`` section).

    Example:
      >>> import mcalc
      >>> mcalc.default_config("p4").data.source, mcalc.config.DataConfig().test_fraction
      ('diabetes', 0.2)
    """

    source: str = _f(
        "synthetic", "synthetic | breast_cancer | diabetes (bundled with scikit-learn) | csv | npz"
    )
    path: str | None = _f(
        None, "the CSV or NPZ file (source csv/npz), relative to the current directory"
    )
    target: str | None = _f(
        None,
        "label column of a CSV (header name or 0-based index; default: the last), or label key of an NPZ (default: y; features: X)",
    )
    n_samples: int = _f(500, "synthetic: number of samples, train and test together")
    n_features: int = _f(10, "synthetic: number of features D")
    noise: float = _f(
        1.0,
        "synthetic: real labels: std of the noise on y; class labels: temperature of y ~ Bernoulli(σ(a/noise)); 0 = noise-free (linearly separable for P2/P3)",
    )
    seed: int = _f(0, "seed of the synthetic generator and of the train/test split")
    test_fraction: float = _f(0.2, "share of the samples held out for testing, in [0, 1)")
    standardize: bool = _f(
        True, "centre and scale every feature by the mean and std of the training split"
    )
    intercept: bool = _f(
        False, "append a constant-1 feature (after standardising); its weight is not penalised"
    )
    relabel: str = _f(
        "none",
        "none | to_pm1 (labels {0,1} -> {-1,1}, e.g. breast cancer for P3) | to_01 ({-1,1} -> {0,1})",
    )
    dtype: str = _f("float64", "float32 | float64: dtype of the data and the parameters")


@dataclass
class ModelConfig:
    """The model: settings every task has (its own hyperparameters are added by :func:`schema_for`)."""

    n_features: int | None = _f(
        None,
        "expected number of input features D (before the intercept); null = whatever the data has",
    )
    init_scale: float = _f(
        1.0, "multiplies the task's random initial parameters (0 = start at zero)"
    )
    grad: str = _f(
        "closed_form",
        "closed_form (the task's derived gradient) | autodiff (jax.grad of the loss)",
    )


@dataclass
class ScheduleConfig:
    """An optax learning-rate schedule, by name (the ``optimizer.schedule`` section).

    Example:
      >>> import mcalc
      >>> schedule = mcalc.default_config("p7").optimizer.schedule
      >>> schedule.name, schedule.args
      ('cosine_decay_schedule', {'init_value': 0.01, 'decay_steps': 2000})
    """

    name: str = _f(
        "constant_schedule",
        "an optax schedule: cosine_decay_schedule, exponential_decay, warmup_cosine_decay_schedule, ...",
    )
    args: dict[str, Any] = _f({}, "its arguments, e.g. {init_value: 0.1, decay_steps: 1000}")


@dataclass
class OptimizerConfig:
    """The optax optimizer of ``solver: optax`` (the ``optimizer`` section).

    Example:
      >>> import mcalc
      >>> optimizer = mcalc.default_config("p2").optimizer
      >>> optimizer.name, optimizer.learning_rate, optimizer.args
      ('sgd', 0.5, {'momentum': 0.9})
    """

    name: str = _f(
        "sgd", "any optax optimizer by name: sgd, adam, adamw, lion, rmsprop, lbfgs, ..."
    )
    learning_rate: float | None = _f(0.1, "constant step size; must be null when a schedule is set")
    args: dict[str, Any] = _f(
        {}, "further arguments of the optimizer, e.g. {momentum: 0.9} for sgd"
    )
    schedule: ScheduleConfig | None = _f(
        None, "learning-rate schedule (replaces learning_rate); null = constant"
    )


@dataclass
class TrainConfig:
    """The training loop (the ``train`` section).

    Example:
      >>> import mcalc
      >>> mcalc.load_config("p2", ["train.steps=100"]).train.steps
      100
    """

    steps: int = _f(1000, "optimizer steps (solver optax), or the iteration cap of an exact solver")
    batch_size: int | None = _f(
        None, "samples per step, drawn without replacement each epoch; null = full batch"
    )
    log_every: int = _f(100, "steps between logging points (fused into one lax.scan)")
    checkpoint_every: int = _f(
        500, "steps between checkpoints, a multiple of log_every (0 = only at the end)"
    )
    keep_checkpoints: int = _f(2, "number of most recent checkpoints kept on disk")
    tol: float | None = _f(
        None,
        "stop once ‖∇L‖∞/N ≤ tol (largest entry of the mean-loss gradient, checked at logging points); exact solvers: their tolerance (null = their default)",
    )
    gap_tol: float | None = _f(
        None,
        "stop once the objective gap L(θ) - L(θ*) ≤ gap_tol, θ* the task's closed-form optimum (tasks that have one: p4)",
    )
    plots: bool = _f(True, "write loss and metric plots (PNG) into the run folder")


@dataclass
class Config:
    """One experiment: a task, its data, model, optimizer and training loop.

    Build one with :func:`mcalc.load_config` (a file, a task, overrides; validated) or
    :func:`mcalc.default_config`; constructed directly, it holds the schema's defaults
    and is validated only by :func:`mcalc.config.validate_config`.

    Example:
      >>> import mcalc
      >>> cfg = mcalc.Config()
      >>> cfg.task, cfg.solver, cfg.train.steps, cfg.data.source
      ('p2', 'optax', 1000, 'synthetic')
    """

    task: str = _f(
        "p2",
        "the problem: p2 (logistic + L2) | p3 (bipolar sigmoid) | p4 (Gaussian linear regression) | p7 (residual net) | your own mcalc.Task as MODULE:NAME or path/to/file.py:NAME",
    )
    name: str = _f(
        "p2",
        "run name: the run folder is runs/<name>-<timestamp> (default: the config file's name, else the task's)",
    )
    seed: int = _f(0, "seed of the initial parameters and the minibatch order")
    solver: str = _f(
        "optax",
        "optax (the optimizer below, step by step) | an exact solver of the task: newton, lbfgs (p2), closed_form (p4)",
    )
    data: DataConfig = _f(DataConfig(), "the samples")
    model: ModelConfig = _f(ModelConfig(), "the model and its loss")
    optimizer: OptimizerConfig = _f(OptimizerConfig(), "the optax optimizer (solver optax)")
    train: TrainConfig = _f(TrainConfig(), "the training loop")


def field_help(cls: type, name: str) -> str:
    """The one-line help of field ``name`` of dataclass ``cls``.

    Args:
      cls: a schema dataclass, e.g. :class:`TrainConfig`.
      name: one of its fields.

    Returns:
      The help text ("" for a field without one).

    Raises:
      KeyError: if ``cls`` has no field ``name``.

    Example:
      >>> from mcalc.config._schema import TrainConfig, field_help
      >>> field_help(TrainConfig, "keep_checkpoints")
      'number of most recent checkpoints kept on disk'
    """
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.metadata.get("help", "")
    raise KeyError(name)


_SCHEMAS: dict[int, tuple[Any, type]] = {}


def schema_for(task: Any) -> type:
    """The :class:`Config` class of ``task``: its ``model`` section has a typed field per
    hyperparameter the task declares (help from :attr:`mcalc.Hyper.help`), before the
    fields every task has. Built once per task object."""
    cached = _SCHEMAS.get(id(task))
    if cached is not None and cached[0] is task:
        return cached[1]
    fields: list[tuple[str, Any, Any]] = []
    for name, h in task.hyper.items():
        help_ = h.help or f"{task.name}: hyperparameter {name}"
        if h.ge is not None or h.gt is not None or h.le is not None or h.lt is not None:
            if h.describe() not in help_:
                help_ = f"{help_} ({h.describe()})"
        fields.append((name, int if h.static else float, _f(h.default, help_)))
    for f in dataclasses.fields(ModelConfig):
        fields.append((f.name, f.type, field(default=f.default, metadata=f.metadata)))
    hints = typing.get_type_hints(ModelConfig)
    fields = [(n, hints.get(n, t) if isinstance(t, str) else t, f) for n, t, f in fields]
    model_cls = dataclasses.make_dataclass("ModelConfig", fields)
    model_cls.__doc__ = f"The model section of task {task.name!r}."
    config_cls = dataclasses.make_dataclass(
        "Config",
        [("model", model_cls, _f(model_cls(), "the model and its loss"))],
        bases=(Config,),
    )
    config_cls.__doc__ = Config.__doc__
    for cls in (model_cls, config_cls):
        cls.__module__ = __name__
    _SCHEMAS[id(task)] = (task, config_cls)
    return config_cls
