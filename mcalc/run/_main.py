"""``mcalc run``: verify every derivation, train every task's default config, write a report.

The defaults are embedded in the package (each task's :attr:`mcalc.Task.defaults`), so
this works after a plain ``pip install .`` from any folder; ``configs=`` (``--config``
on the command line) trains given configs instead, a user's own tasks included. Each
run is reported beside its task's reference fit (:attr:`mcalc.Task.reference`:
scikit-learn's for P2 and P4) on the same split, and that fit's time. Everything lands
in a new results folder ``<out>/run-<timestamp>`` (created atomically, never reused):

    report.md            the report: verification table, final metrics, plots
    verification.md      the full verification table (also .json)
    summary.json         machine-readable: status, per-task metrics, paths
    runs/<name>-<time>/  one run folder per config (config, metrics, checkpoints, plots)
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from ..task import resolve_task, tasks

__all__ = ["run", "RunReport", "DEFAULT_TASKS"]

#: The tasks ``mcalc run`` trains by default: every built-in one (:func:`mcalc.tasks`).
DEFAULT_TASKS = tuple(t.name for t in tasks())


@dataclasses.dataclass(frozen=True, eq=False)
class RunReport:
    """What :func:`run` returns.

    Attributes:
      path: the results folder.
      report: the Markdown report (``path / "report.md"``).
      ok: every derivation verified and no run diverged.
      verification: the verification result (``mcalc.verify``), or ``None`` when skipped.
      runs: run name -> :class:`mcalc.train.TrainResult`.
      references: run name -> the task's reference fit (name, seconds, metrics), or ``None``.

    Example:
      >>> import mcalc, tempfile
      >>> report = mcalc.run(tempfile.mkdtemp(), verify=False, quiet=True, configs=[
      ...     {"task": "p2", "data": {"source": "synthetic", "n_samples": 40, "n_features": 3},
      ...      "train": {"steps": 20, "plots": False}}])
      >>> report.ok, report.verification, report.report.name
      (True, None, 'report.md')
      >>> report.runs["p2"].status, report.references["p2"]["name"]
      ('completed', 'scikit-learn LogisticRegression(C=1/(2λ))')
    """

    path: Path
    report: Path
    ok: bool
    verification: Any
    runs: dict[str, Any]
    references: dict[str, Any] = dataclasses.field(default_factory=dict)


def _say(quiet: bool, *parts: Any) -> None:
    if not quiet:
        print(*parts, file=sys.stderr, flush=True)


def _verify(out: Path) -> tuple[Any, str, bool]:
    """Run ``mcalc verify``; write its tables into ``out``; return (result, Markdown, ok)."""
    from ..train import _files
    from ._verify import render, verify_all

    result = verify_all()
    md = render(result, "markdown")
    _files.write_text(out / "verification.md", md)
    _files.write_text(out / "verification.json", render(result, "json"))
    return result, md, bool(result.ok)


def run(
    out: str | os.PathLike = "results",
    *,
    tasks: tuple[str, ...] = DEFAULT_TASKS,
    configs: Any = None,
    verify: bool = True,
    progress: bool | None = None,
    quiet: bool = False,
) -> RunReport:
    """The main job: verify, train each task's default config on its real data, report.

    Args:
      out: parent of the new results folder (default ``./results``).
      tasks: the tasks to train, each on its embedded default config (names,
        ``MODULE:NAME`` references or :class:`mcalc.Task` objects).
      configs: train these instead of ``tasks``' defaults: config files, mappings or
        :class:`~mcalc.config.Config` objects (a user's own tasks included).
      verify: run ``mcalc verify`` first (its table heads the report).
      progress: progress bars (default: when stderr is a terminal).
      quiet: no status lines on stderr.

    Returns:
      A :class:`RunReport`; ``report.report`` is the Markdown file.

    Raises:
      ConfigError: (a ``ValueError``) for a config that does not resolve, before anything
        is trained or written; ValueError for an ``out`` that is a file.

    Example:
      The main job on one tiny config, without the verification:

      >>> import mcalc, tempfile
      >>> report = mcalc.run(tempfile.mkdtemp(), verify=False, quiet=True, configs=[
      ...     {"task": "p2", "data": {"source": "synthetic", "n_samples": 40, "n_features": 3},
      ...      "train": {"steps": 20, "plots": False}}])
      >>> report.ok, list(report.runs)
      (True, ['p2'])
      >>> sorted(path.name for path in report.path.iterdir())
      ['report.md', 'runs', 'summary.json']
      >>> print(report.report.read_text(encoding="utf-8").splitlines()[0])
      # mcalc run
      >>> try:
      ...     mcalc.run(tempfile.mkdtemp(), configs=[{"task": "p2", "train": {"steps": 0}}])
      ... except ValueError as e:
      ...     print(f"{type(e).__name__}: {e}")
      ConfigError: config key 'train.steps' must be an int ≥ 1; got 0.
    """
    from ..config import load_config
    from ..train import _files
    from ..train._cache import setup_compilation_cache
    from ..train._run import reference_fit, train

    t0 = time.perf_counter()
    if configs is None:
        resolved = [load_config(t) for t in tasks]
    else:
        if isinstance(configs, str | os.PathLike) or not isinstance(configs, list | tuple):
            configs = [configs]
        resolved = [load_config(c) for c in configs]
    names = [c.name for c in resolved]
    for i, n in enumerate(names):  # report sections and summary keys by name: make them unique
        if names.count(n) > 1:
            names[i] = f"{n}-{names[:i].count(n) + 1}"
    setup_compilation_cache()
    path = _files.create_run_dir(_files.check_parent(out, "out", "mcalc run"), "run")
    _say(quiet, f"mcalc run: results in {path}")

    verification, verify_md, verify_ok = None, "", True
    verify_s = 0.0
    if verify:
        _say(
            quiet,
            "mcalc run: verifying the problems' derivations (closed form vs jax.grad vs finite "
            "differences) ...",
        )
        t = time.perf_counter()
        verification, verify_md, verify_ok = _verify(path)
        verify_s = time.perf_counter() - t
        _say(
            quiet,
            f"mcalc run: verification {'passed' if verify_ok else 'FAILED'} ({verify_s:.1f} s)",
        )

    runs: dict[str, Any] = {}
    references: dict[str, Any] = {}
    times: dict[str, float] = {}
    for name, cfg in zip(names, resolved, strict=True):
        _say(quiet, f"mcalc run: training {name} ({cfg.task}) ...")
        t = time.perf_counter()
        runs[name] = train(cfg, runs_dir=path / "runs", progress=progress)
        times[name] = time.perf_counter() - t
        _say(quiet, f"  {runs[name].summary['message']} ({times[name]:.1f} s)")
        try:
            references[name] = reference_fit(cfg)
        except Exception as e:  # noqa: BLE001 - a user's reference fit: report it, keep the run
            task = resolve_task(cfg.task)
            references[name] = {"name": task.reference.name, "error": f"{type(e).__name__}: {e}"}
        r = references[name]
        if r is not None and "error" in r:
            _say(quiet, f"  reference {r['name']} failed: {r['error']}")
        elif r is not None:
            _say(quiet, f"  reference: {r['name']} ({r['seconds'] * 1e3:.1f} ms)")

    ok = verify_ok and all(r.status != "diverged" for r in runs.values())
    total_s = time.perf_counter() - t0
    from ._report import write_report

    report = write_report(
        path,
        verification=verification,
        verify_md=verify_md,
        verify_ok=verify_ok if verify else None,
        verify_s=verify_s,
        runs=runs,
        references=references,
        times=times,
        total_s=total_s,
        env=_environment(),
    )
    _files.write_json(
        path / "summary.json",
        {
            "ok": ok,
            "verification_ok": verify_ok if verify else None,
            "total_s": total_s,
            "verify_s": verify_s,
            "runs": {
                n: {
                    "task": r.config.task,
                    "status": r.status,
                    "step": r.step,
                    "run_dir": str(Path(r.run_dir).relative_to(path)),
                    "metrics": r.metrics,
                    "seconds": times[n],
                    "reference": references[n],
                }
                for n, r in runs.items()
            },
            "environment": _environment(),
        },
    )
    return RunReport(
        path=path, report=report, ok=ok, verification=verification, runs=runs, references=references
    )


def _environment() -> dict[str, Any]:
    import jax

    from .. import __version__

    devices = jax.devices()
    return {
        "mcalc": __version__,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": f"{len(devices)} × {devices[0].device_kind}" if devices else "none",
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpus": os.cpu_count(),
    }
