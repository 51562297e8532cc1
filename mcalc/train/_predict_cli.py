"""``mcalc predict RUN_DIR DATA.csv|DATA.npz [--out FILE [--force]]``: a trained model's predictions.

A thin shell over :func:`mcalc.load_run` and :meth:`mcalc.TrainedModel.predict`: the data
are raw features (the model standardises them as in training). A CSV with a header
is matched to the training features by column name (other columns, such as the
label, are ignored); without a header it must hold exactly the ``D`` feature columns,
in training order. An NPZ holds the features under ``X``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np

__all__ = ["add_arguments", "main", "read_features"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = """\
examples:
  mcalc predict runs/p2-20261129-120000 new_patients.csv
  mcalc predict runs/p2-20261129-120000 new_patients.csv --out predictions.csv
  mcalc predict runs/p2-20261129-120000 more.csv --out predictions.csv --force
  mcalc predict sweeps/l2-20261129-120000 data.npz --lane 12

output: a CSV with one row per sample: `prediction` (P(y=1) for binary labels, the value
for pm1 and real labels) and `label` (the predicted class) for class labels; for
categorical labels one probability column per class and `label`.
exit status: 0 written, 2 a bad run folder or bad data.
"""
    parser.add_argument(
        "run_dir", metavar="RUN_DIR", help="a run folder, or a sweep folder with --lane"
    )
    parser.add_argument("data", metavar="DATA", help="raw features: a .csv or .npz file")
    parser.add_argument(
        "--out", metavar="FILE", help="write the predictions here (default: stdout)"
    )
    parser.add_argument("--lane", type=int, help="the configuration of a sweep folder to use")
    parser.add_argument(
        "--force", action="store_true", help="replace --out's file if it exists already"
    )


def read_features(path: str, features: list[str]) -> np.ndarray:
    """The raw features of ``path`` (CSV or NPZ) in the order of ``features``.

    Raises:
      ValueError: a missing or unreadable file, missing feature columns, non-numbers.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{path!r} is {'a folder' if p.is_dir() else 'not a file'}.")
    if p.suffix.lower() == ".npz":
        if not p.read_bytes()[:2] == b"PK":
            raise ValueError(f"{path!r} is not an NPZ file (not a zip archive).")
        with np.load(p, allow_pickle=False) as z:
            if "X" not in z.files:
                raise ValueError(
                    f"NPZ file {path!r} has no array 'X' (it holds {', '.join(z.files)})."
                )
            try:
                return np.asarray(z["X"], np.float64)
            except (TypeError, ValueError) as e:
                raise ValueError(f"NPZ file {path!r}: X must hold numbers ({e}).") from None
    from ..data._sources import _delimiter, _number

    text = p.read_text(encoding="utf-8")
    rows = [
        r
        for r in csv.reader(text.splitlines(), delimiter=_delimiter(text))
        if any(c.strip() for c in r)
    ]
    if not rows:
        raise ValueError(f"CSV file {path!r} is empty.")
    header = None
    if any(_number(c) is None for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if header is not None:
        missing = [f for f in features if f not in header]
        if missing:
            raise ValueError(
                f"CSV file {path!r} has no column {missing[0]!r}; the model needs "
                f"{', '.join(features)} (by header name)."
            )
        cols = [header.index(f) for f in features]
    else:
        width = len(rows[0])
        if width != len(features):
            raise ValueError(
                f"CSV file {path!r} has {width} columns and no header; the model needs exactly "
                f"its {len(features)} features ({', '.join(features[:6])}{', ...' if len(features) > 6 else ''}) "
                "in training order, or a header row naming them."
            )
        cols = list(range(width))
    out = np.empty((len(rows), len(cols)))
    for i, row in enumerate(rows):
        for k, j in enumerate(cols):
            x = _number(row[j]) if j < len(row) else None
            if x is None:
                raise ValueError(
                    f"CSV file {path!r}, line {i + (2 if header else 1)}: column "
                    f"{features[k]!r} is {row[j] if j < len(row) else 'missing'!r}, not a number."
                )
            out[i, k] = x
    return out


def main(args: argparse.Namespace) -> int:
    from ._model import load_run

    try:
        out = Path(args.out) if args.out else None
        if out is not None:  # before any work: a file of the user's is never replaced unasked
            if out.is_dir():
                raise ValueError(f"--out {args.out!r} is a folder; give a file name.")
            if out.exists() and not args.force:
                raise ValueError(
                    f"--out {args.out!r} exists already; give another file name, or --force "
                    "to replace it."
                )
        model = load_run(args.run_dir, lane=args.lane)
        X = read_features(args.data, model.features)
        pred = model.predict(X)
        kind = model.task.labels
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if kind == "categorical":
            w.writerow([*(f"p{k}" for k in range(pred.shape[1])), "label"])
            for p_row, lab in zip(pred, np.argmax(pred, axis=1), strict=True):
                w.writerow([*(f"{v:.9g}" for v in p_row), int(lab)])
        elif kind == "real":
            w.writerow(["prediction"])
            w.writerows([[f"{v:.9g}"] for v in pred])
        else:
            labels = model.predict_labels(X)
            w.writerow(["prediction", "label"])
            w.writerows([[f"{v:.9g}", int(lab)] for v, lab in zip(pred, labels, strict=True)])
        if out is not None:
            from . import _files

            _files.check_parent(out.parent, "--out's folder", "mcalc predict")
            _files.write_text(out, buf.getvalue())
            print(f"{len(pred)} predictions written to {args.out}", file=sys.stderr)
        else:
            sys.stdout.write(buf.getvalue())
    except (ValueError, TypeError) as e:
        print(f"mcalc predict: error: {e}", file=sys.stderr)
        return 2
    return 0
