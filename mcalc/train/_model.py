"""Trained models you can use: what a run folder keeps for prediction, and :func:`load_run`.

Every run folder (and every group of a sweep folder) holds, beside the parameters
(``params.npz``), a ``model.json`` with what prediction on *raw* features needs: the
task's reference, the feature names in column order, the standardisation fitted on
the training split (mean and scale), whether an intercept column is appended, the
label kind and any relabelling, and the dtype. :func:`load_run` reads them back
into a :class:`TrainedModel` whose :meth:`~TrainedModel.predict` takes raw features.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _files

__all__ = ["TrainedModel", "load_run", "save_params", "load_params", "model_info"]

_FN = "mcalc.load_run"


def _leaf_names(tree: Any) -> list[str]:
    """A name per leaf: the key of a flat dict of arrays (``"w"``, ``"W0"``), else its key path."""
    import jax

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    flat = all(
        len(path) == 1
        and isinstance(path[0], jax.tree_util.DictKey)
        and isinstance(path[0].key, str)
        for path, _ in leaves
    )
    if flat:
        return [path[0].key for path, _ in leaves]
    return [jax.tree_util.keystr(path) for path, _ in leaves]


def save_params(path: str | Path, params: Any) -> Path:
    """Write a parameter pytree to ``path`` (``.npz``, atomically), one array per leaf."""
    import jax

    arrays = dict(
        zip(_leaf_names(params), (np.asarray(x) for x in jax.tree.leaves(params)), strict=True)
    )
    return _files.atomic_write(path, lambda fh: np.savez(fh, **arrays), binary=True)


def load_params(path: str | Path, like: Any, *, lane: int | None = None) -> Any:
    """Read ``params.npz`` into the structure of ``like`` (a pytree of arrays or shapes);
    ``lane``: pick one lane of a sweep's stacked parameters."""
    import jax

    names = _leaf_names(like)
    with np.load(path, allow_pickle=False) as z:
        missing = [n for n in names if n not in z.files]
        if missing:
            raise ValueError(
                f"{_FN}: {path} has no array {missing[0]!r} (it holds {', '.join(z.files)}); the "
                "task's parameters do not match this run's."
            )
        arrays = [z[n] if lane is None else z[n][lane] for n in names]
    for a, b, n in zip(arrays, jax.tree.leaves(like), names, strict=True):
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(
                f"{_FN}: parameter {n!r} in {path} has shape {tuple(a.shape)}; the task expects "
                f"{tuple(b.shape)}."
            )
    return jax.tree.unflatten(jax.tree.structure(like), arrays)


def model_info(config: Any, dataset: Any) -> dict[str, Any]:
    """What ``model.json`` holds: everything prediction on raw features needs."""
    from ..task import resolve_task

    task = resolve_task(config.task)
    names = list(dataset.feature_names[: dataset.n_features])
    return {
        "task": config.task,
        "labels": task.labels,
        "features": names,
        "target": dataset.target,
        "mean": None if dataset.mean is None else np.asarray(dataset.mean).tolist(),
        "scale": None if dataset.scale is None else np.asarray(dataset.scale).tolist(),
        "intercept": bool(dataset.intercept),
        "relabel": config.data.relabel,
        "dtype": config.data.dtype,
        "source": dataset.description,
    }


@dataclasses.dataclass(frozen=True, eq=False)
class TrainedModel:
    """A trained model loaded from a run folder (or one lane of a sweep folder).

    Attributes:
      path: the run folder (or the sweep folder).
      params: the trained parameters (NumPy arrays, the task's pytree).
      config: the run's resolved :class:`mcalc.config.Config`.
      metrics: the final metrics (floats).
      task: the :class:`mcalc.Task`.
      info: the preprocessing: feature names, mean, scale, intercept, label kind, dtype.
      lane: the sweep lane, or ``None`` for a training run.

    Example:
      >>> import numpy as np, mcalc, tempfile
      >>> res = mcalc.train("p2", runs_dir=tempfile.mkdtemp(), progress=False,
      ...                   data={"source": "synthetic", "n_samples": 40, "n_features": 3},
      ...                   train={"steps": 20, "plots": False})
      >>> model = mcalc.load_run(res.run_dir)
      >>> model.task.name, model.lane, model.params["w"].shape
      ('p2', None, (3,))
      >>> X_raw = np.array([[1.0, 2.0, -1.0], [-1.0, -2.0, 1.0]])  # [N, D] raw features
      >>> model.predict(X_raw).round(2)  # P(y = 1) of each row
      array([0.87, 0.15])
    """

    path: Path
    params: Any
    config: Any
    metrics: dict[str, Any]
    task: Any
    info: dict[str, Any]
    lane: int | None = None

    @property
    def features(self) -> list[str]:
        """The raw feature names, in the column order :meth:`predict` expects.

        Example:
          >>> model.features  # the model of the example above (synthetic data)
          ['x0', 'x1', 'x2']
        """
        return list(self.info["features"])

    def transform(self, X: Any) -> np.ndarray:
        """Raw features ``[N, D]`` as the model saw them in training: standardised with the
        training split's statistics, with the intercept column appended when there was one.

        Args:
          X: ``[N, D]`` raw features (array-like, or a pandas ``DataFrame``, whose
            columns are taken by name); ``[N]`` for a model of one feature.

        Returns:
          ``[N, D']`` NumPy array in the model's dtype (``D' = D + 1`` with an intercept).

        Raises:
          ValueError: for input that is not a 2-D array of ``D`` finite numbers per row.

        Example:
          >>> model.transform(X_raw).shape  # the model of the example above
          (2, 3)
          >>> model.transform(np.zeros((2, 4)))
          Traceback (most recent call last):
          ...
          ValueError: mcalc.TrainedModel.predict: the model was trained on D=3 features (x0, x1, x2); X has 4 columns.
        """
        X = _as_matrix(X, self.features)
        D = len(self.features)
        if X.shape[1] != D:
            raise ValueError(
                f"mcalc.TrainedModel.predict: the model was trained on D={D} features "
                f"({_names(self.features)}); X has {X.shape[1]} columns."
            )
        if not np.isfinite(X).all():
            i, j = np.argwhere(~np.isfinite(X))[0]
            raise ValueError(
                f"mcalc.TrainedModel.predict: X holds a non-finite value ({X[i, j]}) at row {i}, "
                f"column {j} ({self.features[j]!r})."
            )
        if self.info.get("mean") is not None:
            X = (X - np.asarray(self.info["mean"])) / np.asarray(self.info["scale"])
        if self.info.get("intercept"):
            X = np.hstack([X, np.ones((X.shape[0], 1))])
        return X.astype(self.info.get("dtype", "float64"))

    def predict(self, X: Any) -> np.ndarray:
        """The model's output on raw features ``X: [N, D]`` (the columns of :attr:`features`).

        Args:
          X: ``[N, D]`` raw features, as in the training data before any preprocessing; a
            pandas ``DataFrame`` is reordered by its column names.

        Returns:
          ``[N]`` NumPy array: P(y = 1) for ``"binary"`` labels, a value in [-1, 1] for
          ``"pm1"``, the prediction for ``"real"``; ``[N, K]`` class probabilities for
          ``"categorical"``.

        Raises:
          ValueError: for the wrong number of features, or non-finite values.

        Example:
          >>> model.predict(X_raw).round(2)  # the model and X_raw of the example above
          array([0.87, 0.15])
        """
        import jax
        import jax.numpy as jnp

        X = self.transform(X)
        x64 = self.info.get("dtype") == "float64"
        with jax.enable_x64(x64):
            params = jax.tree.map(jnp.asarray, self.params)
            return np.asarray(self.task.predict(params, jnp.asarray(X)))

    def predict_labels(self, X: Any) -> np.ndarray:
        """Predicted labels in the task's label set (class labels only).

        Args:
          X: ``[N, D]`` raw features, as for :meth:`predict`.

        Returns:
          ``[N]`` int array: 0/1 (``"binary"``, P(y = 1) > 0.5), -1/1 (``"pm1"``), or the
          most probable class (``"categorical"``).

        Raises:
          ValueError: for a task with real labels, or input :meth:`predict` refuses.

        Example:
          >>> model.predict_labels(X_raw)  # the model and X_raw of the example above
          array([1, 0])
        """
        out = self.predict(X)
        kind = self.task.labels
        if kind == "binary":
            return (out > 0.5).astype(np.int64)
        if kind == "pm1":
            return np.where(out >= 0, 1, -1)
        if kind == "categorical":
            return np.argmax(out, axis=-1)
        raise ValueError(
            f"mcalc.TrainedModel.predict_labels: task {self.task.name} has real labels; use predict."
        )


def _names(names: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _as_matrix(X: Any, features: list[str]) -> np.ndarray:
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a pandas DataFrame: by column name
        cols = [str(c) for c in X.columns]
        missing = [f for f in features if f not in cols]
        if not missing:
            X = X[features]
        X = X.to_numpy()
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"mcalc.TrainedModel.predict: X must be numbers; {e}.") from None
    if X.ndim == 1 and len(features) == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(
            f"mcalc.TrainedModel.predict: X must be 2-D [N, D] (one sample per row); got shape "
            f"{X.shape}."
        )
    return X


def _finite(x: Any) -> Any:
    return x if not isinstance(x, float) or math.isfinite(x) else None


def load_run(path: str | Path, *, lane: int | None = None, task: Any = None) -> TrainedModel:
    """Load a trained model from a run folder, or one lane of a sweep folder.

    Args:
      path: a run folder (``runs/<name>-<stamp>``) or a sweep folder.
      lane: for a sweep folder, the configuration (its ``lane`` in ``results.csv``).
      task: the :class:`mcalc.Task`, for a run whose task was made where no other process
        can import it (a notebook, ``__main__``); default: resolved from the run's config.

    Returns:
      A :class:`TrainedModel` with ``.params``, ``.config``, ``.metrics``, ``.task`` and
      ``.predict(X_raw)``.

    Raises:
      ValueError: a folder that is not a finished run or sweep, a lane out of range, or a
        task that cannot be found.

    Example:
      >>> import numpy as np, mcalc, tempfile
      >>> res = mcalc.train("p2", runs_dir=tempfile.mkdtemp(), progress=False,
      ...                   data={"source": "synthetic", "n_samples": 40, "n_features": 3},
      ...                   train={"steps": 20, "plots": False})
      >>> model = mcalc.load_run(res.run_dir)
      >>> model.config.train.steps, model.metrics["step"]
      (20, 20)
      >>> model.predict(np.array([[1.0, 2.0, -1.0]])).shape
      (1,)
      >>> mcalc.load_run(tempfile.mkdtemp())
      Traceback (most recent call last):
      ...
      ValueError: mcalc.load_run: ... has no config.yaml: not a run folder.
    """
    from ..config import load_config
    from ..task import resolve_task

    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"{_FN}: {str(folder)!r} is not a folder (a run or sweep folder).")
    if (folder / "sweep.yaml").is_file():
        return _load_lane(folder, lane, task)
    if lane is not None:
        raise ValueError(f"{_FN}: lane={lane} is for sweep folders; {folder} is a run folder.")
    for name in ("config.yaml", "params.npz", "model.json"):
        if not (folder / name).is_file():
            why = "not a run folder" if name == "config.yaml" else "a run that has not finished"
            raise ValueError(f"{_FN}: {folder} has no {name}: {why}.")
    if task is not None:
        from ..task import Task

        if not isinstance(task, Task):
            raise TypeError(f"{_FN}: task must be a mcalc.Task; got {type(task).__name__}.")
        config = load_config(folder / "config.yaml", {"task": task})
    else:
        config = load_config(folder / "config.yaml")
    info = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    the_task = resolve_task(config.task)
    params = load_params(folder / "params.npz", _abstract_params(config, the_task, info))
    summary = _read_json(folder / "summary.json")
    return TrainedModel(folder, params, config, summary.get("metrics", {}), the_task, info)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _abstract_params(config: Any, task: Any, info: dict[str, Any]) -> Any:
    """The shapes of the task's parameters for this config's data width."""
    import jax

    D = len(info["features"]) + (1 if info.get("intercept") else 0)
    kw = {n: getattr(config.model, n) for n in task.hyper}
    return jax.eval_shape(lambda k: task.init(k, D, **kw), jax.random.PRNGKey(0))


def _load_lane(folder: Path, lane: int | None, task: Any) -> TrainedModel:
    from ..sweep._run import lane_config
    from ..task import resolve_task

    configs = _read_json_list(folder / "configs.json")
    if lane is None:
        raise ValueError(
            f"{_FN}: {folder} is a sweep folder of {len(configs)} configurations; pass lane= "
            "(the lane column of its results.csv)."
        )
    if isinstance(lane, bool) or not isinstance(lane, int) or not 0 <= lane < len(configs):
        raise ValueError(
            f"{_FN}: lane must be an int in [0, {len(configs) - 1}] for {folder}; got {lane!r}."
        )
    row = configs[lane]
    gdir = folder / "groups" / str(row["group"])
    for name in ("params.npz", "model.json"):
        if not (gdir / name).is_file():
            raise ValueError(f"{_FN}: {gdir} has no {name}: the sweep has not finished this group.")
    config = lane_config(folder, row, task=task)
    the_task = resolve_task(config.task)
    info = json.loads((gdir / "model.json").read_text(encoding="utf-8"))
    lanes = json.loads((gdir / "group.json").read_text(encoding="utf-8"))["lanes"]
    params = load_params(
        gdir / "params.npz", _abstract_params(config, the_task, info), lane=lanes.index(lane)
    )
    results = _read_json_list(folder / "results.json")
    metrics = next((r for r in results if r.get("lane") == lane), {})
    return TrainedModel(folder, params, config, metrics, the_task, info, lane)


def _read_json_list(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{_FN}: cannot read {path}: {e}.") from None
    return data if isinstance(data, list) else []
