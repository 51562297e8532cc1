"""Plots of a sweep: each final metric against each swept value, and every lane's loss curve.

Figures are drawn on an Agg canvas (``matplotlib.figure.Figure``), never through
``pyplot``, so a notebook's backend is left alone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_sweep"]


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _label(keys: list[str], values: tuple) -> str:
    return ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in zip(keys, values, strict=True)
    )


def sweep_series(
    rows: list[dict[str, Any]], param: str, others: list[str], metrics: list[str]
) -> dict[tuple, dict[Any, dict[str, list[float]]]]:
    """What a ``vs_<param>`` plot draws: a line per combination of the ``others`` keys (its
    values, in order), and on it, for each value of ``param``, each metric's finite values over
    the lanes there (the seeds: their mean is the point, their std the band)."""
    lines: dict[tuple, dict[Any, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for r in rows:
        for m in metrics:
            if _finite(r.get(m)):
                lines[tuple(r[q] for q in others)][r[param]][m].append(float(r[m]))
    return lines


def plot_notes(
    param: str, n_values: int, seeds: list[str], per_point: int, n_div: int
) -> list[str]:
    """The plot's title: how many values, how points are averaged, how many lanes diverged."""
    notes = [f"{n_values} values of {param}"]
    if seeds and per_point > 1:
        notes.append(f"mean ± 1 std over {per_point} lanes per point ({', '.join(seeds)})")
    if n_div:
        notes.append(f"{n_div} diverged lane{'s' if n_div != 1 else ''} left out")
    return notes


def plot_sweep(
    sweep_dir: Path,
    rows: list[dict[str, Any]],
    params: list[str],
    metric: str,
    seeds: list[str] = (),
) -> list[Path]:
    """Write ``plots/vs_<param>.png`` for each numeric swept key and ``plots/loss_curves.png``.

    Every value of the swept key is on the x-axis. Lanes that differ only in their seeds
    (``seeds``) are aggregated: the line is their mean, the band one standard deviation,
    and the title says how many seeds each point averages. Every other combination of the
    swept keys is a line of its own; the legend sits beside the axes, never on the data.
    Diverged lanes are left out (the title counts them).

    Returns:
      The paths written.
    """
    from matplotlib.figure import Figure

    from ..train import _files

    out_dir = sweep_dir / "plots"
    out_dir.mkdir(exist_ok=True)
    paths = []
    ok = [r for r in rows if r["status"] != "diverged"]
    n_div = len(rows) - len(ok)
    metrics = [
        m
        for m in dict.fromkeys([metric, "param_norm", "loss"])
        if any(_finite(r.get(m)) for r in ok)
    ]
    for p in params:
        if p in seeds or not _numeric([r[p] for r in rows]) or not metrics:
            continue
        others = [q for q in params if q != p and q not in seeds]
        lines = sweep_series(ok, p, others, metrics)
        n_lines = len(lines)
        width = 4.3 * len(metrics) + (2.6 if n_lines > 1 else 0)
        fig = Figure(figsize=(width, 3.9))
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        cmap = None
        if n_lines > 10:
            import matplotlib

            cmap = matplotlib.colormaps["viridis"]
        per_point = max(
            (len(v) for pts in lines.values() for d in pts.values() for v in d.values()), default=1
        )
        xs_all = sorted({r[p] for r in rows})
        for ax, m in zip(axes, metrics, strict=True):
            for i, (key, pts) in enumerate(sorted(lines.items(), key=lambda kv: repr(kv[0]))):
                xs = np.array([x for x in sorted(pts) if pts[x][m]])
                if not len(xs):
                    continue
                ys = [np.asarray(pts[x][m]) for x in xs]
                mean = np.array([y.mean() for y in ys])
                std = np.array([y.std() for y in ys])
                color = cmap(i / max(n_lines - 1, 1)) if cmap is not None else f"C{i % 10}"
                ax.plot(xs, mean, marker="o", ms=3, color=color, label=_label(others, key) or None)
                if any(len(y) > 1 for y in ys):
                    ax.fill_between(xs, mean - std, mean + std, alpha=0.2, color=color, lw=0)
            positive = [x for x in xs_all if x > 0]
            if len(positive) == len(xs_all) and len(xs_all) > 2 and max(xs_all) / min(xs_all) > 100:
                ax.set_xscale("log")
            vals = [v for pts in lines.values() for d in pts.values() for v in d[m]]
            if (
                m in ("loss", "param_norm")
                and vals
                and min(vals) > 0
                and max(vals) > 30 * min(vals)
            ):
                ax.set_yscale("log")
            ax.set_xlabel(p)
            ax.set_ylabel(m)
            ax.grid(alpha=0.3)
        notes = plot_notes(p, len(xs_all), seeds, per_point, n_div)
        fig.suptitle("; ".join(notes), fontsize=9)
        if n_lines > 1:
            handles, labels = axes[0].get_legend_handles_labels()
            fig.legend(
                handles,
                labels,
                loc="center right",
                fontsize=7,
                frameon=False,
                ncols=1 if n_lines <= 20 else 2,
            )
            fig.subplots_adjust(
                left=0.07, right=1 - 2.5 / width, bottom=0.15, top=0.88, wspace=0.35
            )
        else:
            fig.subplots_adjust(left=0.08, right=0.97, bottom=0.15, top=0.88, wspace=0.35)
        paths.append(_save(fig, out_dir / f"vs_{p.replace('.', '_')}.png", _files))

    curves = _curves(sweep_dir)
    if curves:
        fig = Figure(figsize=(6.4, 3.9))
        ax = fig.subplots()
        key = next((q for q in params if q not in seeds and _numeric([r[q] for r in rows])), None)
        value = {r["lane"]: r.get(key) for r in rows} if key else {}
        norm = None
        if key:
            import matplotlib
            from matplotlib.colors import LogNorm, Normalize

            vs = [v for v in value.values() if v is not None]
            lo, hi = min(vs), max(vs)
            norm = (
                LogNorm(lo, hi)
                if lo > 0 and hi / lo > 100
                else Normalize(lo, hi if hi > lo else lo + 1)
            )
            cmap = matplotlib.colormaps["viridis"]
        for lane, (steps, losses) in sorted(curves.items()):
            color = (
                cmap(norm(value[lane]))
                if norm is not None and value.get(lane) is not None
                else None
            )
            ax.plot(steps, losses, lw=0.8, alpha=0.7, color=color)
        if norm is not None:
            from matplotlib.cm import ScalarMappable

            fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=key)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (sum over samples)")
        finite = [v for _, ls in curves.values() for v in ls if math.isfinite(v)]
        if finite and min(finite) > 0 and max(finite) > 30 * min(finite):
            ax.set_yscale("log")
        ax.set_title(f"{len(curves)} lanes", fontsize=9)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        paths.append(_save(fig, out_dir / "loss_curves.png", _files))
    return paths


def _curves(sweep_dir: Path) -> dict[int, tuple[list[int], list[float]]]:
    from ..train import _files

    out: dict[int, tuple[list[int], list[float]]] = {}
    for path in sorted((sweep_dir / "groups").glob("*/metrics.jsonl")):
        for r in _files.read_jsonl(path):
            loss = r.get("loss")
            if not _finite(loss):
                continue
            steps, losses = out.setdefault(int(r["lane"]), ([], []))
            steps.append(int(r["step"]))
            losses.append(float(loss))
    return out


def _save(fig: Any, path: Path, files: Any) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    with np.errstate(over="ignore", invalid="ignore"):
        return files.atomic_write(
            path, lambda fh: fig.savefig(fh, format="png", dpi=110), binary=True
        )
