"""Where samples come from: seeded synthetic generators, scikit-learn's bundled sets, CSV, NPZ.

Each source returns raw ``(X [N, D], y [N], feature_names, description)`` as
float64 NumPy arrays; :mod:`mcalc.data._prepare` relabels, checks, splits and
standardises them.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "Raw",
    "synthetic",
    "labels_from_scores",
    "breast_cancer",
    "diabetes",
    "read_csv",
    "read_npz",
]

_FN = "mcalc.load_data"
_LOGIT_SCALE = 3.0  # synthetic logits are scaled to std 3: classes overlap a little at noise 1


class Raw(NamedTuple):
    X: np.ndarray  # [N, D] float64
    y: np.ndarray  # [N] float64
    feature_names: tuple[str, ...]
    description: str
    target: str | None = None  # the label column's header name, when the file has one


def _delimiter(text: str) -> str:
    """The CSV's delimiter: comma, semicolon or tab, whichever splits the first lines evenly
    (a comma where it is ambiguous)."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    best, best_cols = ",", 1
    for d in (",", ";", "\t"):
        counts = {len(next(csv.reader([line], delimiter=d))) for line in lines}
        if len(counts) == 1 and (cols := counts.pop()) > best_cols:
            best, best_cols = d, cols
    return best


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # no overflow for large |a|


def labels_from_scores(rng: np.random.Generator, a: np.ndarray, noise: float) -> np.ndarray:
    """Labels in {0, 1} from real scores: ``y ~ Bernoulli(σ(a / noise))`` with ``a`` scaled to
    standard deviation 3; ``noise = 0`` gives the noise-free ``y = 1[a > 0]``.

    A helper for :attr:`mcalc.Task.synthetic` generators (the built-in ones use it).

    Args:
      rng: a ``numpy.random.Generator``.
      a: ``[N]`` scores.
      noise: the label temperature, ``≥ 0``.

    Returns:
      ``[N]`` float64 labels in {0, 1}.

    Example:
      >>> import numpy as np
      >>> from mcalc.data import labels_from_scores
      >>> labels_from_scores(np.random.default_rng(0), np.array([-2.0, 1.0, 3.0]), 0.0)
      array([0., 1., 1.])
    """
    a = _LOGIT_SCALE * a / max(float(np.std(a)), np.finfo(np.float64).tiny)
    if noise == 0:
        return (a > 0).astype(np.float64)
    return (rng.random(a.shape) < _sigmoid(a / noise)).astype(np.float64)


def synthetic(
    task: Any,
    *,
    n_samples: int,
    n_features: int,
    noise: float,
    seed: int,
    hyper: dict[str, Any] | None = None,
) -> Raw:
    """Seeded synthetic data for ``task``: its own generator (:attr:`mcalc.Task.synthetic`,
    given the config's hyperparameter values ``hyper``), else a random linear model ``a = Xw`` (``X ~ N(0, I)``, ``w ~ N(0, I)``) whose outputs
    become labels of the task's kind:

    - ``"real"``: ``y = a + noise · ε``, ``ε ~ N(0, 1)``;
    - ``"binary"``: ``y ~ Bernoulli(σ(a/T))``, logits of std 3, ``T = noise``; ``noise = 0``
      gives linearly separable labels ``1[a > 0]``;
    - ``"pm1"``: the same labels mapped to ``{-1, 1}``.
    """
    rng = np.random.default_rng(seed)
    names = tuple(f"x{j}" for j in range(n_features))
    desc = f"synthetic {task.name} (N={n_samples}, D={n_features}, noise={noise:g}, seed={seed})"
    if task.synthetic is not None:
        out = task.synthetic(rng, n_samples, n_features, noise, **(hyper or {}))
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError(
                f"{_FN}: task {task.name!r}: synthetic(rng, n_samples, n_features, noise, **hyper) must "
                f"return (X, y); got {type(out).__name__}."
            )
        X, y = (np.asarray(v, np.float64) for v in out)
        if X.shape != (n_samples, n_features) or y.shape != (n_samples,):
            raise ValueError(
                f"{_FN}: task {task.name!r}: synthetic(...) must return X [{n_samples}, "
                f"{n_features}] and y [{n_samples}]; got {X.shape} and {y.shape}."
            )
        return Raw(X, y, names, desc)
    X = rng.standard_normal((n_samples, n_features))
    w = rng.standard_normal(n_features)
    a = X @ w
    if task.labels == "real":
        y = a + noise * rng.standard_normal(n_samples)
    else:
        y = labels_from_scores(rng, a, noise)
        if task.labels == "pm1":
            y = 2.0 * y - 1.0
    return Raw(X, y, names, desc)


def breast_cancer() -> Raw:
    """scikit-learn's bundled Wisconsin breast cancer set: 569 × 30, labels {0, 1} (no download)."""
    from sklearn.datasets import load_breast_cancer

    b = load_breast_cancer()
    names = tuple(str(n) for n in b.feature_names)
    return Raw(
        np.asarray(b.data, np.float64),
        np.asarray(b.target, np.float64),
        names,
        "breast_cancer (scikit-learn, 569 × 30)",
    )


def diabetes() -> Raw:
    """scikit-learn's bundled diabetes regression set: 442 × 10, a real target (no download)."""
    from sklearn.datasets import load_diabetes

    b = load_diabetes()
    names = tuple(str(n) for n in b.feature_names)
    return Raw(
        np.asarray(b.data, np.float64),
        np.asarray(b.target, np.float64),
        names,
        "diabetes (scikit-learn, 442 × 10)",
    )


def _number(cell: str) -> float | None:
    text = cell.strip()
    if text == "":
        return math.nan  # an empty cell is a missing value: reported as NaN below
    try:
        return float(text)
    except ValueError:
        return None


def read_csv(path: str, target: str | None) -> Raw:
    """A CSV file of numbers, one sample per row, with an optional header row.

    ``target`` names the label column: a header name, or a 0-based index
    (negative counts from the end); default: the last column. Empty cells read as
    NaN (and are then reported as such).
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{_FN}: data.path {path!r} is a folder, not a CSV file.")
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            text = fh.read()
        delimiter = _delimiter(text)
        rows = [
            r
            for r in csv.reader(text.splitlines(), delimiter=delimiter)
            if r and any(c.strip() for c in r)
        ]
    except FileNotFoundError:
        raise ValueError(f"{_FN}: data.path {path!r} does not exist (data.source=csv).") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"{_FN}: cannot read CSV file {path!r}: {e}.") from None
    if not rows:
        raise ValueError(f"{_FN}: CSV file {path!r} is empty.")
    header = None
    if any(_number(c) is None for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise ValueError(f"{_FN}: CSV file {path!r} has a header but no data rows.")
    width = len(header) if header else len(rows[0])
    if width < 2:
        raise ValueError(
            f"{_FN}: CSV file {path!r} needs at least two columns (features and a label); got "
            f"{width}. mcalc reads values separated by commas, semicolons or tabs."
        )
    values = np.empty((len(rows), width))
    first_line = 2 if header else 1
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(
                f"{_FN}: CSV file {path!r}, line {i + first_line}: expected {width} cells, got {len(row)}."
            )
        for j, cell in enumerate(row):
            x = _number(cell)
            if x is None:
                col = f"{header[j]!r}" if header else f"{j}"
                raise ValueError(
                    f"{_FN}: CSV file {path!r}, line {i + first_line}, column {col}: "
                    f"{cell.strip()!r} is not a number."
                )
            values[i, j] = x
    names = header or [f"x{j}" for j in range(width)]
    if target is None:
        col = width - 1
    elif header and target in header:
        col = header.index(target)
    else:
        try:
            col = int(target)
        except ValueError:
            cols = f"; its columns are {', '.join(header)}" if header else " (it has no header row)"
            raise ValueError(
                f"{_FN}: data.target {target!r} is not a column of {path!r}{cols}."
            ) from None
        if not -width <= col < width:
            raise ValueError(
                f"{_FN}: data.target {target!r} is out of range for {width} columns of {path!r}."
            )
        col %= width
    keep = [j for j in range(width) if j != col]
    return Raw(
        values[:, keep],
        values[:, col],
        tuple(names[j] for j in keep),
        f"CSV {p.name} (label column {names[col]!r})",
        names[col] if header else None,
    )


def read_npz(path: str, target: str | None) -> Raw:
    """An ``.npz`` file holding features under ``X`` and labels under ``target`` (default ``y``).

    Read with ``allow_pickle=False``: object arrays are refused, nothing is executed.
    """
    ykey = target or "y"
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{_FN}: data.path {path!r} is a folder, not an NPZ file.")
    try:
        with p.open("rb") as fh:
            magic = fh.read(6)
    except FileNotFoundError:
        raise ValueError(f"{_FN}: data.path {path!r} does not exist (data.source=npz).") from None
    except OSError as e:
        raise ValueError(f"{_FN}: cannot read NPZ file {path!r}: {e}.") from None
    if not magic.startswith(b"PK"):
        what = "a single .npy array" if magic == b"\x93NUMPY" else "not a zip archive"
        raise ValueError(
            f"{_FN}: {path!r} is not an NPZ file ({what}); save one with "
            "numpy.savez(path, X=X, y=y)."
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            missing = [k for k in ("X", ykey) if k not in keys]
            if missing:
                raise ValueError(
                    f"{_FN}: NPZ file {path!r} has no array {missing[0]!r}; it holds {', '.join(keys) or 'nothing'} "
                    "(features go under 'X', labels under 'y' or data.target)."
                )
            X, y = z["X"], z[ykey]
    except FileNotFoundError:
        raise ValueError(f"{_FN}: data.path {path!r} does not exist (data.source=npz).") from None
    except ValueError as e:
        if str(e).startswith(_FN):
            raise
        raise ValueError(f"{_FN}: cannot read NPZ file {path!r}: {e}.") from None
    except OSError as e:
        raise ValueError(f"{_FN}: cannot read NPZ file {path!r}: {e}.") from None
    for name, arr in (("X", X), (ykey, y)):
        if not (
            np.issubdtype(arr.dtype, np.floating)
            or np.issubdtype(arr.dtype, np.integer)
            or arr.dtype == np.bool_
        ):
            raise ValueError(
                f"{_FN}: NPZ array {name!r} of {path!r} must hold real numbers; got dtype {arr.dtype}."
            )
    if X.ndim != 2:
        raise ValueError(
            f"{_FN}: NPZ array 'X' of {path!r} must be 2-D [N, D]; got shape {X.shape}."
        )
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"{_FN}: NPZ array {ykey!r} of {path!r} must be 1-D with N = {X.shape[0]} entries "
            f"(one label per row of X); got shape {y.shape}."
        )
    names = tuple(f"x{j}" for j in range(X.shape[1]))
    return Raw(X.astype(np.float64), y.astype(np.float64), names, f"NPZ {Path(path).name}")
