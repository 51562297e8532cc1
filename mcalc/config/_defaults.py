"""The embedded default config of each task: what ``mcalc run`` trains.

They live in the package (not in the top-level ``configs/`` folder, which a
plain ``pip install .`` does not ship), and ``configs/<task>.yaml`` mirrors each
of them field by field (a test checks that they resolve to the same config).
Each default trains on the task's real data in a few seconds.
"""

from __future__ import annotations

from ._schema import (
    Config,
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrainConfig,
)

__all__ = ["default_config"]


def _p2() -> Config:
    # L2-logistic regression on standardised breast cancer, full-batch heavy-ball GD.
    return Config(
        task="p2",
        name="p2",
        data=DataConfig(source="breast_cancer"),
        model=ModelConfig(lam=1.0),
        optimizer=OptimizerConfig(name="sgd", learning_rate=0.5, args={"momentum": 0.9}),
        train=TrainConfig(steps=2000, log_every=50, checkpoint_every=1000, tol=1e-6),
    )


def _p3() -> Config:
    # The bipolar sigmoid unit on breast cancer, labels mapped {0,1} -> {-1,1} explicitly.
    return Config(
        task="p3",
        name="p3",
        data=DataConfig(source="breast_cancer", relabel="to_pm1"),
        optimizer=OptimizerConfig(name="sgd", learning_rate=0.5, args={"momentum": 0.9}),
        train=TrainConfig(steps=2000, log_every=50, checkpoint_every=1000),
    )


def _p4() -> Config:
    # Gaussian linear regression on diabetes: GD on the NLL, compared with the closed form.
    return Config(
        task="p4",
        name="p4",
        data=DataConfig(source="diabetes", intercept=True),
        model=ModelConfig(sigma2=1.0),
        optimizer=OptimizerConfig(name="sgd", learning_rate=0.1, args={"momentum": 0.9}),
        train=TrainConfig(steps=2000, log_every=50, checkpoint_every=1000, gap_tol=1e-9),
    )


def _p7() -> Config:
    # The residual network on breast cancer: minibatch Adam with a cosine schedule, float32.
    return Config(
        task="p7",
        name="p7",
        data=DataConfig(source="breast_cancer", dtype="float32"),
        model=ModelConfig(hidden=16, init_scale=1.0),
        optimizer=OptimizerConfig(
            name="adam",
            learning_rate=None,
            schedule=ScheduleConfig(
                name="cosine_decay_schedule", args={"init_value": 0.01, "decay_steps": 2000}
            ),
        ),
        train=TrainConfig(steps=2000, batch_size=64, log_every=100, checkpoint_every=1000),
    )


_DEFAULTS = {"p2": _p2, "p3": _p3, "p4": _p4, "p7": _p7}


def default_config(task: str) -> Config:
    """The embedded default :class:`Config` of ``task`` (``"p2"``, ``"p3"``, ``"p4"``, ``"p7"``).

    Args:
      task: the task name.

    Returns:
      A fresh :class:`Config` (safe to modify).

    Raises:
      ValueError: for an unknown task.

    Example:
      >>> import mcalc
      >>> mcalc.default_config("p4").data.source
      'diabetes'
    """
    try:
        return _DEFAULTS[task]()
    except (KeyError, TypeError):
        raise ValueError(
            f"mcalc.default_config: task must be one of {', '.join(_DEFAULTS)}; got {task!r} "
            "(P1, P5 and P6 have no model to train)."
        ) from None
