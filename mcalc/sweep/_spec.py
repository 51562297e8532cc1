"""The ``sweep:`` section of a config: which values to try, combined how, run how.

A sweep file is an ordinary experiment config (``task:``, ``data:``, ``base:`` ...)
plus one section::

    sweep:
      mode: grid                 # grid (every combination) | zip (i-th value of each)
      lanes: auto                # lanes side by side per device: auto | all | an int | loop
      devices: all               # shard the configurations over all devices, or over the first n
      memory_mb: 2048            # budget for the side-by-side lanes' working memory
      metric: null               # the metric that picks the best configuration (null = the task's test metric)
      params:                    # dotted config key -> values
        model.lam: {logspace: [1.0e-3, 1.0e3, 13]}
        optimizer.learning_rate: [0.01, 0.1]
        seed: {range: [0, 3]}
        model.hidden: [8, 16]    # changes a shape: an outer group, compiled on its own

Values are a list, a single value, or one of ``{values: [...]}``,
``{range: [start, stop]}`` / ``{range: [start, stop, step]}`` (stop excluded, like
Python's ``range``), ``{linspace: [start, stop, num]}`` and
``{logspace: [start, stop, num]}`` (``num`` values from ``start`` to ``stop`` evenly
spaced on a log scale: the endpoints are the values themselves, not exponents).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["SweepSpec", "SweepError", "parse_sweep", "expand", "MODES"]

MODES = ("grid", "zip")
_SECTION_KEYS = ("mode", "lanes", "devices", "memory_mb", "metric", "params")
_GENERATORS = ("values", "range", "linspace", "logspace")


class SweepError(ValueError):
    """A malformed ``sweep:`` section or sweep call; the message names the key.

    A ``ValueError``, raised by :func:`parse_sweep`, :func:`mcalc.sweep.load_sweep` and
    :func:`mcalc.sweep` before anything is trained or written.

    Example:
      >>> from mcalc.sweep import SweepError, parse_sweep
      >>> try:
      ...     parse_sweep({"mode": "grid", "parms": {"model.lam": [0.1, 1.0]}})
      ... except SweepError as e:
      ...     print(e)
      unknown sweep key(s) 'sweep.parms'; valid keys: mode, lanes, devices, memory_mb, metric, params.
    """


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """A parsed ``sweep:`` section.

    Attributes:
      params: ``(dotted key, values)`` pairs in the order given.
      mode: ``"grid"`` or ``"zip"``.
      lanes: ``"auto"``, ``"all"``, a positive int, or ``"loop"``: configurations
        that run side by side (one ``vmap``) per device, the rest in sequence inside
        the same compiled program (``jax.lax.map(..., batch_size=lanes)``); ``loop``
        calls the one compiled single-lane program once per configuration, one per
        CPU core at a time.
      devices: ``"all"`` or how many devices to shard the lane axis over.
      memory_mb: working-memory budget of the side-by-side lanes.
      metric: the metric that picks the best configuration, or ``None``.

    Example:
      >>> from mcalc.sweep import parse_sweep
      >>> spec = parse_sweep({"params": {"model.lam": [0.1, 1.0], "seed": {"range": [0, 2]}}})
      >>> spec.params
      (('model.lam', (0.1, 1.0)), ('seed', (0, 1)))
      >>> spec.mode, spec.lanes, spec.devices, spec.memory_mb, spec.metric
      ('grid', 'auto', 'all', 2048.0, None)
    """

    params: tuple[tuple[str, tuple[Any, ...]], ...]
    mode: str = "grid"
    lanes: str | int = "auto"
    devices: str | int = "all"
    memory_mb: float = 2048.0
    metric: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The section as plain data, as a sweep folder's ``sweep.yaml`` stores it.

        Returns:
          ``{"mode", "lanes", "devices", "memory_mb", "metric", "params"}``, with ``params``
          mapping each dotted key to its list of values; :func:`parse_sweep` reads it back.

        Example:
          >>> from mcalc.sweep import parse_sweep
          >>> spec = parse_sweep({"params": {"model.lam": [0.1, 1.0]}, "lanes": "loop"})
          >>> spec.to_dict()["params"], spec.to_dict()["lanes"]
          ({'model.lam': [0.1, 1.0]}, 'loop')
          >>> parse_sweep(spec.to_dict()) == spec
          True
        """
        return {
            "mode": self.mode,
            "lanes": self.lanes,
            "devices": self.devices,
            "memory_mb": self.memory_mb,
            "metric": self.metric,
            "params": {k: list(v) for k, v in self.params},
        }


def _number_list(key: str, gen: str, args: Any, n: int | tuple[int, ...]) -> list[float]:
    counts = (n,) if isinstance(n, int) else n
    if not isinstance(args, list | tuple) or len(args) not in counts:
        want = " or ".join(str(c) for c in counts)
        raise SweepError(
            f"sweep key 'params.{key}': {gen} takes a list of {want} numbers; got {args!r}."
        )
    for a in args:
        if isinstance(a, bool) or not isinstance(a, int | float) or not math.isfinite(a):
            raise SweepError(f"sweep key 'params.{key}': {gen} takes finite numbers; got {a!r}.")
    return list(args)


def _values(key: str, spec: Any) -> tuple[Any, ...]:
    if isinstance(spec, Mapping):
        if len(spec) != 1 or next(iter(spec)) not in _GENERATORS:
            raise SweepError(
                f"sweep key 'params.{key}': a mapping must have exactly one of "
                f"{', '.join(_GENERATORS)}; got keys {sorted(spec)}."
            )
        gen, args = next(iter(spec.items()))
        if gen == "values":
            if not isinstance(args, list | tuple):
                raise SweepError(f"sweep key 'params.{key}': values takes a list; got {args!r}.")
            out = list(args)
        elif gen == "range":
            a = _number_list(key, gen, args, (2, 3))
            if not all(isinstance(x, int) for x in a):
                out = list(np.arange(*a).tolist())
            else:
                out = list(range(*a))
        elif gen == "linspace":
            start, stop, num = _number_list(key, gen, args, 3)
            out = np.linspace(start, stop, int(num)).tolist()
        else:
            start, stop, num = _number_list(key, gen, args, 3)
            if start <= 0 or stop <= 0:
                raise SweepError(
                    f"sweep key 'params.{key}': logspace spans positive values (the endpoints "
                    f"themselves, e.g. [1.0e-3, 1.0e3, 13]); got {args!r}."
                )
            out = np.geomspace(start, stop, int(num)).tolist()
    elif isinstance(spec, list | tuple):
        out = list(spec)
    else:
        out = [spec]
    if not out:
        raise SweepError(f"sweep key 'params.{key}': no values to sweep over.")
    for v in out:
        if isinstance(v, Mapping | list | tuple):
            raise SweepError(f"sweep key 'params.{key}': each value must be a scalar; got {v!r}.")
    return tuple(out)


def parse_sweep(section: Any) -> SweepSpec:
    """Validate a ``sweep:`` mapping and return a :class:`SweepSpec`.

    Args:
      section: the ``sweep:`` mapping of a config: ``params`` (dotted config key -> a
        value, a list, or one of ``{values: [...]}``, ``{range: [start, stop(, step)]}``,
        ``{linspace: [start, stop, num]}``, ``{logspace: [start, stop, num]}``), and
        optionally ``mode``, ``lanes``, ``devices``, ``memory_mb``, ``metric``.

    Returns:
      The :class:`SweepSpec`, every generator expanded into its values.

    Raises:
      SweepError: (a ``ValueError``) naming the offending key: an unknown key, a value of
        the wrong kind, a generator with the wrong arguments, or (``mode: zip``) value
        lists of different lengths.

    Example:
      >>> from mcalc.sweep import parse_sweep
      >>> spec = parse_sweep({"params": {"model.lam": {"logspace": [0.01, 100.0, 3]}}})
      >>> spec.params
      (('model.lam', (0.01, 1.0, 100.0)),)
      >>> try:
      ...     parse_sweep({"mode": "zip", "params": {"model.lam": [0.1, 1.0], "seed": [0]}})
      ... except ValueError as e:
      ...     print(f"{type(e).__name__}: {e}")
      SweepError: sweep key 'sweep.mode' is zip, so every parameter needs the same number of values; got {'model.lam': 2, 'seed': 1}.
    """
    if not isinstance(section, Mapping):
        raise SweepError(
            f"config key 'sweep' must be a mapping (mode:, lanes:, params:, ...); got {section!r}."
        )
    unknown = sorted(set(section) - set(_SECTION_KEYS))
    if unknown:
        raise SweepError(
            f"unknown sweep key(s) {', '.join(repr(f'sweep.{k}') for k in unknown)}; "
            f"valid keys: {', '.join(_SECTION_KEYS)}."
        )
    mode = section.get("mode", "grid")
    if mode not in MODES:
        raise SweepError(f"sweep key 'sweep.mode' must be grid or zip; got {mode!r}.")
    lanes = section.get("lanes", "auto")
    if not (
        lanes in ("auto", "all", "loop")
        or (isinstance(lanes, int) and not isinstance(lanes, bool) and lanes >= 1)
    ):
        raise SweepError(
            f"sweep key 'sweep.lanes' must be auto, all, loop or a positive int; got {lanes!r}."
        )
    devices = section.get("devices", "all")
    if not (
        devices == "all"
        or (isinstance(devices, int) and not isinstance(devices, bool) and devices >= 1)
    ):
        raise SweepError(
            f"sweep key 'sweep.devices' must be all or a positive int; got {devices!r}."
        )
    memory_mb = section.get("memory_mb", 2048.0)
    if isinstance(memory_mb, bool) or not isinstance(memory_mb, int | float) or memory_mb <= 0:
        raise SweepError(
            f"sweep key 'sweep.memory_mb' must be a positive number; got {memory_mb!r}."
        )
    metric = section.get("metric")
    if metric is not None and not isinstance(metric, str):
        raise SweepError(f"sweep key 'sweep.metric' must be a metric name; got {metric!r}.")
    params = section.get("params")
    if not isinstance(params, Mapping) or not params:
        raise SweepError(
            "sweep key 'sweep.params' must map config keys to values, e.g. "
            "{model.lam: [0.1, 1.0], seed: [0, 1]}; got " + repr(params) + "."
        )
    pairs = []
    for key, spec in params.items():
        if not isinstance(key, str) or not key:
            raise SweepError(
                f"sweep key 'sweep.params': keys must be dotted config keys; got {key!r}."
            )
        pairs.append((key, _values(key, spec)))
    if mode == "zip":
        lengths = {k: len(v) for k, v in pairs}
        if len(set(lengths.values())) > 1:
            raise SweepError(
                f"sweep key 'sweep.mode' is zip, so every parameter needs the same number of "
                f"values; got {lengths}."
            )
    return SweepSpec(
        params=tuple(pairs),
        mode=mode,
        lanes=lanes,
        devices=devices,
        memory_mb=float(memory_mb),
        metric=metric,
    )


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every configuration of the sweep as ``{dotted key: value}``, in a fixed order.

    Args:
      spec: a parsed sweep section.

    Returns:
      One dict per configuration (a sweep's *lane*, numbered by its position here):
      ``mode: grid`` gives every combination, the last key varying fastest; ``mode: zip``
      the ``i``-th value of each key together.

    Example:
      >>> from mcalc.sweep import expand, parse_sweep
      >>> expand(parse_sweep({"params": {"model.lam": [0.1, 1.0], "seed": [0, 1]}}))
      [{'model.lam': 0.1, 'seed': 0}, {'model.lam': 0.1, 'seed': 1}, {'model.lam': 1.0, 'seed': 0}, {'model.lam': 1.0, 'seed': 1}]
      >>> expand(parse_sweep({"mode": "zip", "params": {"model.lam": [0.1, 1.0], "seed": [0, 1]}}))
      [{'model.lam': 0.1, 'seed': 0}, {'model.lam': 1.0, 'seed': 1}]
    """
    keys = [k for k, _ in spec.params]
    columns = [v for _, v in spec.params]
    rows = itertools.product(*columns) if spec.mode == "grid" else zip(*columns, strict=True)
    return [dict(zip(keys, row, strict=True)) for row in rows]
