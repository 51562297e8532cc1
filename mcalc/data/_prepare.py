"""From a config to checked, split, standardised arrays: :func:`load_data`.

Order of operations: read the source -> relabel (only when asked) -> check
finiteness and labels -> seeded train/test split -> standardise with the training
split's statistics -> append the intercept column -> check the feature count
against the model -> cast to the config's dtype.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .. import _validation as v
from . import _sources

__all__ = ["Dataset", "load_data", "LABEL_SETS"]

_FN = "mcalc.load_data"

#: The label set of each label kind (:attr:`mcalc.Task.labels`): the two label values, or
#: ``None`` for real targets and for categorical ones (``0, 1, ..., K-1``, checked apart).
LABEL_SETS: dict[str, tuple[float, float] | None] = {
    "binary": (0.0, 1.0),
    "pm1": (-1.0, 1.0),
    "real": None,
    "categorical": None,
}


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Training and test arrays of one task, ready for the model.

    :func:`load_data` builds it from a config; ``n_train``, ``n_test`` and ``dim``
    (``D'``, the columns the model sees) are derived from the arrays.

    Attributes:
      X_train: ``[N, D']`` features (``D' = D + 1`` with an intercept column, last).
      y_train: ``[N]`` labels or targets.
      X_test: ``[N_test, D']`` (``N_test`` may be 0).
      y_test: ``[N_test]``.
      feature_names: ``D'`` names (``"intercept"`` last when there is one).
      description: where the samples came from, for reports.
      n_features: ``D``, features before the intercept.
      intercept: whether the last column is the constant 1.
      mean: ``[D]`` the means the features were centred by, fitted on the training
        split (``None`` when not standardised).
      scale: ``[D]`` the standard deviations they were divided by: ``x_std = (x - mean) /
        scale`` (``None`` when not standardised).
      target: the label column's name in a CSV with a header (``None`` otherwise).

    Example:
      >>> import mcalc
      >>> ds = mcalc.load_data(mcalc.load_config("p4"))  # diabetes, with an intercept
      >>> ds.n_train, ds.n_test, ds.n_features, ds.dim, ds.feature_names[-1]
      (354, 88, 10, 11, 'intercept')
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    description: str
    n_features: int
    intercept: bool
    mean: np.ndarray | None
    scale: np.ndarray | None
    target: str | None = None

    @property
    def n_train(self) -> int:
        """``N``: training samples."""
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        """``N_test``: test samples (may be 0)."""
        return int(self.X_test.shape[0])

    @property
    def dim(self) -> int:
        """``D'``: columns of ``X`` as the model sees them (intercept included)."""
        return int(self.X_train.shape[1])


def _raw(config: Any, task: Any) -> _sources.Raw:
    d = config.data
    if d.source == "synthetic":
        return _sources.synthetic(
            task,
            n_samples=d.n_samples,
            n_features=d.n_features,
            noise=d.noise,
            seed=d.seed,
            hyper={n: getattr(config.model, n) for n in task.hyper},
        )
    if d.source == "breast_cancer":
        return _sources.breast_cancer()
    if d.source == "diabetes":
        return _sources.diabetes()
    if d.source == "csv":
        return _sources.read_csv(d.path, d.target)
    if d.source == "npz":
        return _sources.read_npz(d.path, d.target)
    raise ValueError(f"{_FN}: unknown data.source {d.source!r}.")  # pragma: no cover


def _fmt_set(values: np.ndarray, limit: int = 6) -> str:
    vals = [f"{x:g}" for x in values[:limit]]
    more = f", ... ({len(values)} distinct values)" if len(values) > limit else ""
    return "{" + ", ".join(vals) + more + "}"


def _relabel(y: np.ndarray, relabel: str, desc: str) -> np.ndarray:
    if relabel == "none":
        return y
    src, dst = ((0.0, 1.0), (-1.0, 1.0)) if relabel == "to_pm1" else ((-1.0, 1.0), (0.0, 1.0))
    found = np.unique(y[np.isfinite(y)])
    if not np.isin(found, src).all():
        raise ValueError(
            f"{_FN}: data.relabel={relabel} maps labels {_fmt_set(np.array(src))} to "
            f"{_fmt_set(np.array(dst))}, but the labels of {desc} are {_fmt_set(found)}."
        )
    return np.where(y == src[0], dst[0], dst[1])


def _check_labels(
    task: Any, y: np.ndarray, desc: str, relabel: str, n_classes: int | None = None
) -> None:
    kind = task.labels
    found = np.unique(y)
    if kind == "categorical":
        bad = found[(found < 0) | (found != np.round(found)) | (found >= n_classes)]
        if bad.size:
            raise ValueError(
                f"{_FN}: task {task.name} needs class labels 0, 1, ..., {n_classes - 1} "
                f"(model.n_classes={n_classes}); the labels of {desc} are {_fmt_set(found)}."
            )
        return
    allowed = LABEL_SETS[kind]
    if allowed is None:
        return
    bad = found[~np.isin(found, allowed)]
    if bad.size == 0:
        return
    hint = ""
    if kind == "pm1" and np.isin(found, (0.0, 1.0)).all():
        hint = " Set data.relabel=to_pm1 to map {0, 1} to {-1, 1}."
    elif kind == "binary" and np.isin(found, (-1.0, 1.0)).all():
        hint = " Set data.relabel=to_01 to map {-1, 1} to {0, 1}."
    elif relabel != "none":
        hint = f" (after data.relabel={relabel})"
    raise ValueError(
        f"{_FN}: task {task.name} needs labels in {_fmt_set(np.array(allowed))}; the labels of "
        f"{desc} are {_fmt_set(found)}.{hint}"
    )


def _split(n: int, test_fraction: float, seed: int, desc: str) -> tuple[np.ndarray, np.ndarray]:
    n_test = int(round(n * test_fraction))
    if test_fraction > 0:
        n_test = max(n_test, 1)
    if n - n_test < 1:
        raise ValueError(
            f"{_FN}: data.test_fraction={test_fraction:g} leaves no training sample of the "
            f"{n} samples of {desc}."
        )
    # A seeded permutation: the split is a function of data.seed alone.
    perm = np.random.default_rng([seed, 0x5EED]).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def load_data(config: Any) -> Dataset:
    """Load, check, split and prepare the data a config asks for.

    Args:
      config: a :class:`mcalc.config.Config` (its ``task``, ``data`` and ``model``
        sections are read), or anything :func:`mcalc.load_config` accepts.

    Returns:
      A :class:`Dataset` in ``config.data.dtype``.

    Raises:
      ValueError: on NaN/Inf in the data, labels outside the task's set (with the
        ``data.relabel`` that fixes it when there is one), a feature count that does
        not match ``model.n_features``, an unreadable file or a split without
        training samples.
      ConfigError: if ``config`` is not a valid config (see :func:`mcalc.load_config`).

    Example:
      >>> import mcalc
      >>> ds = mcalc.load_data(mcalc.load_config("p2"))
      >>> ds.X_train.shape[1], ds.n_train + ds.n_test
      (30, 569)
    """
    from ..config import Config, load_config
    from ..task import resolve_task

    if not isinstance(config, Config):
        config = load_config(config)
    task = resolve_task(config.task)
    d = config.data
    raw = _raw(config, task)
    X, y, desc = raw.X, raw.y, raw.description
    v.check_finite(_FN, f"X (the features of {desc})", X)
    v.check_finite(_FN, f"y (the labels of {desc})", y)
    y = _relabel(y, d.relabel, desc)
    _check_labels(task, y, desc, d.relabel, getattr(config.model, "n_classes", None))
    n, D = X.shape
    expected = config.model.n_features
    if expected is not None and expected != D:
        raise ValueError(
            f"{_FN}: model.n_features={expected}, but {desc} has {D} features. Set "
            f"model.n_features={D} (or null to take D from the data), or choose other data."
        )
    train, test = _split(n, d.test_fraction, d.seed, desc)
    X_train, X_test, y_train, y_test = X[train], X[test], y[train], y[test]
    mean = scale = None
    if d.standardize:
        mean = X_train.mean(axis=0)
        scale = X_train.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)  # a constant feature stays constant (zero)
        X_train = (X_train - mean) / scale
        X_test = (X_test - mean) / scale
    names = raw.feature_names
    if d.intercept:
        X_train = np.hstack([X_train, np.ones((X_train.shape[0], 1))])
        X_test = np.hstack([X_test, np.ones((X_test.shape[0], 1))])
        names = (*names, "intercept")
    dtype = np.dtype(d.dtype)
    return Dataset(
        X_train=np.ascontiguousarray(X_train, dtype),
        y_train=np.ascontiguousarray(y_train, dtype),
        X_test=np.ascontiguousarray(X_test, dtype),
        y_test=np.ascontiguousarray(y_test, dtype),
        feature_names=names,
        description=desc,
        n_features=D,
        intercept=d.intercept,
        mean=mean,
        scale=scale,
        target=raw.target,
    )
