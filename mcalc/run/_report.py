"""The Markdown report of ``mcalc run``: verification, final metrics beside each task's
reference fit, the plots."""

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
        from ..task import resolve_task

        solver = resolve_task(cfg.task).solvers[cfg.solver]
        return f"{cfg.solver} (exact{': ' + solver.help if solver.help else ''})"
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
    references: dict[str, Any] | None = None,
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

    from ..task import resolve_task

    references = references or {}
    add("## 2. Training: each task's default config on its real data")
    add("")
    add("Losses are the tasks' sums over the training samples; `‖∇L‖∞/N` is the largest entry of ")
    add(
        "the gradient of the mean loss (scikit-learn's `tol`). Each task's first metric on the "
        "training and test splits (accuracy for classification, MSE for regression)."
    )
    add("")
    add(
        "| run | task | data (train/test) | method | steps | status | loss | ‖∇L‖∞/N | train | test | time |"
    )
    add("|---|---|---|---|---:|---|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        m, s = r.metrics, r.summary
        metric = resolve_task(r.config.task).metric
        d = s["data"]
        add(
            f"| {name} | {s['title']} | {d['description'].split(' (')[0]} ({d['n_train']}/{d['n_test']}) | "
            f"{_method(r.config)} | {r.step} | {_status(r)} | {_num(m.get('loss'), 6)} | "
            f"{_num(m.get('grad_max'), 3)} | {metric} {_num(m.get(metric))} | "
            f"{metric} {_num(m.get('test_' + metric))} | {times[name]:.1f} s |"
        )
    add("")
    with_ref = {n: ref for n, ref in references.items() if ref is not None}
    if with_ref:
        add(
            "**Against the reference** a reader would check each run with, fitted on the same "
            "training split (its time is the fit alone; mcalc's is the whole run, compiles included):"
        )
        add("")
        add(
            "| run | reference | its loss | mcalc's loss | its train | mcalc's train | its test | mcalc's test | its time |"
        )
        add("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for n, ref in with_ref.items():
            if "error" in ref:
                add(f"| {n} | {ref['name']} | failed: {ref['error']} | | | | | | |")
                continue
            m, rm = runs[n].metrics, ref["metrics"]
            metric = resolve_task(runs[n].config.task).metric
            add(
                f"| {n} | {ref['name']} | {_num(rm.get('loss'), 8)} | {_num(m.get('loss'), 8)} | "
                f"{metric} {_num(rm.get(metric))} | {metric} {_num(m.get(metric))} | "
                f"{metric} {_num(rm.get('test_' + metric))} | {metric} {_num(m.get('test_' + metric))} | "
                f"{ref['seconds'] * 1e3:.1f} ms |"
            )
        add("")
    for name, r in runs.items():
        m = r.metrics
        if "param_gap" in m:
            add(
                f"**{name}, gradient descent against the closed-form optimum** θ* (on the same "
                f"training split): ‖θ − θ*‖/‖θ*‖ = {_num(m.get('param_gap'), 3)}, "
                f"L(θ) − L(θ*) = {_num(m.get('objective_gap'), 3)} after {r.step} steps."
            )
            add("")
    add("Run folders (config, metrics, checkpoints, plots):")
    add("")
    for name, r in runs.items():
        rel = Path(r.run_dir).relative_to(path)
        add(
            f"- {name}: [`{rel}`]({rel.as_posix()}/) — `mcalc train {rel.as_posix()}/config.yaml` "
            "trains it again"
        )
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
