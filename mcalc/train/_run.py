"""One training run: :func:`train` -- the same from Python and from ``mcalc train``.

build the program -> init (or restore the last checkpoint) -> loop of compiled
chunks, each followed by a logging point (metrics line, progress bar, stopping
rules, checkpoint) -> final parameters, plots and summary in the run folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config, ConfigError, config_diff, load_config, to_yaml
from . import _files
from ._cache import CacheCounter, setup_compilation_cache

__all__ = ["train", "TrainResult", "RUN_FILES"]

# What a run folder holds (documented in the README, "Run folders").
RUN_FILES = {
    "config": "config.yaml",
    "metrics": "metrics.jsonl",
    "summary": "summary.json",
    "params": "params.npz",
    "checkpoints": "checkpoints",
    "plots": "plots",
}

_FN = "mcalc.train"


@dataclasses.dataclass(frozen=True, eq=False)
class TrainResult:
    """What a run returns.

    Attributes:
      params: the final parameters (``{"w": [D']}``, or P7's ``{"W0", "W1", "w2"}``);
        after a divergence, the last finite ones.
      metrics: the metrics at the last logging point (floats).
      history: every logging point, as written to ``metrics.jsonl``.
      run_dir: the run folder.
      config: the resolved :class:`~mcalc.config.Config`.
      status: ``"completed"`` (all steps), ``"converged"`` (a tolerance was met, or
        an exact solver finished), ``"not_converged"`` (an exact solver ran out of
        iterations), or ``"diverged"`` (a non-finite loss stopped the run).
      step: the number of updates applied (solver iterations for exact solvers).
      summary: the content of ``summary.json``.
    """

    params: dict[str, Any]
    metrics: dict[str, float]
    history: list[dict[str, Any]]
    run_dir: Path
    config: Config
    status: str
    step: int
    summary: dict[str, Any]

    @property
    def ok(self) -> bool:
        """False when the run diverged."""
        return self.status != "diverged"

    def model(self) -> Any:
        """P7: the trained :class:`mcalc.ResidualNet` (a flax module holding ``params``)."""
        if self.config.task != "p7":
            raise ValueError(
                f"{_FN}: TrainResult.model() is for task p7; this run is {self.config.task}."
            )
        from ..models import ResidualNet

        return ResidualNet.from_params(self.params)


# ----------------------------------------------------------------------------- helpers


def _floats(metrics: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in metrics.items():
        x = np.asarray(v).item()
        out[k] = (
            int(x) if isinstance(x, int | np.integer) or k in ("step", "diverged_at") else float(x)
        )
    return out


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _versions() -> dict[str, str]:
    import jax
    import optax

    from .. import __version__

    return {
        "mcalc": __version__,
        "jax": jax.__version__,
        "optax": optax.__version__,
        "python": sys.version.split()[0],
    }


def _progress_bar(total: int, initial: int, desc: str, progress: bool | None):
    from tqdm.auto import tqdm

    disable = (not progress) if progress is not None else (not sys.stderr.isatty())
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="step",
        disable=disable,
        dynamic_ncols=True,
        leave=True,
    )


def _save_params(path: Path, params: dict[str, Any]) -> None:
    arrays = {k: np.asarray(v) for k, v in params.items()}
    _files.atomic_write(path, lambda fh: np.savez(fh, **arrays), binary=True)


def _describe_metrics(task_metric: str, m: dict[str, Any]) -> str:
    parts = []
    if task_metric in m:
        parts.append(f"train {task_metric} {_fmt(m[task_metric])}")
    if f"test_{task_metric}" in m:
        parts.append(f"test {task_metric} {_fmt(m[f'test_{task_metric}'])}")
    if "w_gap" in m:
        parts.append(f"‖w − w*‖/‖w*‖ = {m['w_gap']:.3g} from the closed form")
    return ", ".join(parts)


# ----------------------------------------------------------------------------- resolving


def _resolve(config: Any, overrides: list[Any], resume: Any) -> tuple[Config, Path | None]:
    if resume is None:
        if config is None:
            raise ConfigError(
                f"{_FN}: give a config (a YAML file, a task name such as 'p2', or a Config)."
            )
        return load_config(config, overrides), None
    run_dir = Path(resume).absolute()
    saved_path = run_dir / RUN_FILES["config"]
    if not saved_path.is_file():
        raise ValueError(
            f"{_FN}: resume={str(run_dir)!r} is not a run folder (it has no {RUN_FILES['config']})."
        )
    saved = load_config(saved_path)
    cfg = load_config(saved if config is None else config, overrides)
    diff = [k for k in config_diff(saved, cfg) if k != "train.steps"]
    if diff:
        detail = "; ".join(
            f"{k}: {_lookup(saved, k)!r} in the run, {_lookup(cfg, k)!r} now" for k in diff[:6]
        )
        raise ConfigError(
            f"{_FN}: cannot resume {run_dir}: the config differs from the run's own "
            f"({detail}). Only train.steps may change on resume; start a new run for other changes."
        )
    return cfg, run_dir


def _lookup(cfg: Any, dotted: str) -> Any:
    node = cfg
    for part in dotted.split("."):
        node = getattr(node, part, None)
    return node


# ----------------------------------------------------------------------------- the run


def train(
    config: Any = None,
    /,
    *,
    runs_dir: str | os.PathLike = "runs",
    resume: str | os.PathLike | None = None,
    progress: bool | None = None,
    overrides: Sequence[str] | Mapping[str, Any] | None = None,
    **kw_overrides: Any,
) -> TrainResult:
    """Train one run from a config; what ``mcalc train CONFIG [key=value ...]`` does.

    Writes a new run folder ``<runs_dir>/<name>-<timestamp>`` (never an existing
    one) holding the resolved ``config.yaml``, ``metrics.jsonl``, ``summary.json``,
    ``params.npz``, orbax ``checkpoints/`` and ``plots/``. With ``resume``, continues
    that folder's run from its last checkpoint and ends with the parameters an
    uninterrupted run would have.

    Args:
      config: a YAML file, a task name (``"p2"``, ``"p3"``, ``"p4"``, ``"p7"``: its
        embedded default), a :class:`~mcalc.config.Config` or a mapping. May be
        omitted with ``resume`` (the run's own config is used).
      runs_dir: parent folder of new run folders.
      resume: a run folder to continue.
      progress: show a progress bar (default: when stderr is a terminal).
      overrides: ``key=value`` strings as on the command line
        (``["train.steps=100", "model.lam=0.1"]``; values are parsed as YAML).
      **kw_overrides: config overrides by dotted key, with ``__`` for the dots
        (``train__steps=100``), or ``**{"model.lam": 0.1}``, or a section mapping
        (``model={"lam": 0.1}``); applied after ``overrides``.

    Returns:
      A :class:`TrainResult`: final parameters, metrics, history, run folder.

    Raises:
      ConfigError: on an invalid config (before anything is written).
      ValueError: on invalid data (NaN/Inf, labels outside the task's set, a feature
        count that does not match ``model.n_features``), or a ``resume`` folder whose
        config differs from the given one.

    Example:
      >>> import mcalc, tempfile
      >>> res = mcalc.train("p2", runs_dir=tempfile.mkdtemp(), progress=False,
      ...                   train__steps=100)  # doctest: +SKIP
      >>> res.status, res.metrics["accuracy"] > 0.9  # doctest: +SKIP
      ('completed', True)
    """
    t_start = time.perf_counter()
    if isinstance(overrides, str | Mapping):
        overrides = [overrides]
    layers: list[Any] = (
        [*(overrides or []), kw_overrides] if kw_overrides else list(overrides or [])
    )
    cfg, run_dir = _resolve(config, layers, resume)
    cache = setup_compilation_cache()
    counter = CacheCounter()
    import jax

    x64 = jax.enable_x64(True) if cfg.data.dtype == "float64" else contextlib.nullcontext()
    with x64:
        return _run(cfg, run_dir, Path(runs_dir), progress, t_start, cache, counter)


def _run(
    cfg: Config, run_dir: Path | None, runs_dir: Path, progress, t_start, cache, counter
) -> TrainResult:
    from ..data import load_data
    from ._checkpoint import Checkpoints
    from ._program import build_program, make_data
    from ._tasks import get_task

    dataset = load_data(cfg)
    program = build_program(cfg, dataset)
    data = make_data(program, dataset)
    hyper = program.hyper()
    task = get_task(cfg.task)

    fresh = run_dir is None
    header = (
        f"mcalc run config ({task.title}); resume with: mcalc train --resume <this folder>\n"
        "Each field: value, then what it means."
    )
    if fresh:
        run_dir = _files.create_run_dir(runs_dir, cfg.name)
        _files.write_text(run_dir / RUN_FILES["config"], to_yaml(cfg, header=header))
    else:
        saved = load_config(run_dir / RUN_FILES["config"])
        if saved.train.steps != cfg.train.steps:  # extending a run: record the new length
            _files.write_text(run_dir / RUN_FILES["config"], to_yaml(cfg, header=header))
    summary_path = run_dir / RUN_FILES["summary"]

    summary: dict[str, Any] = {
        "name": cfg.name,
        "task": cfg.task,
        "title": task.title,
        "status": "running",
        "run_dir": str(run_dir),
        "solver": cfg.solver,
        "optimizer": cfg.optimizer.name if cfg.solver == "optax" else None,
        "grad": cfg.model.grad,
        "steps": cfg.train.steps,
        "data": {
            "description": dataset.description,
            "n_train": dataset.n_train,
            "n_test": dataset.n_test,
            "n_features": dataset.n_features,
            "intercept": dataset.intercept,
            "standardized": cfg.data.standardize,
            "dtype": cfg.data.dtype,
        },
        "hyper": {k: float(v) for k, v in hyper.items()},
        "versions": _versions(),
    }
    previous: dict[str, Any] = {}
    if not fresh and summary_path.exists():
        try:
            previous = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}  # a summary torn by a kill: the checkpoints and metrics decide
        summary["resumes"] = list(previous.get("resumes", []))
    finished = (
        previous.get("status") in ("completed", "converged", "not_converged")
        and previous.get("steps") == cfg.train.steps
    )
    _files.write_json(summary_path, summary)

    ckpt = Checkpoints(run_dir / RUN_FILES["checkpoints"], keep=cfg.train.keep_checkpoints)
    try:
        if cfg.solver != "optax":
            return _solve(
                cfg, program, data, hyper, task, run_dir, summary, ckpt, t_start, cache, counter
            )
        return _loop(
            cfg,
            program,
            data,
            hyper,
            task,
            run_dir,
            fresh,
            summary,
            ckpt,
            progress,
            t_start,
            cache,
            counter,
            previous if finished else None,
        )
    except KeyboardInterrupt:
        summary["status"] = "interrupted"
        summary["message"] = f"interrupted; resume with: mcalc train --resume {run_dir}"
        _files.write_json(summary_path, summary)
        raise
    finally:
        ckpt.close()


def _finish(
    cfg,
    task,
    run_dir,
    summary,
    history,
    params,
    status,
    step,
    message,
    t_start,
    cache,
    counter,
    extra=None,
):
    summary.update(extra or {})
    summary["status"] = status
    summary["step"] = step
    summary["message"] = message
    summary["metrics"] = history[-1] if history else {}
    summary["initial_metrics"] = history[0] if history else {}
    _save_params(run_dir / RUN_FILES["params"], params)
    plots = []
    if cfg.train.plots and history:
        from ._plots import plot_history

        title = f"{cfg.name}: {task.title} — {summary['data']['description']}"
        plots = [
            str(p.relative_to(run_dir))
            for p in plot_history(history, run_dir / RUN_FILES["plots"], title=title)
        ]
    summary["files"] = {
        "config": RUN_FILES["config"],
        "metrics": RUN_FILES["metrics"],
        "params": RUN_FILES["params"],
        "checkpoints": RUN_FILES["checkpoints"],
        "plots": plots,
    }
    timing = summary.setdefault("timing", {})
    timing["total_s"] = time.perf_counter() - t_start
    summary["compile_cache"] = {"dir": cache, **counter.read()}
    _files.write_json(run_dir / RUN_FILES["summary"], summary)
    return TrainResult(
        params=params,
        metrics=dict(history[-1]) if history else {},
        history=history,
        run_dir=run_dir,
        config=cfg,
        status=status,
        step=step,
        summary=summary,
    )


def _loop(
    cfg,
    program,
    data,
    hyper,
    task,
    run_dir,
    fresh,
    summary,
    ckpt,
    progress,
    t_start,
    cache,
    counter,
    finished,
):
    import jax

    from ._program import compiled

    t = cfg.train
    metrics_path = run_dir / RUN_FILES["metrics"]
    init, evaluate, chunk = compiled(program)
    history: list[dict[str, Any]] = []
    state = None
    if not fresh:
        last = ckpt.latest_step()
        if last is not None:
            state = ckpt.restore(last, program.abstract_state())
            # Logging points after the checkpoint are replayed by the resumed run.
            history = [
                r for r in _files.read_jsonl(metrics_path) if r.get("step", math.inf) <= last
            ]
            if finished is None:  # a run that had ended is not trained further
                summary["resumes"] = [*summary.get("resumes", []), last]
        _files.rewrite_jsonl(metrics_path, history)
    if state is None:
        state = init(jax.random.PRNGKey(cfg.seed), hyper)
    if not history:
        lr0 = float(program.learning_rate(hyper, jax.numpy.asarray(0, jax.numpy.int32)))
        rec = {
            "step": 0,
            **_floats(evaluate(state.params, hyper, data)),
            "learning_rate": lr0,
            "time_s": 0.0,
        }
        _files.append_jsonl(metrics_path, rec)
        history.append(rec)

    def stopping_rule(m: dict[str, Any]) -> str | None:
        if t.tol is not None and m.get("grad_max", math.inf) <= t.tol:
            return "tol"
        if t.gap_tol is not None and m.get("objective_gap", math.inf) <= t.gap_tol:
            return "gap_tol"
        return None

    step = int(state.step)
    status, reason, diverged_at = "completed", "steps", None
    if finished is not None:  # resuming a run that had ended: nothing left to train
        status, reason = finished["status"], finished.get("stop_reason", "steps")
    elif (
        not fresh
        and step > 0
        and history[-1]["step"] == step
        and (rule := stopping_rule(history[-1]))
    ):
        # killed after its converged checkpoint but before its summary: it had ended
        status, reason = "converged", rule
        finished = {"status": status}
    first_chunk_s = None
    t_loop = time.perf_counter()
    bar = _progress_bar(t.steps, min(step, t.steps), run_dir.name, progress)
    try:
        while step < t.steps and finished is None:
            t0 = time.perf_counter()
            state, m = chunk(state, hyper, data)
            m = _floats(jax.device_get(m))
            if first_chunk_s is None:
                first_chunk_s = time.perf_counter() - t0
            step = m.pop("step")
            div = m.pop("diverged_at")
            rec = {"step": step, **m, "time_s": time.perf_counter() - t_start}
            if div >= 0:
                rec["diverged_at"] = div
            _files.append_jsonl(run_dir / RUN_FILES["metrics"], rec)
            history.append(rec)
            bar.update(step - bar.n)
            bar.set_postfix(loss=f"{m['loss']:.4g}", refresh=False)
            if div >= 0:
                status, reason, diverged_at = "diverged", "diverged", div
                break
            if rule := stopping_rule(m):
                status, reason = "converged", rule
            if (
                status == "converged"
                or step >= t.steps
                or (t.checkpoint_every and step % t.checkpoint_every == 0)
            ):
                ckpt.save(step, state)
            if status == "converged":
                break
    finally:
        bar.close()
    loop_s = time.perf_counter() - t_loop
    summary["timing"] = {
        "first_chunk_s": first_chunk_s,
        "loop_s": loop_s,
    }
    summary["stop_reason"] = reason
    summary["tol"] = t.tol
    summary["gap_tol"] = t.gap_tol
    summary["diverged_at"] = diverged_at
    last = history[-1]
    if status == "diverged":
        good = ckpt.latest_step()
        where = (
            f"the last good checkpoint is step {good}"
            if good is not None
            else "no checkpoint was written before it"
        )
        message = (
            f"{cfg.name}: the loss became non-finite at step {diverged_at}; the run stopped there "
            f"({where}; the parameters kept are the last finite ones, of step {diverged_at}). "
            "Try a smaller learning rate."
        )
    elif status == "converged":
        what = (
            f"‖∇L‖∞/N = {last['grad_max']:.3g} ≤ tol {t.tol:g}"
            if reason == "tol"
            else f"L(w) − L(w*) = {last['objective_gap']:.3g} ≤ gap_tol {t.gap_tol:g}"
        )
        message = f"{cfg.name}: converged at step {step} ({what}); " + _describe_metrics(
            task.metric, last
        )
    else:
        message = f"{cfg.name}: {step} steps, loss {last['loss']:.6g}; " + _describe_metrics(
            task.metric, last
        )
    params = jax.device_get(state.params)
    extra = {}
    if cfg.task == "p4":
        extra["closed_form"] = {
            "w_gap": last.get("w_gap"),
            "objective_gap": last.get("objective_gap"),
            "note": "w* = mcalc.least_squares on the training split; w_gap = ‖w − w*‖/‖w*‖",
        }
    return _finish(
        cfg,
        task,
        run_dir,
        summary,
        history,
        params,
        status,
        step,
        message,
        t_start,
        cache,
        counter,
        extra,
    )


def _solve(cfg, program, data, hyper, task, run_dir, summary, ckpt, t_start, cache, counter):
    import jax

    from ..problems import RankDeficientWarning, least_squares
    from ._program import compiled

    metrics_path = run_dir / RUN_FILES["metrics"]
    init, evaluate, _ = compiled(program)
    state0 = init(jax.random.PRNGKey(cfg.seed), hyper)
    rec0 = {"step": 0, **_floats(evaluate(state0.params, hyper, data)), "time_s": 0.0}
    _files.rewrite_jsonl(metrics_path, [rec0])
    t0 = time.perf_counter()
    extra: dict[str, Any] = {}
    if cfg.solver in ("newton", "lbfgs"):
        from .. import solvers

        fn = solvers.logistic_newton if cfg.solver == "newton" else solvers.logistic_lbfgs
        tol = cfg.train.tol if cfg.train.tol is not None else solvers.default_tol(data.X.dtype)
        res = fn(
            data.X,
            data.y,
            lam=cfg.model.lam,
            w0=state0.params["w"],
            tol=tol,
            max_iter=cfg.train.steps,
        )
        params = {"w": res.w}
        n_iter = int(res.n_iter)
        converged = bool(res.converged)
        extra["solver_result"] = {
            "n_iter": n_iter,
            "grad_max": float(res.grad_norm),
            "converged": converged,
            "tol": float(tol),
            "loss": float(res.loss),
            "rule": "‖∇L‖∞/N ≤ tol (mcalc.solvers, scikit-learn's tol)",
        }
        status = "converged" if converged else "not_converged"
        what = (
            f"{cfg.solver} converged in {n_iter} iterations (‖∇L‖∞/N = {float(res.grad_norm):.3g} ≤ tol {tol:g})"
            if converged
            else f"{cfg.solver} did not converge in {n_iter} iterations (‖∇L‖∞/N = {float(res.grad_norm):.3g} > tol {tol:g})"
        )
    else:  # closed_form (P4)
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RankDeficientWarning)
            res = least_squares(data.X, data.y)
        params = {"w": res.w}
        n_iter = 1
        status = "converged"
        extra["solver_result"] = {
            "rank": int(res.rank),
            "full_rank": bool(res.full_rank),
            "sigma2_mle": float(res.sigma2),
            "warnings": [str(w.message) for w in caught],
        }
        what = f"closed form (rank {int(res.rank)} of {program.dim}, σ²* = {float(res.sigma2):.4g})"
    solve_s = time.perf_counter() - t0
    rec = {
        "step": n_iter,
        **_floats(evaluate(params, hyper, data)),
        "time_s": time.perf_counter() - t_start,
    }
    _files.append_jsonl(metrics_path, rec)
    history = [rec0, rec]
    state = state0._replace(params=params, step=jax.numpy.asarray(n_iter, jax.numpy.int32))
    ckpt.save(n_iter, state)
    summary["timing"] = {"solve_s": solve_s}
    summary["stop_reason"] = "solver"
    summary["tol"] = cfg.train.tol
    message = f"{cfg.name}: {what}; " + _describe_metrics(task.metric, rec)
    return _finish(
        cfg,
        task,
        run_dir,
        summary,
        history,
        jax.device_get(params),
        status,
        n_iter,
        message,
        t_start,
        cache,
        counter,
        extra,
    )
