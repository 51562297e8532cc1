"""The Markdown report of ``mcalc run``: verification, a table of final metrics, the plots."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

__all__ = ["write_report"]


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        return f"{x:.{digits}g}"
    return str(x)


def _method(cfg: Any) -> str:
    if cfg.solver != "optax":
        return {
            "newton": "Newton (exact)",
            "lbfgs": "L-BFGS (exact)",
            "closed_form": "closed form",
        }[cfg.solver]
    o = cfg.optimizer
    args = ", ".join(f"{k}={v}" for k, v in o.args.items())
    lr = (
        f"lr {o.learning_rate:g}"
        if o.schedule is None
        else f"{o.schedule.name}({', '.join(f'{k}={v}' for k, v in o.schedule.args.items())})"
    )
    batch = "full batch" if cfg.train.batch_size is None else f"batch {cfg.train.batch_size}"
    return f"{o.name}({args}) {lr}, {batch}".replace("() ", " ")


def _status(res: Any) -> str:
    s = res.summary
    if res.status == "converged" and s.get("stop_reason") == "tol":
        return f"converged (‖∇L‖∞/N ≤ {s['tol']:g})"
    if res.status == "converged" and s.get("stop_reason") == "gap_tol":
        return f"converged (gap ≤ {s['gap_tol']:g})"
    if res.status == "diverged":
        return f"**diverged** at step {s.get('diverged_at')}"
    return res.status


def write_report(
    path: Path,
    *,
    verification: Any,
    verify_md: str,
    verify_ok: bool | None,
    verify_s: float,
    runs: dict[str, Any],
    times: dict[str, float],
    total_s: float,
    env: dict[str, Any],
) -> Path:
    """Write ``path/report.md`` and return its path (links are relative to ``path``)."""
    from ..train import _files

    lines: list[str] = []
    add = lines.append
    add("# mcalc run")
    add("")
    add(
        f"{time.strftime('%Y-%m-%d %H:%M:%S')} · mcalc {env['mcalc']} · jax {env['jax']} "
        f"({env['backend']}, {env['devices']}) · Python {env['python']} · {env['cpus']} CPUs · "
        f"total {total_s:.1f} s"
    )
    add("")
    bad = [t for t, r in runs.items() if r.status == "diverged"]
    verdict = []
    if verify_ok is not None:
        verdict.append(
            "every closed-form gradient agrees with `jax.grad`"
            if verify_ok
            else "**verification FAILED**"
        )
    verdict.append("every task trained" if not bad else f"**diverged: {', '.join(bad)}**")
    add("**Result:** " + "; ".join(verdict) + ".")
    add("")

    add("## 1. Verification")
    add("")
    if verify_ok is None:
        add("Skipped.")
    else:
        add(
            "Each built-in closed form against `jax.grad` and central finite differences "
            f"(`mcalc verify`, {verify_s:.1f} s; also in `verification.md` and `verification.json`)."
        )
        add("")
        add(verify_md.strip())
    add("")

    add("## 2. Training: each task's default config on its real data")
    add("")
    add(
        "Losses are the spec's sums over the training samples; `‖∇L‖∞/N` is the largest entry of the "
    )
    add(
        "gradient of the mean loss (scikit-learn's `tol`). Accuracy for classification, MSE for P4."
    )
    add("")
    add(
        "| task | data (train/test) | method | steps | status | loss | ‖∇L‖∞/N | train | test | time |"
    )
    add("|---|---|---|---:|---|---:|---:|---:|---:|---:|")
    for task, r in runs.items():
        m, s = r.metrics, r.summary
        metric = "mse" if "mse" in m else "accuracy"
        d = s["data"]
        add(
            f"| {s['title']} | {d['description'].split(' (')[0]} ({d['n_train']}/{d['n_test']}) | "
            f"{_method(r.config)} | {r.step} | {_status(r)} | {_num(m.get('loss'), 6)} | "
            f"{_num(m.get('grad_max'), 3)} | {metric} {_num(m.get(metric))} | "
            f"{metric} {_num(m.get('test_' + metric))} | {times[task]:.1f} s |"
        )
    add("")
    if "p4" in runs:
        m = runs["p4"].metrics
        add(
            "**P4, gradient descent against the closed form** (`mcalc.least_squares` on the same "
            f"training split): ‖w − w*‖/‖w*‖ = {_num(m.get('w_gap'), 3)}, "
            f"L(w) − L(w*) = {_num(m.get('objective_gap'), 3)} after {runs['p4'].step} steps; "
            f"the train MSE {_num(m.get('mse'))} is the MLE σ²* at w."
        )
        add("")
    add("Run folders (config, metrics, checkpoints, plots):")
    add("")
    for task, r in runs.items():
        rel = Path(r.run_dir).relative_to(path)
        add(f"- {task}: [`{rel}`]({rel.as_posix()}/) — `mcalc train {task}` reproduces it")
    add("")

    add("## 3. Plots")
    add("")
    for _task, r in runs.items():
        rel = Path(r.run_dir).relative_to(path)
        add(f"### {r.summary['title']}")
        add("")
        add(r.summary["message"])
        add("")
        for p in r.summary.get("files", {}).get("plots", []):
            name = Path(p).stem
            add(f"![{r.config.name} {name}]({(rel / p).as_posix()})")
            add("")
    report = path / "report.md"
    _files.write_text(report, "\n".join(lines).rstrip() + "\n")
    return report
