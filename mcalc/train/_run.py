"""One training run: :func:`train` -- the same from Python and from ``mcalc train``.

resolve the config (or the run's own, to resume) -> load the data -> build the
program -> :func:`mcalc.train._driver.drive` (chunks, metrics, checkpoints), or an
exact solver -> final parameters, the model file for prediction, plots and summary.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config, ConfigError, config_diff, load_config, parse_overrides, to_yaml
from . import _files
from ._driver import GroupRun, Interrupted, deferred_interrupt, drive, lane_status

__all__ = ["train", "TrainResult", "RUN_FILES", "reference_fit"]

# What a run folder holds (documented in the training docs, "Run folders").
RUN_FILES = {
    "config": "config.yaml",
    "metrics": "metrics.jsonl",
    "summary": "summary.json",
    "params": "params.npz",
    "model": "model.json",
    "checkpoints": "checkpoints",
    "plots": "plots",
}

_FN = "mcalc.train"


@dataclasses.dataclass(frozen=True, eq=False)
class TrainResult:
    """What a run returns.

    Attributes:
      params: the final parameters (the task's pytree: ``{"w": [D']}``, or P7's
        ``{"W0", "W1", "w2"}``); after a divergence, the last finite ones.
      metrics: the metrics at the last logging point (floats).
      history: every logging point, as written to ``metrics.jsonl``.
      run_dir: the run folder.
      config: the resolved :class:`~mcalc.config.Config`.
      status: ``"completed"`` (all steps), ``"converged"`` (a tolerance was met, or
        an exact solver finished), ``"not_converged"`` (an exact solver ran out of
        iterations), or ``"diverged"`` (a non-finite loss stopped the run).
      step: the number of updates applied (solver iterations for exact solvers).
      summary: the content of ``summary.json``.

    Example:
      >>> import mcalc, tempfile
      >>> res = mcalc.train("p2", runs_dir=tempfile.mkdtemp(), progress=False,
      ...                   data={"source": "synthetic", "n_samples": 40, "n_features": 3},
      ...                   train={"steps": 20, "plots": False})
      >>> res.status, res.step, res.params["w"].shape
      ('completed', 20, (3,))
      >>> [record["step"] for record in res.history]  # the initial point, then each chunk
      [0, 20]
      >>> sorted(res.metrics)
      ['accuracy', 'chunk', 'grad_max', 'grad_norm', 'learning_rate', 'loss', 'param_norm', 'step', 'test_accuracy', 'test_loss', 'time_s']
    """

    params: Any
    metrics: dict[str, float]
    history: list[dict[str, Any]]
    run_dir: Path
    config: Config
    status: str
    step: int
    summary: dict[str, Any]

    @property
    def ok(self) -> bool:
        """False when the run diverged (its loss became non-finite), else True.

        Example:
          >>> res.ok  # the run of the example above
          True
        """
        return self.status != "diverged"

    def model(self) -> Any:
        """The trained model (:class:`mcalc.TrainedModel`): ``.predict(X_raw)`` on raw features.

        Returns:
          :func:`mcalc.load_run` of :attr:`run_dir`.

        Example:
          >>> import numpy as np
          >>> res.model().predict(np.zeros((2, 3))).shape  # the run of the example above
          (2,)
        """
        from ._model import load_run

        return load_run(self.run_dir)


@dataclasses.dataclass
class _Run:
    """The unchanging context of one run, built once by :func:`train`."""

    config: Config
    task: Any
    dataset: Any
    program: Any
    data: Any
    hyper: dict[str, Any]
    folder: Path
    fresh: bool
    summary: dict[str, Any]
    progress: bool | None
    t_start: float
    cache: str | None
    counter: Any


# ----------------------------------------------------------------------------- helpers


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


def _describe_metrics(task: Any, m: dict[str, Any]) -> str:
    parts = []
    for name in task.metric_fns():
        if name in m:
            parts.append(f"train {name} {_fmt(m[name])}")
        if f"test_{name}" in m:
            parts.append(f"test {name} {_fmt(m[f'test_{name}'])}")
    if "param_gap" in m:
        parts.append(f"‖θ − θ*‖/‖θ*‖ = {m['param_gap']:.3g} from the closed form")
    return ", ".join(parts)


def _dotted(layer: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in layer.items():
        if isinstance(v, Mapping) and k != "args":
            out.extend(_dotted(v, f"{prefix}{k}."))
        else:
            out.append(f"{prefix}{k}")
    return out


def _lookup(cfg: Any, dotted: str) -> Any:
    node = cfg
    for part in dotted.split("."):
        node = getattr(node, part, None)
    return node


# ----------------------------------------------------------------------------- resolving


def _resolve(
    config: Any, overrides: list[Any], resume: Any
) -> tuple[Config, Path | None, list[str]]:
    """The config to run, the folder to resume (``None``: a new run) and the changes an
    override makes to a resumed run's own config."""
    if resume is None:
        if config is None and not overrides:
            raise ConfigError(
                f"{_FN}: give a config (a YAML file, a task name such as 'p2', or a Config)."
            )
        return load_config(config, overrides), None, []
    run_dir = Path(resume).absolute()
    saved_path = run_dir / RUN_FILES["config"]
    if not saved_path.is_file():
        what = "does not exist" if not run_dir.exists() else f"has no {RUN_FILES['config']}"
        raise ConfigError(f"{_FN}: resume={str(resume)!r} is not a run folder (it {what}).")
    # A task given as an object (one no other process can import) is passed on to read the
    # run's own config, which names it.
    from ..task import Task

    given_tasks = [
        layer["task"]
        for layer in overrides
        if isinstance(layer, Mapping) and isinstance(layer.get("task"), Task)
    ]
    saved = load_config(saved_path, [{"task": given_tasks[-1]}] if given_tasks else None)
    # The run's own resolved config, changed only by explicit overrides.
    cfg = load_config(saved, overrides)
    set_by_override = {k for _, layer in parse_overrides(overrides) for k in _dotted(layer)}
    changed = config_diff(saved, cfg)
    if config is not None:
        given = load_config(config, overrides)
        differ = [
            k for k in config_diff(saved, given) if k not in set_by_override | {"train.steps"}
        ]
        if differ:
            detail = "; ".join(
                f"{k}: {_lookup(saved, k)!r} in the run, {_lookup(given, k)!r} in the given config"
                for k in differ[:6]
            )
            raise ConfigError(
                f"{_FN}: cannot resume {run_dir}: the given config differs from the run's own "
                f"({detail}). Resume with no config (the run's own is used) or start a new run."
            )
    not_steps = [k for k in changed if k != "train.steps"]
    if not_steps:
        detail = "; ".join(
            f"{k}: {_lookup(saved, k)!r} -> {_lookup(cfg, k)!r}" for k in not_steps[:6]
        )
        raise ConfigError(
            f"{_FN}: cannot resume {run_dir} with changes other than train.steps ({detail}); "
            "start a new run for other changes."
        )
    notes = [f"{k}: {_lookup(saved, k)!r} -> {_lookup(cfg, k)!r} (override)" for k in changed]
    return cfg, run_dir, notes


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
    ``params.npz``, ``model.json`` (what prediction on raw features needs), orbax
    ``checkpoints/`` and ``plots/``. With ``resume``, continues that folder's run from
    its last checkpoint, with the run's own config (overrides may extend
    ``train.steps``), and ends with the parameters an uninterrupted run would have.

    Args:
      config: a YAML file, a task name (``"p2"``, ``"p3"``, ``"p4"``, ``"p7"``: its
        embedded default), a task reference ``"MODULE:NAME"``, a :class:`mcalc.Task`, a
        :class:`~mcalc.config.Config` or a mapping. May be omitted with ``resume``.
      runs_dir: parent folder of new run folders.
      resume: a run folder to continue.
      progress: show a progress bar (default: when stderr is a terminal).
      overrides: ``key=value`` strings as on the command line
        (``["train.steps=100", "model.lam=0.1"]``; values are parsed as YAML).
      **kw_overrides: config overrides by dotted key, with ``__`` for the dots
        (``train__steps=100``), or ``**{"model.lam": 0.1}``, or a section mapping
        (``model={"lam": 0.1}``), or ``task=<mcalc.Task>``; applied after ``overrides``.

    Returns:
      A :class:`TrainResult`: final parameters, metrics, history, run folder.

    Raises:
      ConfigError: on an invalid config (before anything is written).
      ValueError: on invalid data (NaN/Inf, labels outside the task's set, a feature
        count that does not match ``model.n_features``), a task whose functions do not
        fit together, a ``runs_dir`` that is a file, or a ``resume`` folder whose config
        differs from the given one.
      Interrupted: (a ``KeyboardInterrupt``) on Ctrl-C, naming the folder to resume.

    Example:
      >>> import mcalc, tempfile
      >>> res = mcalc.train("p2", runs_dir=tempfile.mkdtemp(), progress=False, train__steps=20,
      ...                   data={"source": "synthetic", "n_samples": 40, "n_features": 3})
      >>> res.status, res.step
      ('completed', 20)
      >>> print(res.summary["message"])
      p2: 20 steps, loss 18.05...; train accuracy 0.7812, test accuracy 1
      >>> sorted(path.name for path in res.run_dir.iterdir())
      ['checkpoints', 'config.yaml', 'metrics.jsonl', 'model.json', 'params.npz', 'plots', 'summary.json']
    """
    t_start = time.perf_counter()
    if isinstance(overrides, str | Mapping):
        overrides = [overrides]
    layers: list[Any] = (
        [*(overrides or []), kw_overrides] if kw_overrides else list(overrides or [])
    )
    cfg, run_dir, notes = _resolve(config, layers, resume)
    for note in notes:
        print(f"mcalc train: resuming with {note}", file=sys.stderr)
    if run_dir is None:
        _files.check_parent(runs_dir, "runs_dir", _FN)
    import jax

    x64 = jax.enable_x64(True) if cfg.data.dtype == "float64" else contextlib.nullcontext()
    with x64:
        run = _prepare(
            cfg, run_dir=run_dir, runs_dir=Path(runs_dir), progress=progress, t_start=t_start
        )
        try:
            return _train(run)
        except KeyboardInterrupt:
            command = _resume_command(cfg, run.folder)
            run.summary["status"] = "interrupted"
            run.summary["message"] = f"interrupted; resume with: {command}"
            _files.write_json(run.folder / RUN_FILES["summary"], run.summary)
            raise Interrupted(run.folder, command) from None


def _resume_command(cfg: Config, folder: Path) -> str:
    """How to continue ``folder``: the command, or the Python call for a task no other
    process can import."""
    from ..task._resolve import is_portable

    if is_portable(cfg.task):
        return f"mcalc train --resume {folder}"
    return (
        f"mcalc.train(resume={str(folder)!r}, task=<your task>) (from Python: the task "
        f"{cfg.task!r} was made where no other process can import it)"
    )


def _reached_step(run_dir: Path) -> int | None:
    """The step of a run folder's last checkpoint (from its metrics), without loading it."""
    folder = run_dir / RUN_FILES["checkpoints"]
    chunks = [int(p.name) for p in folder.iterdir() if p.name.isdigit()] if folder.is_dir() else []
    if not chunks:
        return None
    steps = [
        int(r["step"])
        for r in _files.read_jsonl(run_dir / RUN_FILES["metrics"])
        if r.get("chunk", 0) <= max(chunks) and "step" in r
    ]
    return max(steps, default=None)


def _prepare(
    cfg: Config, *, run_dir: Path | None, runs_dir: Path, progress: bool | None, t_start: float
) -> _Run:
    """Load the data, build the program, make (or reopen) the run folder: everything that can
    fail on bad input happens before the folder is written.

    Raises:
      Interrupted: on a Ctrl-C once the folder exists (held back until its files are written).
    """
    from ..data import load_data
    from ..task import resolve_task
    from ._cache import CacheCounter, setup_compilation_cache
    from ._model import model_info
    from ._program import build_program, make_data

    cache = setup_compilation_cache()
    counter = CacheCounter()
    task = resolve_task(cfg.task)
    dataset = load_data(cfg)
    program = build_program(cfg, dataset)
    data = make_data(program, dataset)
    hyper = program.with_optimum(program.hyper(), data)

    fresh = run_dir is None
    previous: dict[str, Any] = {}
    if not fresh:
        reached = _reached_step(run_dir)
        if reached is not None and reached > cfg.train.steps:
            # before the folder's config is written: a refused resume changes nothing
            raise ConfigError(
                f"{_FN}: train.steps={cfg.train.steps} is below the step this run has reached "
                f"({reached}); give at least {reached}."
            )
        try:
            previous = json.loads((run_dir / RUN_FILES["summary"]).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}  # a summary torn by a kill: the checkpoints and metrics decide
    header = (
        f"mcalc run config ({task.title}); resume with: mcalc train --resume <this folder>\n"
        "Each field: value, then what it means."
    )
    summary: dict[str, Any] = {
        "name": cfg.name,
        "task": cfg.task,
        "title": task.title,
        "status": "running",
        "solver": cfg.solver,
        "optimizer": cfg.optimizer.name if cfg.solver == "optax" else None,
        "grad": cfg.model.grad
        if task.grad is not None
        else "autodiff (the task has no closed form)",
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
        "hyper": {k: float(v) for k, v in hyper.items() if k != "optimum"},
        "versions": _versions(),
        "resumes": list(previous.get("resumes", [])),
    }
    try:
        # The folder and its first files together: a Ctrl-C waits for them, then names it.
        with deferred_interrupt():
            if fresh:
                run_dir = _files.create_run_dir(runs_dir, cfg.name)
            else:
                _files.remove_temporary(run_dir)
            summary["run_dir"] = str(run_dir)
            _files.write_text(run_dir / RUN_FILES["config"], to_yaml(cfg, header=header))
            _files.write_json(run_dir / RUN_FILES["model"], model_info(cfg, dataset))
            _files.write_json(run_dir / RUN_FILES["summary"], summary)
    except KeyboardInterrupt:
        raise Interrupted(run_dir, _resume_command(cfg, run_dir)) from None
    return _Run(
        config=cfg,
        task=task,
        dataset=dataset,
        program=program,
        data=data,
        hyper=hyper,
        folder=run_dir,
        fresh=fresh,
        summary=summary,
        progress=progress,
        t_start=t_start,
        cache=cache,
        counter=counter,
    )


def _train(run: _Run) -> TrainResult:
    """Train with optax (the driver) or an exact solver, then write the results."""
    from ._checkpoint import Checkpoints

    ckpt = Checkpoints(
        run.folder / RUN_FILES["checkpoints"], keep=run.config.train.keep_checkpoints
    )
    try:
        if run.config.solver != "optax":
            return _solve(run, ckpt)
        return _optax(run, ckpt)
    finally:
        ckpt.close()


def _optax(run: _Run, ckpt: Any) -> TrainResult:
    """Train step by step through the driver (a group of one lane); write the results."""
    import jax
    import jax.numpy as jnp

    from ._lanes import GroupRunner

    cfg, program = run.config, run.program
    t = cfg.train
    runner = GroupRunner(program, run.data, 1, lanes="loop", memory_mb=1024.0, devices=1, workers=1)
    bar = _progress_bar(t.steps, 0, run.folder.name, run.progress)

    def tick(chunks: int, records: list[dict[str, Any]]) -> None:
        if records:
            bar.update(records[-1]["step"] - bar.n)
            bar.set_postfix(loss=f"{records[-1]['loss']:.4g}", refresh=False)
        elif chunks:
            bar.update(min(chunks * t.log_every, t.steps) - bar.n)

    group = GroupRun(
        folder=run.folder,
        program=program,
        runner=runner,
        keys=jnp.stack([jax.random.PRNGKey(cfg.seed)]),
        hypers=jax.tree.map(lambda x: jnp.asarray(x)[None], run.hyper),
        lanes=None,
        checkpoints=ckpt,
        every=max(1, t.checkpoint_every // t.log_every) if t.checkpoint_every else 10**9,
        tick=tick,
        t_start=run.t_start,
    )
    t_loop = time.perf_counter()
    try:
        out = drive(group)
    finally:
        bar.close()
    if out.resumed_from is not None and out.first_chunk_s is not None:
        run.summary["resumes"] = [*run.summary["resumes"], out.resumed_from]
    status, reason = lane_status(out.final, 0)
    last = out.history[-1]
    step = int(last["step"])
    run.summary["timing"] = {
        "first_chunk_s": out.first_chunk_s,
        "loop_s": time.perf_counter() - t_loop,
    }
    run.summary["stop_reason"] = reason
    run.summary["tol"] = t.tol
    run.summary["gap_tol"] = t.gap_tol
    diverged_at = int(out.final["diverged_at"][0]) if status == "diverged" else None
    run.summary["diverged_at"] = diverged_at
    if status == "diverged":
        message = (
            f"{cfg.name}: the loss became non-finite at step {diverged_at}; the run stopped there "
            f"(the parameters kept are the last finite ones, of step {diverged_at}). "
            "Try a smaller learning rate."
        )
    elif status == "converged":
        what = (
            f"‖∇L‖∞/N = {last['grad_max']:.3g} ≤ tol {t.tol:g}"
            if reason == "tol"
            else f"L(θ) − L(θ*) = {last['objective_gap']:.3g} ≤ gap_tol {t.gap_tol:g}"
        )
        message = f"{cfg.name}: converged at step {step} ({what}); " + _describe_metrics(
            run.task, last
        )
    else:
        message = f"{cfg.name}: {step} steps, loss {last['loss']:.6g}; " + _describe_metrics(
            run.task, last
        )
    params = jax.tree.map(lambda x: np.asarray(x)[0], out.params)
    if "param_gap" in last:
        run.summary["optimum"] = {
            "param_gap": last.get("param_gap"),
            "objective_gap": last.get("objective_gap"),
            "note": "θ* = the task's closed-form optimum on the training split; "
            "param_gap = ‖θ − θ*‖/‖θ*‖",
        }
    return _finish(run, out.history, params, status, step, message)


def _solve(run: _Run, ckpt: Any) -> TrainResult:
    """Solve with the task's exact solver; write the results."""
    import jax

    from ._program import compiled

    cfg, program = run.config, run.program
    init, report, _ = compiled(program)
    hyper = run.hyper
    state0 = init(jax.random.PRNGKey(cfg.seed), hyper)

    def record(state, chunk: int) -> dict[str, Any]:
        m = jax.device_get(report(state, hyper, run.data))
        rec = {"chunk": chunk, "step": int(m.pop("step"))}
        for k in ("diverged_at", "stopped"):
            m.pop(k)
        rec.update({k: float(v) for k, v in m.items()})
        rec["time_s"] = time.perf_counter() - run.t_start
        return rec

    rec0 = record(state0, 0)
    with deferred_interrupt():
        _files.rewrite_jsonl(run.folder / RUN_FILES["metrics"], [rec0])
    solver = run.task.solvers[cfg.solver]
    kw = {n: float(getattr(cfg.model, n)) for n in run.task.traced_hyper}
    kw.update(program.static_hyper)
    t0 = time.perf_counter()
    sol = solver.fn(
        run.data.X,
        run.data.y,
        params=state0.params,
        intercept=run.dataset.intercept,
        tol=cfg.train.tol,
        max_iter=cfg.train.steps,
        **kw,
    )
    solve_s = time.perf_counter() - t0
    import jax.numpy as jnp

    params = jax.tree.map(lambda a: jnp.asarray(a, program.dtype), sol.params)
    state = state0._replace(params=params, step=jnp.asarray(sol.n_iter, jnp.int32))
    rec = record(state, 1)
    with deferred_interrupt():
        _files.append_jsonl(run.folder / RUN_FILES["metrics"], rec)
        ckpt.save(
            1,
            {
                "state": jax.tree.map(lambda x: jnp.asarray(x)[None], state),
                "chunks": np.asarray(1, np.int64),
            },
        )
    status = "converged" if sol.converged else "not_converged"
    run.summary["solver_result"] = sol.info
    run.summary["timing"] = {"solve_s": solve_s}
    run.summary["stop_reason"] = "solver"
    run.summary["tol"] = cfg.train.tol
    verdict = "converged" if sol.converged else "did not converge"
    what = sol.summary or (
        f"{cfg.solver} {verdict} in {sol.n_iter} iteration{'s' if sol.n_iter != 1 else ''}"
    )
    message = f"{cfg.name}: {what}; " + _describe_metrics(run.task, rec)
    return _finish(run, [rec0, rec], jax.device_get(params), status, sol.n_iter, message)


def _finish(
    run: _Run, history: list[dict[str, Any]], params: Any, status: str, step: int, message: str
) -> TrainResult:
    """Write the parameters, plots and summary of a finished run; return its result."""
    from ._model import save_params

    cfg, summary = run.config, run.summary
    summary["status"] = status
    summary["step"] = step
    summary["message"] = message
    summary["metrics"] = history[-1] if history else {}
    summary["initial_metrics"] = history[0] if history else {}
    with deferred_interrupt():
        save_params(run.folder / RUN_FILES["params"], params)
    plots = []
    if cfg.train.plots and history:
        from ._plots import plot_history

        title = f"{cfg.name}: {run.task.title} — {summary['data']['description']}"
        plots = [
            str(p.relative_to(run.folder))
            for p in plot_history(
                history, run.folder / RUN_FILES["plots"], title=title, metric=run.task.metric
            )
        ]
    summary["files"] = {
        "config": RUN_FILES["config"],
        "metrics": RUN_FILES["metrics"],
        "params": RUN_FILES["params"],
        "model": RUN_FILES["model"],
        "checkpoints": RUN_FILES["checkpoints"],
        "plots": plots,
    }
    timing = summary.setdefault("timing", {})
    timing["total_s"] = time.perf_counter() - run.t_start
    summary["compile_cache"] = {"dir": run.cache, **run.counter.read()}
    with deferred_interrupt():
        _files.write_json(run.folder / RUN_FILES["summary"], summary)
    return TrainResult(
        params=params,
        metrics=dict(history[-1]) if history else {},
        history=history,
        run_dir=run.folder,
        config=cfg,
        status=status,
        step=step,
        summary=summary,
    )


def reference_fit(config: Config) -> dict[str, Any] | None:
    """The task's reference fit (:attr:`mcalc.Task.reference`) on this config's training split:
    its name, wall time (of a second call: imports and caches warmed by a first) and
    metrics (as a run reports them); ``None`` without one.

    Used by ``mcalc run``'s report, beside each run.
    """
    import jax

    from ..data import load_data
    from ..task import resolve_task
    from ._program import build_program, make_data

    task = resolve_task(config.task)
    if task.reference is None:
        return None
    x64 = jax.enable_x64(True) if config.data.dtype == "float64" else contextlib.nullcontext()
    with x64:
        dataset = load_data(config)
        program = build_program(config, dataset)
        data = make_data(program, dataset)
        kw = {n: float(getattr(config.model, n)) for n in task.traced_hyper}
        kw.update(program.static_hyper)
        X, y = np.asarray(dataset.X_train), np.asarray(dataset.y_train)
        task.reference.fit(X, y, intercept=dataset.intercept, **kw)  # warm-up: imports, caches
        t0 = time.perf_counter()
        params = task.reference.fit(X, y, intercept=dataset.intercept, **kw)
        seconds = time.perf_counter() - t0
        params = jax.tree.map(lambda a: jax.numpy.asarray(a, program.dtype), params)
        hyper = program.with_optimum(program.hyper(), data)
        metrics = jax.device_get(program.evaluate(params, hyper, data))
    return {
        "name": task.reference.name,
        "seconds": seconds,
        "metrics": {k: float(v) for k, v in metrics.items()},
    }
