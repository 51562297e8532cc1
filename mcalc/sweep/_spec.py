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
    """A malformed ``sweep:`` section; the message names the key."""


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
    """

    params: tuple[tuple[str, tuple[Any, ...]], ...]
    mode: str = "grid"
    lanes: str | int = "auto"
    devices: str | int = "all"
    memory_mb: float = 2048.0
    metric: str | None = None

    def to_dict(self) -> dict[str, Any]:
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

    Raises:
      SweepError: (a ``ValueError``) naming the offending key.
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
    """Every configuration of the sweep as ``{dotted key: value}``, in a fixed order."""
    keys = [k for k, _ in spec.params]
    columns = [v for _, v in spec.params]
    rows = itertools.product(*columns) if spec.mode == "grid" else zip(*columns, strict=True)
    return [dict(zip(keys, row, strict=True)) for row in rows]
