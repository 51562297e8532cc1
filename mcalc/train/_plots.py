"""Plots of a run's history: loss and metrics against step (matplotlib, Agg canvas, PNG).

Figures are drawn on an Agg canvas directly (``matplotlib.figure.Figure``), never
through ``pyplot``: a notebook's backend is left alone and nothing is global.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ._files import atomic_write

__all__ = ["plot_history"]


def _series(history: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for rec in history:
        v = rec.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            xs.append(rec["step"])
            ys.append(float(v))
    return xs, ys


def _log_y(ax: Any) -> None:
    """Log scale with plain ``1e-06`` labels: the default mathtext labels cost ~0.1 s each to lay out."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=8))
    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-"))
    )
    ax.yaxis.set_minor_formatter(NullFormatter())


def _save(fig: Any, path: Path) -> Path:
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    # A diverging run logs values near the float64 maximum: tick placement overflows harmlessly.
    with np.errstate(over="ignore", invalid="ignore"):
        return atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110), binary=True)


def plot_history(
    history: list[dict[str, Any]], out_dir: str | os.PathLike, *, title: str
) -> list[Path]:
    """Write ``loss.png`` and ``metrics.png`` for a run's logged history.

    ``loss.png``: the training loss (log scale when positive) and, beside it, the
    gradient norm. ``metrics.png``: the task metric on train and test (accuracy or
    MSE), and the parameter norm; for P4 also the relative distance to the closed form.

    Returns:
      The paths written.
    """
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    fig = Figure(figsize=(10, 3.8), layout=None)
    ax1, ax2 = fig.subplots(1, 2)
    x, y = _series(history, "loss")
    ax1.plot(x, y, marker="." if len(x) < 30 else None, label="train loss L (sum)")
    if y and min(y) > 0 and max(y) > 30 * min(y):
        _log_y(ax1)
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss")
    ax1.set_title("training loss")
    ax1.grid(alpha=0.3)
    for key, label in (("grad_norm", "‖∇L‖₂"), ("objective_gap", "L(w) − L(w*)")):
        x, y = _series(history, key)
        if y and min(y) > 0:
            ax2.plot(x, y, marker="." if len(x) < 30 else None, label=label)
    _log_y(ax2)
    ax2.set_xlabel("step")
    ax2.set_title(
        "gradient norm"
        + (" and gap to the closed form" if _series(history, "objective_gap")[1] else "")
    )
    ax2.grid(alpha=0.3)
    if ax2.lines:
        ax2.legend()
    fig.suptitle(title)
    fig.subplots_adjust(left=0.07, right=0.93, bottom=0.13, top=0.84, wspace=0.28)
    paths.append(_save(fig, out / "loss.png"))

    fig = Figure(figsize=(10, 3.8), layout=None)
    ax1, ax2 = fig.subplots(1, 2)
    metric = "accuracy" if any("accuracy" in r for r in history) else "mse"
    for key, label in ((metric, "train"), (f"test_{metric}", "test")):
        x, y = _series(history, key)
        if y:
            ax1.plot(x, y, marker="." if len(x) < 30 else None, label=label)
    if metric == "mse":
        ys = _series(history, "mse")[1] + _series(history, "test_mse")[1]
        if ys and min(ys) > 0 and max(ys) > 30 * min(ys):
            _log_y(ax1)
    ax1.set_xlabel("step")
    ax1.set_ylabel(metric)
    ax1.set_title(metric)
    ax1.grid(alpha=0.3)
    if ax1.lines:
        ax1.legend()
    x, y = _series(history, "param_norm")
    ax2.plot(x, y, marker="." if len(x) < 30 else None, label="‖θ‖₂")
    x, y = _series(history, "w_gap")
    if y and min(y) > 0:
        ax2b = ax2.twinx()
        ax2b.plot(x, y, color="C3", label="‖w − w*‖/‖w*‖")
        _log_y(ax2b)
        ax2b.set_ylabel("distance to the closed form", color="C3")
    ax2.set_xlabel("step")
    ax2.set_title("parameter norm" + (" (blue), distance to w* (red)" if y else ""))
    ax2.grid(alpha=0.3)
    fig.suptitle(title)
    fig.subplots_adjust(left=0.07, right=0.93, bottom=0.13, top=0.84, wspace=0.28)
    paths.append(_save(fig, out / "metrics.png"))
    return paths
