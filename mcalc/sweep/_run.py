"""``mcalc.sweep``: every configuration of a ``sweep:`` section, grouped and compiled once per group.

The sweep folder (never reused; see :func:`mcalc.train`'s run folders)::

    sweeps/<name>-<stamp>/
      sweep.yaml            the resolved base config and the sweep section (what --resume reads)
      configs.json          every configuration: lane index, group, swept values
      groups/<g>/group.json       the group's static overrides, lanes, side-by-side width, devices
      groups/<g>/metrics.jsonl    one line per lane per chunk
      groups/<g>/checkpoints/     the stacked training state (orbax, atomic)
      groups/<g>/result.json      the group's final results (written once, atomically)
      results.csv, results.json   one row per configuration: values, status, final metrics, ‖w‖
      summary.json                counts, the best configuration, timings
      plots/                      final metrics against each swept value; loss curves
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
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
from ._spec import SweepError, SweepSpec, expand, parse_sweep

__all__ = ["sweep", "SweepResult", "load_sweep"]

_FINAL_KEYS = (
    "loss",
    "grad_norm",
    "param_norm",
    "accuracy",
    "mse",
    "test_loss",
    "test_accuracy",
    "test_mse",
)


@dataclasses.dataclass
class SweepResult:
    """What a sweep leaves behind (also on disk in ``sweep_dir``).

    Attributes:
      sweep_dir: the sweep folder.
      rows: one dict per configuration: ``lane``, ``group``, the swept values,
        ``status`` (``completed``/``converged``/``diverged``), ``diverged_at``,
        ``steps`` and the final metrics.
      best: the best non-diverged row by ``metric``, or ``None``.
      metric: the metric that chose it (maximised for accuracy, else minimised).
      params: the swept keys, in order.
      seconds: wall time of this invocation.
    """

    sweep_dir: Path
    rows: list[dict[str, Any]]
    best: dict[str, Any] | None
    metric: str
    params: list[str]
    seconds: float

    def table(self, rows: Sequence[dict[str, Any]] | None = None) -> str:
        """A plain-text table of ``rows`` (default: all)."""
        rows = self.rows if rows is None else rows
        cols = ["lane", *self.params, "status", *[k for k in _FINAL_KEYS if rows and k in rows[0]]]
        cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
        widths = [
            max(len(c), *(len(row[i]) for row in cells)) if cells else len(c)
            for i, c in enumerate(cols)
        ]
        line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
        body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
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


def _hyper_keys(config: Any) -> set[str]:
    from ..train import build_program

    return {k for k, _ in build_program(config, _dataset(config)).defaults}


def _plan(base: Any, spec: SweepSpec, configs: list[dict[str, Any]]) -> list[_Group]:
    if base.solver != "optax":
        raise SweepError(
            f"mcalc.sweep: sweeps train step by step (solver: optax); this config has solver "
            f"{base.solver!r}. For a λ path of exact solutions use mcalc.solvers.logistic_path."
        )
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


def _config_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


# ---------------------------------------------------------------------------
# the sweep


def _best_metric(spec: SweepSpec, rows: list[dict[str, Any]]) -> str:
    if spec.metric:
        return spec.metric
    keys = rows[0].keys() if rows else ()
    for k in ("test_accuracy", "test_mse", "accuracy", "mse", "loss"):
        if k in keys:
            return k
    return "loss"


def sweep(
    config: Any = None,
    *,
    sweeps_dir: str | Path = "sweeps",
    resume: str | Path | None = None,
    progress: bool | None = None,
    **overrides: Any,
) -> SweepResult:
    """Train every configuration of a sweep; configurations that share shapes as one program.

    Args:
      config: a sweep YAML file (a config with a ``sweep:`` section), a mapping, or
        ``None`` with ``resume``.
      sweeps_dir: parent folder of the new sweep folder.
      resume: a sweep folder to continue from its last finished chunk.
      progress: show a progress bar (default: when stderr is a terminal).
      **overrides: dotted keys (``__`` for the dots) -> values, as ``key=value`` on
        the command line; ``sweep__params__model.lam=[...]`` style keys set the sweep.

    Returns:
      A :class:`SweepResult`.

    Raises:
      SweepError, ConfigError: (``ValueError``) on a malformed sweep or config, naming the key.
    """
    from ..train._cache import setup_compilation_cache

    t0 = time.perf_counter()
    setup_compilation_cache()
    if resume is not None:
        sweep_dir = Path(resume)
        if not (sweep_dir / "sweep.yaml").is_file():
            raise SweepError(
                f"mcalc.sweep: resume={str(sweep_dir)!r} is not a sweep folder (no sweep.yaml in it)."
            )
        if config is not None or overrides:
            raise SweepError(
                "mcalc.sweep: with resume=, give no config or overrides: the folder's sweep.yaml is used."
            )
        base, spec = load_sweep(sweep_dir / "sweep.yaml")
    else:
        base, spec = load_sweep(config, {k.replace("__", "."): v for k, v in overrides.items()})
    configs = expand(spec)
    # The datasets cached for planning and training are released however this ends.
    bar = None
    try:
        groups = _plan(base, spec, configs)
        if resume is None:
            sweep_dir = _files.create_run_dir(sweeps_dir, base.name)
            text = to_yaml(
                base,
                header="mcalc sweep: the resolved base config; resume with: mcalc sweep --resume <this folder>",
            )
            import yaml

            text += yaml.safe_dump({"sweep": spec.to_dict()}, sort_keys=False, allow_unicode=True)
            _files.write_text(sweep_dir / "sweep.yaml", text)
            _files.write_json(
                sweep_dir / "configs.json",
                [{"lane": i, "group": _group_of(groups, i), **c} for i, c in enumerate(configs)],
            )

        bar = _progress(groups, progress)
        rows: list[dict[str, Any]] = [dict() for _ in configs]
        for g in groups:
            for lane, row in zip(
                g.lanes, _run_group(sweep_dir, g, configs, spec, bar), strict=True
            ):
                rows[lane] = row
    finally:
        _DATASETS.clear()
        if bar is not None:
            bar.close()
    metric = _best_metric(spec, rows)
    best = _pick_best(rows, metric)
    params = [k for k, _ in spec.params]
    _write_results(sweep_dir, rows, params)
    seconds = time.perf_counter() - t0
    summary = {
        "sweep_dir": str(sweep_dir),
        "configurations": len(rows),
        "groups": len(groups),
        "status": {
            s: sum(r["status"] == s for r in rows) for s in sorted({r["status"] for r in rows})
        },
        "metric": metric,
        "best": best,
        "seconds": seconds,
    }
    _files.write_json(sweep_dir / "summary.json", summary)
    from ._plots import plot_sweep

    plot_sweep(sweep_dir, rows, params, metric)
    return SweepResult(
        sweep_dir=sweep_dir, rows=rows, best=best, metric=metric, params=params, seconds=seconds
    )


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


def _pick_best(rows: list[dict[str, Any]], metric: str) -> dict[str, Any] | None:
    ok = [
        r
        for r in rows
        if r["status"] != "diverged"
        and isinstance(r.get(metric), float)
        and math.isfinite(r[metric])
    ]
    if not ok:
        return None
    maximise = "accuracy" in metric
    return (max if maximise else min)(ok, key=lambda r: r[metric])


def _run_group(
    sweep_dir: Path, g: _Group, configs: list[dict[str, Any]], spec: SweepSpec, bar
) -> list[dict[str, Any]]:
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
    import jax
    import jax.numpy as jnp

    from ..train import build_program, make_data
    from ..train._checkpoint import Checkpoints
    from ._engine import GroupRunner

    cfg = g.config
    dataset = _dataset(cfg)
    program = build_program(cfg, dataset)
    data = make_data(program, dataset)
    meta = gdir / "group.json"
    lanes = spec.lanes
    if meta.is_file():
        import json

        # A resumed group runs the program it started with: same side-by-side width (0: loop).
        lanes = int(json.loads(meta.read_text(encoding="utf-8"))["side_by_side"]) or "loop"
    runner = GroupRunner(
        program, data, len(g.lanes), lanes=lanes, memory_mb=spec.memory_mb, devices=spec.devices
    )
    defaults = program.hyper()
    lane_values = [configs[i] for i in g.lanes]
    hypers = {
        k: jnp.asarray([v.get(k, float(d)) for v in lane_values], program.dtype)
        for k, d in defaults.items()
    }
    keys = jnp.stack([jax.random.PRNGKey(int(v.get("seed", cfg.seed))) for v in lane_values])
    n_chunks = math.ceil(cfg.train.steps / cfg.train.log_every)
    every = (
        max(1, cfg.train.checkpoint_every // cfg.train.log_every)
        if cfg.train.checkpoint_every
        else n_chunks
    )

    gdir.mkdir(parents=True, exist_ok=True)
    if not meta.is_file():
        _files.write_json(
            meta,
            {
                "static": g.static,
                "lanes": g.lanes,
                "side_by_side": runner.batch,
                "devices": runner.n_devices,
            },
        )
    ckpt = Checkpoints(gdir / "checkpoints", keep=cfg.train.keep_checkpoints)
    metrics_path = gdir / "metrics.jsonl"
    hypers_dev = runner.lanes_in(hypers)
    try:
        last = ckpt.latest_step()
        if last is None:
            states = runner.init(keys, hypers)
            first = 0
            _files.rewrite_jsonl(metrics_path, [])
        else:
            states = runner.restore(ckpt.restore(last, runner.abstract_lanes()))
            first = last + 1
            kept = [r for r in _files.read_jsonl(metrics_path) if r.get("chunk", -1) <= last]
            _files.rewrite_jsonl(metrics_path, kept)
            if bar is not None:
                bar.update(first)
        final: dict[str, np.ndarray] = {}

        def on_chunk(c: int, states: Any, metrics: dict[str, np.ndarray]) -> None:
            for j, lane in enumerate(g.lanes):
                _files.append_jsonl(
                    metrics_path,
                    {"chunk": c, "lane": lane, **{k: v[j] for k, v in metrics.items()}},
                )
            if (c + 1) % every == 0 or c == n_chunks - 1:
                ckpt.save(c, runner.stacked(states))
            final.clear()
            final.update(metrics)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(group=g.index)

        from ._engine import run_chunks

        states = run_chunks(runner, states, hypers_dev, first, n_chunks, on_chunk)
        params = runner.lanes_out(runner.stacked(states).params)
        _files.atomic_write(
            gdir / "params.npz",
            lambda fh: np.savez(fh, **{k: v for k, v in params.items()}),
            binary=True,
        )
    finally:
        ckpt.close()
    if not final:  # every chunk was done before the interruption: take the last records
        recs = [r for r in _files.read_jsonl(metrics_path) if r.get("chunk") == n_chunks - 1]
        by_lane = {r["lane"]: r for r in recs}
        final = {
            k: np.asarray([by_lane[i][k] for i in g.lanes])
            for k in recs[0]
            if k not in ("chunk", "lane")
        }
    rows = []
    for j, lane in enumerate(g.lanes):
        m = {k: _scalar(v[j]) for k, v in final.items()}
        diverged_at = int(m.get("diverged_at", -1))
        tol = cfg.train.tol
        status = (
            "diverged"
            if diverged_at >= 0
            else "converged"
            if tol is not None and m.get("grad_norm", math.inf) <= tol
            else "completed"
        )
        row = {"lane": lane, "group": g.index, **configs[lane], "status": status}
        row["diverged_at"] = diverged_at if diverged_at >= 0 else None
        row.update({k: v for k, v in m.items() if k not in ("diverged_at",)})
        rows.append(row)
    _files.write_json(gdir / "result.json", {"rows": rows})
    return rows


def _scalar(v: Any) -> Any:
    v = np.asarray(v).item()
    return float(v) if isinstance(v, float) else v


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
