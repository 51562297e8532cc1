"""``mcalc.sweep``: every configuration of a ``sweep:`` section, grouped and compiled once per group.

The sweep folder (never reused; see :func:`mcalc.train`'s run folders)::

    sweeps/<name>-<stamp>/
      sweep.yaml            the resolved base config and the sweep section (what --resume reads)
      configs.json          every configuration: lane index, group, swept values
      groups/<g>/group.json       the group's static overrides, lanes, how they run and why
      groups/<g>/metrics.jsonl    one line per live lane per chunk (and the initial point)
      groups/<g>/checkpoints/     the stacked training state (orbax, atomic)
      groups/<g>/params.npz       every lane's final parameters, stacked
      groups/<g>/model.json       what prediction on raw features needs (mcalc.load_run)
      groups/<g>/result.json      the group's final results (written once, atomically)
      results.csv, results.json   one row per lane: values, status, final metrics
      summary.json                counts, configurations ranked by the mean over seeds, timings
      plots/                      final metrics against each swept value; loss curves

Each lane trains with the same driver and the same stopping rule as ``mcalc train``
(:mod:`mcalc.train._driver`), so a lane stops at the step a run of its config would.
With seeds among the swept keys (``seed``, ``data.seed``), lanes that differ only in
their seeds are one *configuration*: configurations are ranked by the mean of the
metric over their seeds, with its standard deviation.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import difflib
import io
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config._load import ConfigError, _source_layers, parse_overrides, resolve_layers
from ..config._yaml import safe_load, to_yaml
from ..train import _files
from ..train._driver import Interrupted
from ._spec import SweepError, SweepSpec, expand, parse_sweep

__all__ = ["sweep", "prepare_sweep", "SweepResult", "load_sweep", "lane_config", "SEED_KEYS"]

#: Swept keys that draw a different random sample of the same configuration.
SEED_KEYS = ("seed", "data.seed")

# The final metrics a table shows first; the task's own metrics follow (train, then test).
_FINAL_KEYS = ("step", "loss", "grad_norm", "param_norm")
# Row keys that are not metrics, or too detailed for the table (results.csv has them all).
_NOT_IN_TABLE = (
    "lane", "group", "status", "stop_reason", "diverged_at", "grad_max", "learning_rate",
    "test_loss", "param_gap", "objective_gap",
)  # fmt: skip


@dataclasses.dataclass
class SweepResult:
    """What a sweep leaves behind (also on disk in ``sweep_dir``).

    Attributes:
      sweep_dir: the sweep folder.
      rows: one dict per lane: ``lane``, ``group``, the swept values, ``status``
        (``completed``/``converged``/``diverged``), ``stop_reason``, ``diverged_at``,
        ``step`` and the final metrics (``None`` where not finite).
      configurations: the lanes grouped over their seeds, ranked best first: each has the
        non-seed swept values, ``lanes``, ``n`` (lanes that did not diverge),
        ``mean`` and ``std`` of ``metric`` over them, ``diverged``.
      best: the first of ``configurations`` (``None`` when every lane diverged).
      metric: the metric that ranks them (maximised for accuracy, else minimised).
      params: the swept keys, in order.
      seeds: those of the swept keys that are seeds (:data:`SEED_KEYS`).
      seconds: wall time of this invocation.

    Example:
      Two values of P2's λ, ranked by the test loss:

      >>> import mcalc, tempfile
      >>> res = mcalc.sweep(
      ...     {"task": "p2", "data": {"source": "synthetic", "n_samples": 40, "n_features": 3},
      ...      "train": {"steps": 20},
      ...      "sweep": {"params": {"model.lam": [0.1, 1.0]}, "metric": "test_loss"}},
      ...     sweeps_dir=tempfile.mkdtemp(), progress=False)
      >>> [(row["lane"], row["model.lam"], row["status"], row["step"]) for row in res.rows]
      [(0, 0.1, 'completed', 20), (1, 1.0, 'completed', 20)]
      >>> res.metric, res.params, res.seeds, res.best["model.lam"]
      ('test_loss', ['model.lam'], [], 0.1)
    """

    sweep_dir: Path
    rows: list[dict[str, Any]]
    configurations: list[dict[str, Any]]
    best: dict[str, Any] | None
    metric: str
    params: list[str]
    seeds: list[str]
    seconds: float

    def table(self, rows: Sequence[dict[str, Any]] | None = None) -> str:
        """A plain-text table of ``rows`` (default: all lanes).

        Args:
          rows: some of :attr:`rows` (default: all of them).

        Returns:
          One line per lane: its swept values, status and final metrics (``step``,
          ``loss``, norms, the task's own metrics, then the test split's).

        Example:
          >>> print(res.table())  # the sweep of the class example
          lane  model.lam  status     step  loss     grad_norm  param_norm  accuracy  test_loss  test_accuracy
          ----  ---------  ---------  ----  -------  ---------  ----------  --------  ---------  -------------
          0     0.1        completed  20    16.35...
          1     1          completed  20    18.05...
        """
        rows = self.rows if rows is None else rows
        seen = list(dict.fromkeys(k for r in rows for k in r))
        own = [k for k in seen if k not in (*_FINAL_KEYS, *_NOT_IN_TABLE, *self.params)]
        metrics = [k for k in own if not k.startswith("test_")]
        tests = [k for k in own if k.startswith("test_")]
        keys = [*_FINAL_KEYS, *metrics, *(["test_loss"] if "test_loss" in seen else []), *tests]
        cols = ["lane", *self.params, "status", *[k for k in keys if k in seen]]
        return _text_table(cols, [[_fmt(r.get(c)) for c in cols] for r in rows])

    def ranking(self, top: int | None = None) -> str:
        """The configurations ranked by the mean of :attr:`metric` over their seeds.

        Args:
          top: show the best ``top`` configurations only (default: all).

        Returns:
          A plain-text table, best first: rank, the non-seed swept values, the mean and
          standard deviation of the metric, the lanes averaged, how many diverged.

        Example:
          >>> print(res.ranking())  # the sweep of the class example
          rank  model.lam  mean test_loss  std  lanes  diverged
          ----  ---------  --------------  ---  -----  --------
          1     0.1        2.18...         0    0      0
          2     1          4.04...         0    1      0
        """
        keys = [k for k in self.params if k not in self.seeds]
        n_seeds = max((len(c["lanes"]) for c in self.configurations), default=1)
        spread = f"std over {n_seeds} seeds" if self.seeds else "std"
        cols = ["rank", *keys, f"mean {self.metric}", spread, "lanes", "diverged"]
        body = [
            [
                str(i + 1),
                *[_fmt(c[k]) for k in keys],
                _fmt(c["mean"]),
                _fmt(c["std"]),
                ",".join(str(x) for x in c["lanes"]),
                str(c["diverged"]),
            ]
            for i, c in enumerate(self.configurations[:top])
        ]
        return _text_table(cols, body)

    def describe_best(self) -> str:
        """One line: the best configuration, its mean metric and spread.

        Returns:
          The sentence ``mcalc sweep`` prints at its end.

        Example:
          >>> print(res.describe_best())  # the sweep of the class example
          best by test_loss: model.lam=0.1: 2.18... (lane 0)
        """
        b = self.best
        if b is None:
            return f"no configuration has a finite {self.metric} (every lane diverged)."
        keys = [k for k in self.params if k not in self.seeds]
        values = ", ".join(f"{k}={_fmt(b[k])}" for k in keys) or "the base config"
        if self.seeds and b["n"] > 1:
            return (
                f"best by mean {self.metric} over {b['n']} seeds ({', '.join(self.seeds)}): "
                f"{values}: {b['mean']:.6g} ± {b['std']:.2g} (lanes {', '.join(map(str, b['lanes']))})"
            )
        return f"best by {self.metric}: {values}: {b['mean']:.6g} (lane {b['lanes'][0]})"


def _text_table(cols: list[str], cells: list[list[str]]) -> str:
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()
    body = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


# ---------------------------------------------------------------------------
# loading


def load_sweep(
    config: Any, overrides: Sequence[str] | Mapping[str, Any] | None = None
) -> tuple[Any, SweepSpec]:
    """Resolve a sweep file (or mapping) and overrides into ``(base config, SweepSpec)``.

    ``sweep.*`` overrides set the sweep section (``sweep.mode=zip``,
    ``sweep.params.model.lam=[0.1,1.0]``); every other override sets the base
    config, as for ``mcalc train``.

    Args:
      config: a sweep YAML file (a config with a ``sweep:`` section, or whose ``base:``
        has one) or a mapping.
      overrides: ``key=value`` strings as on the command line, or a mapping of dotted
        keys to values.

    Returns:
      ``(base, spec)``: the validated :class:`~mcalc.config.Config` every lane starts
      from, and the parsed :class:`SweepSpec`.

    Raises:
      SweepError, ConfigError: (``ValueError``) for a config with no sweep section, a
        malformed section or a base config that does not resolve, naming the key.

    Example:
      >>> from mcalc.sweep import load_sweep
      >>> base, spec = load_sweep({"task": "p2", "sweep": {"params": {"model.lam": [0.1, 1.0]}}},
      ...                         ["sweep.mode=zip", "train.steps=20"])
      >>> base.task, base.train.steps, spec.mode, spec.params
      ('p2', 20, 'zip', (('model.lam', (0.1, 1.0)),))
    """
    layers = _source_layers(config)
    section: dict[str, Any] = {}
    plain = []
    for where, layer in layers:
        layer = dict(layer)
        if "sweep" in layer:
            s = layer.pop("sweep")
            if not isinstance(s, Mapping):
                raise SweepError(f"{where}: config key 'sweep' must be a mapping; got {s!r}.")
            params = {**section.get("params", {}), **(s.get("params") or {})}
            section = {**section, **s, "params": params}
        plain.append((where, layer))
    cfg_overrides: list[Any] = []
    items = (
        overrides.items()
        if isinstance(overrides, Mapping)
        else [
            tuple(o.partition("=")[::2]) if isinstance(o, str) and "=" in o else (o, None)
            for o in (overrides or [])
        ]
    )
    for key, value in items:
        if isinstance(key, str) and key.replace("__", ".").startswith("sweep."):
            dotted = key.replace("__", ".") if isinstance(overrides, Mapping) else key
            rest = dotted.strip().removeprefix("sweep.")
            if isinstance(value, str) and not isinstance(overrides, Mapping):
                value = safe_load(value) if value.strip() else value
            if rest.startswith("params."):
                section.setdefault("params", {})
                section["params"] = {**section["params"], rest.removeprefix("params."): value}
            else:
                section[rest] = value
        elif isinstance(overrides, Mapping):
            cfg_overrides.append((key, value))
        else:
            cfg_overrides.append(key if value is None else f"{key}={value}")
    if not section:
        raise SweepError(
            "mcalc.sweep: the config has no 'sweep:' section; add one (see the README's Sweeps "
            "section) or set values with sweep.params.<key>=[...] overrides."
        )
    extra = parse_overrides(
        dict(cfg_overrides) if isinstance(overrides, Mapping) else cfg_overrides
    )
    base = resolve_layers(plain + extra)
    return base, parse_sweep(section)


# ---------------------------------------------------------------------------
# groups


@dataclasses.dataclass
class _Group:
    index: int
    static: dict[str, Any]
    lanes: list[int]
    config: Any = None


_DATASETS: dict[str, Any] = {}


def _dataset(config: Any) -> Any:
    """``load_data(config)``, loaded once per data config during a sweep (planning needs the
    shapes, training the arrays); :func:`sweep` empties the cache when it ends."""
    import json

    from ..data import load_data

    key = json.dumps(
        [config.task, dataclasses.asdict(config.data), dataclasses.asdict(config.model)],
        sort_keys=True,
        default=str,
    )
    if key not in _DATASETS:
        _DATASETS[key] = load_data(config)
    return _DATASETS[key]


_PROGRAMS: dict[str, Any] = {}


def _program(config: Any) -> Any:
    """``build_program(config, dataset)``, built once per config during a sweep (planning and
    training share it); :func:`sweep` empties the cache when it ends."""
    import json

    from ..train import build_program

    key = json.dumps(dataclasses.asdict(config), sort_keys=True, default=str)
    if key not in _PROGRAMS:
        _PROGRAMS[key] = build_program(config, _dataset(config))
    return _PROGRAMS[key]


def _hyper_keys(config: Any) -> set[str]:
    return {k for k, _ in _program(config).defaults}


def _check_values(base: Any, spec: SweepSpec) -> None:
    """Every value of the grid obeys the rules of the config key it sets (the same check as
    a config file or an override), before anything runs."""
    from ..config._load import check_hyper
    from ..task import resolve_task

    task = resolve_task(base.task)
    base_dict = _config_dict(base)
    for key, values in spec.params:
        name = key.removeprefix("model.")
        for value in dict.fromkeys(values):
            try:
                if key.startswith("model.") and name in task.hyper:  # its declared range
                    check_hyper(task, name, value)
                elif key in SEED_KEYS:
                    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                        raise ConfigError(f"config key {key!r} must be an int ≥ 0; got {value!r}.")
                else:  # any other key: the whole config's rules, as a file or an override
                    resolve_layers(
                        [("the sweep's base config", base_dict), *parse_overrides({key: value})]
                    )
            except ValueError as e:
                raise SweepError(f"mcalc.sweep: sweep.params.{key} value {value!r}: {e}") from None


def _check_metric(base: Any, spec: SweepSpec) -> None:
    """``sweep.metric`` names a metric the lanes will report."""
    if spec.metric is None:
        return
    from ..task import resolve_task

    task = resolve_task(base.task)
    own = list(task.metric_fns())
    known = ["loss", "grad_norm", "grad_max", "param_norm", *own]
    if task.optimum is not None:
        known += ["param_gap", "objective_gap"]
    if base.data.test_fraction > 0:
        known += ["test_loss", *(f"test_{m}" for m in own)]
    if spec.metric not in known:
        close = difflib.get_close_matches(spec.metric, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SweepError(
            f"mcalc.sweep: sweep.metric {spec.metric!r} is not a metric of task {task.name}; "
            f"its lanes report {', '.join(known)}.{hint}"
        )


def _plan(base: Any, spec: SweepSpec, configs: list[dict[str, Any]]) -> list[_Group]:
    """Check the sweep (solver, processes, grid values, metric) and split its lanes into
    groups that share a compiled program (same static overrides); return the groups, each
    with its resolved config."""
    if base.solver != "optax":
        raise SweepError(
            f"mcalc.sweep: sweeps train step by step (solver: optax); this config has solver "
            f"{base.solver!r}. For a λ path of exact solutions use mcalc.solvers.logistic_path."
        )
    import jax

    if jax.process_count() > 1 and spec.devices != "all":
        raise SweepError(
            f"mcalc.sweep: sweep.devices={spec.devices!r}: over {jax.process_count()} processes "
            "the lanes are spread over every process's devices; set sweep.devices=all."
        )
    _check_values(base, spec)
    _check_metric(base, spec)
    traced = _hyper_keys(base) | {"seed"}
    groups: dict[tuple, _Group] = {}
    for lane, values in enumerate(configs):
        static = {k: v for k, v in values.items() if k not in traced}
        key = tuple(sorted((k, repr(v)) for k, v in static.items()))
        if key not in groups:
            groups[key] = _Group(index=len(groups), static=static, lanes=[])
        groups[key].lanes.append(lane)
    out = list(groups.values())
    base_dict = _config_dict(base)
    for g in out:
        try:
            g.config = resolve_layers(
                [("the sweep's base config", base_dict), *parse_overrides(g.static)]
            )
        except ConfigError as e:
            raise SweepError(f"mcalc.sweep: sweep.params: {e}") from None
        missing = {k for lane in g.lanes for k in configs[lane]} - set(g.static) - {"seed"}
        missing -= _hyper_keys(g.config)
        if missing:
            raise SweepError(
                f"mcalc.sweep: sweep.params {sorted(missing)} are not numeric hyperparameters of "
                f"group {g.static or '(base)'}; numeric ones are {sorted(_hyper_keys(g.config))}."
            )
    return out


def lane_config(sweep_dir: str | Path, row: dict[str, Any], *, task: Any = None) -> Any:
    """The resolved config of one lane of a sweep folder: its base config with the lane's
    swept values (``row``: an entry of ``configs.json``).

    Args:
      sweep_dir: a sweep folder (it holds ``sweep.yaml``).
      row: the lane's entry of ``configs.json`` (or of ``SweepResult.rows``): its
        swept values by dotted key.
      task: the :class:`mcalc.Task`, for a sweep whose task no other process can import.

    Returns:
      The lane's :class:`~mcalc.config.Config`, as ``mcalc train`` would run it.

    Raises:
      SweepError, ConfigError: (``ValueError``) for a folder whose ``sweep.yaml`` does
        not resolve.

    Example:
      >>> from mcalc.sweep import lane_config
      >>> res.rows[1]["model.lam"]  # res: the sweep of SweepResult's example
      1.0
      >>> cfg = lane_config(res.sweep_dir, res.rows[1])
      >>> cfg.model.lam, cfg.train.steps, cfg.task
      (1.0, 20, 'p2')
    """
    base, spec = load_sweep(
        Path(sweep_dir) / "sweep.yaml", {"task": task} if task is not None else None
    )
    values = {k: row[k] for k, _ in spec.params if k in row}
    return resolve_layers(
        [("the sweep's base config", _config_dict(base)), *parse_overrides(values)]
    )


def _config_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


# ---------------------------------------------------------------------------
# the sweep


def _best_metric(spec: SweepSpec, base: Any, rows: list[dict[str, Any]]) -> str:
    if spec.metric:
        return spec.metric
    from ..task import resolve_task

    task = resolve_task(base.task)
    keys = {k for r in rows for k in r}
    for k in (f"test_{task.metric}", task.metric, "loss"):
        if k in keys:
            return k
    return "loss"


def sweep(
    config: Any = None,
    *,
    sweeps_dir: str | Path = "sweeps",
    resume: str | Path | None = None,
    progress: bool | None = None,
    distributed: bool | Mapping[str, Any] | None = None,
    **overrides: Any,
) -> SweepResult:
    """Train every configuration of a sweep; configurations that share shapes as one program.

    Args:
      config: a sweep YAML file (a config with a ``sweep:`` section), a mapping, or
        ``None`` with ``resume``.
      sweeps_dir: parent folder of the new sweep folder.
      resume: a sweep folder to continue from its last checkpoint.
      progress: show a progress bar (default: when stderr is a terminal).
      distributed: take part in one sweep over several processes (``jax.distributed``):
        ``True`` joins from the cluster's environment, or a mapping with
        ``coordinator`` (``"host:port"``), ``num_processes`` and ``process_id``. Every
        process runs this same call; process 0 writes the sweep folder. (On one machine
        ``mcalc sweep CONFIG --processes N`` starts the processes itself.)
      **overrides: dotted keys (``__`` for the dots) -> values, as ``key=value`` on
        the command line; ``sweep__params__model.lam=[...]`` style keys set the sweep;
        ``task=<mcalc.Task>`` gives the task as an object.

    Returns:
      A :class:`SweepResult` (in every process).

    Raises:
      SweepError, ConfigError: (``ValueError``) on a malformed sweep or config, or a grid
        value outside its key's range, naming the key.
      Interrupted: (a ``KeyboardInterrupt``) on Ctrl-C, naming the folder to resume.

    Example:
      >>> import mcalc, tempfile
      >>> res = mcalc.sweep(
      ...     {"task": "p2", "data": {"source": "synthetic", "n_samples": 40, "n_features": 3},
      ...      "train": {"steps": 20},
      ...      "sweep": {"params": {"model.lam": [0.1, 1.0]}, "metric": "test_loss"}},
      ...     sweeps_dir=tempfile.mkdtemp(), progress=False)
      >>> print(res.describe_best())
      best by test_loss: model.lam=0.1: 2.18... (lane 0)
      >>> sorted(path.name for path in res.sweep_dir.iterdir())
      ['configs.json', 'groups', 'plots', 'results.csv', 'results.json', 'summary.json', 'sweep.yaml']
      >>> mcalc.load_run(res.sweep_dir, lane=1).config.model.lam  # a lane's trained model
      1.0
    """
    from ..train._cache import setup_compilation_cache
    from . import _distributed as dist

    if distributed:
        dist.initialize(**({} if distributed is True else dict(distributed)))
    t0 = time.perf_counter()
    if resume is not None:
        sweep_dir = Path(resume).absolute()
        if not (sweep_dir / "sweep.yaml").is_file():
            what = "does not exist" if not sweep_dir.exists() else "has no sweep.yaml"
            raise SweepError(
                f"mcalc.sweep: resume={str(resume)!r} is not a sweep folder (it {what})."
            )
        if config is not None or overrides:
            raise SweepError(
                "mcalc.sweep: with resume=, give no config or overrides: the folder's sweep.yaml is used."
            )
        base, spec = load_sweep(sweep_dir / "sweep.yaml")
    else:
        base, spec = load_sweep(config, {k.replace("__", "."): v for k, v in overrides.items()})
        _files.check_parent(sweeps_dir, "sweeps_dir", "mcalc.sweep")
    setup_compilation_cache()
    configs = expand(spec)
    bar = None
    sweep_dir_made = resume is not None
    writer = dist.is_writer()
    try:
        groups = _plan(base, spec, configs)
        if resume is None:
            made = _create(sweeps_dir, base, spec, configs, groups) if writer else None
            sweep_dir = Path(dist.broadcast_text(str(made) if made else None))
            sweep_dir_made = True
        elif writer:
            _files.remove_temporary(sweep_dir)
        bar = _progress(groups, progress) if writer else None
        rows: list[dict[str, Any]] = [dict() for _ in configs]
        for g in groups:
            for lane, row in zip(
                g.lanes, _run_group(sweep_dir, g, configs, spec, bar), strict=True
            ):
                rows[lane] = row
    except KeyboardInterrupt:
        if not sweep_dir_made:
            raise
        raise Interrupted(sweep_dir, f"mcalc sweep --resume {sweep_dir}") from None
    finally:
        _DATASETS.clear()
        _PROGRAMS.clear()
        if bar is not None:
            bar.close()
    metric = _best_metric(spec, base, rows)
    params = [k for k, _ in spec.params]
    seeds = [k for k in params if k in SEED_KEYS]
    ranked = _rank(rows, params, seeds, metric)
    best = ranked[0] if ranked and ranked[0]["n"] else None
    seconds = time.perf_counter() - t0
    if writer:
        try:
            _write_results(sweep_dir, rows, params)
            summary = {
                "sweep_dir": str(sweep_dir),
                "configurations": len(rows),
                "groups": len(groups),
                "processes": _process_count(),
                "status": {
                    s: sum(r["status"] == s for r in rows)
                    for s in sorted({r["status"] for r in rows})
                },
                "metric": metric,
                "seeds": seeds,
                "best": best,
                "ranking": ranked,
                "seconds": seconds,
            }
            _files.write_json(sweep_dir / "summary.json", summary)
            from ._plots import plot_sweep

            plot_sweep(sweep_dir, rows, params, metric, seeds)
        except KeyboardInterrupt:  # every group is done: resuming writes these again
            raise Interrupted(sweep_dir, f"mcalc sweep --resume {sweep_dir}") from None
    dist.barrier("mcalc sweep: the folder is written")
    return SweepResult(
        sweep_dir=sweep_dir,
        rows=rows,
        configurations=ranked,
        best=best,
        metric=metric,
        params=params,
        seeds=seeds,
        seconds=seconds,
    )


def _process_count() -> int:
    import jax

    return jax.process_count()


def _create(
    sweeps_dir: str | Path,
    base: Any,
    spec: SweepSpec,
    configs: list[dict[str, Any]],
    groups: list[_Group],
) -> Path:
    """A new sweep folder with its ``sweep.yaml`` (what ``--resume`` reads) and ``configs.json``."""
    import yaml

    sweep_dir = _files.create_run_dir(sweeps_dir, base.name)
    text = to_yaml(
        base,
        header="mcalc sweep: the resolved base config; resume with: mcalc sweep --resume <this folder>",
    )
    text += yaml.safe_dump({"sweep": spec.to_dict()}, sort_keys=False, allow_unicode=True)
    _files.write_text(sweep_dir / "sweep.yaml", text)
    _files.write_json(
        sweep_dir / "configs.json",
        [{"lane": i, "group": _group_of(groups, i), **c} for i, c in enumerate(configs)],
    )
    return sweep_dir


def prepare_sweep(config: Any, *, sweeps_dir: str | Path = "sweeps", **overrides: Any) -> Path:
    """Check a sweep and make its folder without training it: ``mcalc sweep --resume`` (in
    one process or several) then trains it. What ``mcalc sweep --processes N`` does first.

    Raises:
      SweepError, ConfigError: as :func:`sweep`, before the folder is made.
    """
    base, spec = load_sweep(config, {k.replace("__", "."): v for k, v in overrides.items()})
    _files.check_parent(sweeps_dir, "sweeps_dir", "mcalc.sweep")
    configs = expand(spec)
    try:
        groups = _plan(base, spec, configs)
        return _create(sweeps_dir, base, spec, configs, groups)
    finally:
        _DATASETS.clear()
        _PROGRAMS.clear()


def _rank(
    rows: list[dict[str, Any]], params: list[str], seeds: list[str], metric: str
) -> list[dict[str, Any]]:
    """Lanes grouped over their seeds into configurations, ranked by the mean of ``metric``
    (non-diverged lanes with a finite value), best first; configurations with no such lane
    come last."""
    from ..task import Task

    keys = [k for k in params if k not in seeds]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(repr(r[k]) for k in keys), []).append(r)
    out = []
    for members in groups.values():
        vals = [
            r[metric]
            for r in members
            if r["status"] != "diverged"
            and isinstance(r.get(metric), float)
            and math.isfinite(r[metric])
        ]
        out.append(
            {
                **{k: members[0][k] for k in keys},
                "lanes": [r["lane"] for r in members],
                "n": len(vals),
                "mean": float(np.mean(vals)) if vals else None,
                "std": float(np.std(vals)) if vals else None,
                "diverged": sum(r["status"] == "diverged" for r in members),
            }
        )
    sign = -1.0 if Task.higher_is_better(metric) else 1.0
    return sorted(out, key=lambda c: (c["mean"] is None, sign * (c["mean"] or 0.0)))


def _group_of(groups: list[_Group], lane: int) -> int:
    return next(g.index for g in groups if lane in g.lanes)


def _progress(groups: list[_Group], progress: bool | None):
    import sys

    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    total = sum(math.ceil(g.config.train.steps / g.config.train.log_every) for g in groups)
    return tqdm(total=total, desc="sweep", unit="chunk")


def _run_group(
    sweep_dir: Path, g: _Group, configs: list[dict[str, Any]], spec: SweepSpec, bar
) -> list[dict[str, Any]]:
    """One row per lane of group ``g``: read back from its ``result.json`` when an earlier
    invocation finished it, else trained now (:func:`_train_group`, in float64 if asked)."""
    import jax

    cfg = g.config
    gdir = sweep_dir / "groups" / str(g.index)
    result_path = gdir / "result.json"
    if result_path.is_file():  # finished before an interruption: keep it as it is
        import json

        done = json.loads(result_path.read_text(encoding="utf-8"))
        if bar is not None:
            bar.update(math.ceil(cfg.train.steps / cfg.train.log_every))
        return done["rows"]
    x64 = jax.enable_x64(True) if cfg.data.dtype == "float64" else contextlib.nullcontext()
    with x64:
        return _train_group(gdir, g, configs, spec, bar)


def _train_group(
    gdir: Path, g: _Group, configs: list[dict[str, Any]], spec: SweepSpec, bar
) -> list[dict[str, Any]]:
    """Train one group's lanes through the run driver; write its parameters, model file and
    result; return one row per lane."""
    import json

    import jax
    import jax.numpy as jnp

    from ..train import make_data
    from ..train._checkpoint import Checkpoints
    from ..train._driver import GroupRun, deferred_interrupt, drive, lane_status
    from ..train._lanes import GroupRunner
    from ..train._model import model_info, save_params

    cfg = g.config
    dataset = _dataset(cfg)
    program = _program(cfg)
    data = make_data(program, dataset)
    meta = gdir / "group.json"
    lanes = spec.lanes
    if meta.is_file():
        saved = json.loads(meta.read_text(encoding="utf-8"))
        procs = int(saved.get("processes", 1))
        if procs != jax.process_count():
            how = f"--processes {procs}" if procs > 1 else "in one process (no --processes)"
            raise SweepError(
                f"mcalc.sweep: group {g.index} of this sweep was trained over {procs} "
                f"process{'es' if procs > 1 else ''}; resume it {how}."
            )
        # A resumed group runs the program it started with: same side-by-side width (0: loop).
        lanes = int(saved["side_by_side"]) or "loop"
    runner = GroupRunner(
        program, data, len(g.lanes), lanes=lanes, memory_mb=spec.memory_mb, devices=spec.devices
    )
    defaults = program.hyper()
    lane_values = [configs[i] for i in g.lanes]
    hypers = {
        k: jnp.asarray([v.get(k, float(d)) for v in lane_values], program.dtype)
        for k, d in defaults.items()
    }
    hypers = _with_optima(program, data, hypers, len(g.lanes))
    keys = jnp.stack([jax.random.PRNGKey(int(v.get("seed", cfg.seed))) for v in lane_values])
    t = cfg.train
    from . import _distributed as dist

    writer = dist.is_writer()
    gdir.mkdir(parents=True, exist_ok=True)
    if writer and not meta.is_file():
        _files.write_json(
            meta,
            {
                "static": g.static,
                "lanes": g.lanes,
                "side_by_side": runner.batch,
                "devices": runner.n_devices,
                "processes": jax.process_count(),
                "mode": runner.mode,
                "why": runner.reason,
            },
        )

    def tick(chunks: int, records: list[dict[str, Any]]) -> None:
        if bar is not None:
            bar.update(chunks - bar.n if not records else 1)
            bar.set_postfix(group=g.index)

    ckpt = Checkpoints(gdir / "checkpoints", keep=t.keep_checkpoints)
    try:
        out = drive(
            GroupRun(
                folder=gdir,
                program=program,
                runner=runner,
                keys=keys,
                hypers=hypers,
                lanes=list(g.lanes),
                checkpoints=ckpt,
                every=max(1, t.checkpoint_every // t.log_every) if t.checkpoint_every else 10**9,
                tick=tick if bar is not None else None,
                writer=writer,
            )
        )
    finally:
        ckpt.close()
    if writer:
        with deferred_interrupt():
            save_params(gdir / "params.npz", out.params)
            _files.write_json(gdir / "model.json", model_info(cfg, dataset))
    rows = []
    for j, lane in enumerate(g.lanes):
        status, reason = lane_status(out.final, j)
        row = {"lane": lane, "group": g.index, **configs[lane], "status": status}
        row["stop_reason"] = reason
        row["diverged_at"] = int(out.final["diverged_at"][j]) if status == "diverged" else None
        for k, v in out.final.items():
            if k in ("diverged_at", "stopped"):
                continue
            row[k] = _scalar(v[j])
        rows.append(row)
    if writer:
        with deferred_interrupt():
            _files.write_json(gdir / "result.json", {"rows": rows})
    return rows


def _with_optima(program: Any, data: Any, hypers: dict[str, Any], n: int) -> dict[str, Any]:
    """Each lane's closed-form optimum (tasks that have one), computed once per distinct set
    of the task's hyperparameter values, stacked over the lanes."""
    import jax
    import jax.numpy as jnp

    if program.task.optimum is None:
        return hypers
    keys = [f"model.{n_}" for n_ in program.task.traced_hyper]
    cache: dict[tuple, Any] = {}
    optima = []
    for j in range(n):
        lane = {k: hypers[k][j] for k in hypers}
        sig = tuple(float(lane[k]) for k in keys)
        if sig not in cache:
            cache[sig] = program.with_optimum(lane, data)["optimum"]
        optima.append(cache[sig])
    return {**hypers, "optimum": jax.tree.map(lambda *xs: jnp.stack(xs), *optima)}


def _scalar(v: Any) -> Any:
    """A JSON-ready number: ints stay ints, non-finite floats (a diverged lane's) are ``None``."""
    v = np.asarray(v).item()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    return v


def _write_results(sweep_dir: Path, rows: list[dict[str, Any]], params: list[str]) -> None:
    _files.write_json(sweep_dir / "results.json", rows)
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k) for k in cols})
    _files.write_text(sweep_dir / "results.csv", buf.getvalue())
