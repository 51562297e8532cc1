"""The typed schema of a training config: dataclasses, one field per setting.

Each field carries a one-line ``help`` (its ``metadata``); the same text is the
comment beside the field in ``configs/*.yaml`` and in every run folder's
``config.yaml``, and the docs' config reference is generated from it. OmegaConf
turns these dataclasses into a structured config, so an unknown key or a value
of the wrong type is an error naming the key.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Config",
    "DataConfig",
    "ModelConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "TrainConfig",
    "TASKS",
    "SOLVERS",
    "SOURCES",
    "RELABELS",
    "GRADS",
    "DTYPES",
    "field_help",
]

TASKS = ("p2", "p3", "p4", "p7")
SOLVERS = ("optax", "newton", "lbfgs", "closed_form")
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
        "synthetic: P4 std of the noise on y; P2/P3/P7 label temperature, y ~ Bernoulli(σ(a/noise)); 0 = noise-free (linearly separable for P2/P3)",
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
    """The model and its loss (the ``model`` section).

    Example:
      >>> import mcalc
      >>> mcalc.default_config("p7").model.hidden
      16
    """

    lam: float = _f(1.0, "P2: λ ≥ 0 of the penalty λ‖w‖² (the intercept is not penalised)")
    sigma2: float = _f(1.0, "P4: noise variance σ² > 0 of the Gaussian likelihood")
    hidden: int = _f(16, "P7: hidden width M of the residual network (D comes from the data)")
    n_features: int | None = _f(
        None,
        "expected number of input features D (before the intercept); null = whatever the data has",
    )
    init_scale: float = _f(
        0.0, "scale of the random initial parameters (0 = start at zero; P7 at 1 = LeCun-normal)"
    )
    grad: str = _f(
        "closed_form", "closed_form (mcalc's derived gradient) | autodiff (jax.grad of the loss)"
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
        None, "P4: stop once the objective gap L(w) - L(w*) ≤ gap_tol, w* the closed form"
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
        "the problem: p2 (logistic + L2) | p3 (bipolar sigmoid) | p4 (Gaussian linear regression) | p7 (residual net)",
    )
    name: str = _f(
        "p2",
        "run name: the run folder is runs/<name>-<timestamp> (a file without one: its file name)",
    )
    seed: int = _f(0, "seed of the initial parameters and the minibatch order")
    solver: str = _f(
        "optax",
        "optax (the optimizer below, step by step) | newton | lbfgs (P2, mcalc.solvers) | closed_form (P4)",
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
