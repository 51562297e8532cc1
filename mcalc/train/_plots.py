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
    history: list[dict[str, Any]], out_dir: str | os.PathLike, *, title: str, metric: str
) -> list[Path]:
    """Write ``loss.png`` and ``metrics.png`` for a run's logged history.

    ``loss.png``: the training loss (log scale when it spans decades; else zoomed on the
    run after its first tenth, where a linear axis would be flat) and, beside it, what
    shows convergence on a log scale: the gradient norm, and the gap to the task's
    closed-form optimum when it has one, else to the best loss seen.
    ``metrics.png``: the task's first metric on train and test (accuracy or MSE), and
    the parameter norm; with a closed-form optimum also the relative distance to it.

    Returns:
      The paths written.
    """
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    x, y = _series(history, "loss")
    ax1.plot(x, y, marker="." if len(x) < 30 else None, label="train loss L (sum)")
    ax_title = "training loss"
    if y and min(y) > 0 and max(y) > 30 * min(y):
        _log_y(ax1)
    elif len(y) >= 10:
        tail = y[len(y) // 10 :]
        lo, hi = min(tail), max(tail)
        if max(y) - lo > 5 * (hi - lo) > 0:  # the first steps would flatten the rest
            pad = 0.08 * (hi - lo)
            ax1.set_ylim(lo - pad, hi + pad)
            ax_title += " (zoomed: the first steps lie above)"
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss")
    ax1.set_title(ax_title)
    ax1.grid(alpha=0.3)
    x, y = _series(history, "grad_norm")
    if y and min(y) > 0:
        ax2.plot(x, y, marker="." if len(x) < 30 else None, label="‖∇L‖₂")
    x, y = _series(history, "objective_gap")
    gap = "closed form"
    if not y:  # no known optimum: the gap to the best loss seen (zero there, left out)
        x, y = _series(history, "loss")
        best = min(y) if y else 0.0
        y = [b - best for b in y]
        gap = "best loss seen"
    x, y = [a for a, b in zip(x, y, strict=True) if b > 0], [b for b in y if b > 0]
    if y:
        label = "L(θ) − L(θ*)" if gap == "closed form" else "L(θ) − min L"
        ax2.plot(x, y, marker="." if len(x) < 30 else None, label=label)
    _log_y(ax2)
    ax2.set_xlabel("step")
    ax2.set_title(f"convergence: gradient norm, gap to the {gap}")
    ax2.grid(alpha=0.3)
    if ax2.lines:
        ax2.legend()
    fig.suptitle(title)
    paths.append(_save(fig, out / "loss.png"))

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for key, label in ((metric, "train"), (f"test_{metric}", "test")):
        x, y = _series(history, key)
        if y:
            ax1.plot(x, y, marker="." if len(x) < 30 else None, label=label)
    if "accuracy" not in metric:
        ys = _series(history, metric)[1] + _series(history, f"test_{metric}")[1]
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
    x, y = _series(history, "param_gap")
    if y and min(y) > 0:
        ax2b = ax2.twinx()
        ax2b.plot(x, y, color="C3", label="‖θ − θ*‖/‖θ*‖")
        _log_y(ax2b)
        ax2b.set_ylabel("distance to the closed form", color="C3")
    ax2.set_xlabel("step")
    ax2.set_title("parameter norm" + (" (blue), distance to θ* (red)" if y else ""))
    ax2.grid(alpha=0.3)
    fig.suptitle(title)
    paths.append(_save(fig, out / "metrics.png"))
    return paths
