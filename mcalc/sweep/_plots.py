"""Plots of a sweep: each final metric against each swept value, and every lane's loss curve."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_sweep"]


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def plot_sweep(
    sweep_dir: Path, rows: list[dict[str, Any]], params: list[str], metric: str
) -> list[Path]:
    """Write ``plots/<metric>_vs_<param>.png`` and ``plots/loss_curves.png``; return the paths.

    With ``seed`` among the swept keys, the lanes that differ only in seed are
    averaged: the line is the mean, the band one standard deviation.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..train import _files

    out_dir = sweep_dir / "plots"
    out_dir.mkdir(exist_ok=True)
    paths = []
    ok = [r for r in rows if r["status"] != "diverged"]
    metrics = [m for m in dict.fromkeys([metric, "param_norm", "loss"]) if ok and m in ok[0]]
    for p in params:
        if p == "seed" or not _numeric([r[p] for r in rows]):
            continue
        others = [q for q in params if q not in (p, "seed")]
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
        for ax, m in zip(axes[0], metrics, strict=True):
            lines: dict[tuple, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
            for r in ok:
                lines[tuple(r[q] for q in others)][r[p]].append(r[m])
            for key, pts in list(lines.items())[:8]:
                xs = np.array(sorted(pts))
                ys = [np.asarray(pts[x], float) for x in xs]
                mean = np.array([y.mean() for y in ys])
                std = np.array([y.std() for y in ys])
                label = ", ".join(
                    f"{q}={v:g}" if isinstance(v, float) else f"{q}={v}"
                    for q, v in zip(others, key, strict=True)
                )
                ax.plot(xs, mean, marker="o", ms=3, label=label or None)
                if any(len(y) > 1 for y in ys):
                    ax.fill_between(xs, mean - std, mean + std, alpha=0.25)
            xs_all = [r[p] for r in ok if r[p] > 0] if ok else []
            if xs_all and len(xs_all) == len(ok) and max(xs_all) / min(xs_all) > 100:
                ax.set_xscale("log")
            if m in ("loss", "param_norm") and ok and all(r[m] > 0 for r in ok):
                ax.set_yscale("log")
            ax.set_xlabel(p)
            ax.set_ylabel(m)
            ax.grid(alpha=0.3)
            if others and len(lines) > 1:
                ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(_save(fig, out_dir / f"vs_{p.replace('.', '_')}.png", plt, _files))

    curves = _curves(sweep_dir)
    if curves:
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        for _, (steps, losses) in sorted(curves.items()):
            ax.plot(steps, losses, lw=0.8, alpha=0.6)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (sum over samples)")
        if all(v > 0 for _, ls in curves.values() for v in ls if math.isfinite(v)):
            ax.set_yscale("log")
        ax.set_title(f"{len(curves)} configurations")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        paths.append(_save(fig, out_dir / "loss_curves.png", plt, _files))
    return paths


def _curves(sweep_dir: Path) -> dict[int, tuple[list[int], list[float]]]:
    from ..train import _files

    out: dict[int, tuple[list[int], list[float]]] = {}
    for path in sorted((sweep_dir / "groups").glob("*/metrics.jsonl")):
        for r in _files.read_jsonl(path):
            loss = r.get("loss")
            if not isinstance(loss, int | float):
                continue
            steps, losses = out.setdefault(int(r["lane"]), ([], []))
            steps.append(int(r["step"]))
            losses.append(float(loss))
    return out


def _save(fig: Any, path: Path, plt: Any, files: Any) -> Path:
    files.atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110), binary=True)
    plt.close(fig)
    return path
