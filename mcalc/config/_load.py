"""Reading, layering, overriding and validating configs.

A config is resolved from *layers*, each a plain mapping: the embedded default of
the task (its :attr:`mcalc.Task.defaults`), then every file of a ``base:`` chain (the
root first), then the file itself, then the ``key=value`` overrides. A later layer
overrides an earlier one key by key; inside ``args`` mappings too, where ``null``
removes an argument (so optax's default applies). The task of the last layer that
sets ``task`` picks the schema (its ``model.<hyper>`` keys) and the embedded default
under all of them.

``task`` is a built-in name (``p2``), ``MODULE:NAME`` or ``path/to/file.py:NAME`` (a
path in a config file is relative to that file; the resolved config holds it
absolute, so that a run folder resumes from anywhere), or, from Python, a
:class:`mcalc.Task` object.

Every layer is checked against the schema before it is merged: an unknown key, a
section given as a scalar or a value of the wrong type is a :class:`ConfigError`
that names the key, the file or override it came from, and the valid choices.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._schema import (
    DTYPES,
    GRADS,
    RELABELS,
    SOURCES,
    Config,
    schema_for,
)
from ._yaml import safe_load

__all__ = [
    "ConfigError",
    "load_config",
    "resolve_layers",
    "validate_config",
    "parse_overrides",
    "config_diff",
    "check_hyper",
]

Layer = tuple[str, dict[str, Any]]  # (where it came from, the mapping)


class ConfigError(ValueError):
    """A config that does not fit the schema; the message names the key and the fix.

    Raised by :func:`load_config`, :func:`validate_config` and :func:`parse_overrides`
    (and so by :func:`mcalc.train` and :func:`mcalc.sweep`) before anything runs. It is a
    ``ValueError``; the command line prints its message and exits with status 2.

    Example:
      >>> import mcalc
      >>> try:
      ...     mcalc.load_config("p2", ["train.stepz=10"])
      ... except mcalc.ConfigError as error:
      ...     print(error)
      override 'train.stepz=10': unknown config key 'train.stepz'. Did you mean 'train.steps'? ...
    """


class _Patch(dict):
    """An ``args`` mapping reached by dotted keys (``optimizer.args.momentum=0.5``): it
    updates the arguments below it, where a mapping given *as* ``args`` replaces them."""


# ---------------------------------------------------------------------------
# layers


def _is_path_like(text: str) -> bool:
    return text.endswith((".yaml", ".yml")) or os.sep in text or "/" in text or os.path.exists(text)


def _read_file(path: Path, seen: tuple[Path, ...]) -> list[Layer]:
    fn = "mcalc.load_config"
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ConfigError(f"{fn}: the base: chain has a cycle: {chain}.")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{fn}: config file {str(path)!r} does not exist.") from None
    except OSError as e:
        raise ConfigError(f"{fn}: cannot read config file {str(path)!r}: {e}.") from None
    try:
        data = safe_load(text)
    except Exception as e:  # yaml.YAMLError and its many subclasses
        raise ConfigError(f"{fn}: {path} is not valid YAML: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{fn}: {path} must hold a mapping of config keys (task:, data:, ...); "
            f"got a {type(data).__name__}."
        )
    data = dict(data)
    if isinstance(data.get("task"), str):
        data["task"] = _absolute_task(data["task"], path.parent)
    layers: list[Layer] = []
    base = data.pop("base", None)
    if base is not None:
        if not isinstance(base, str) or not base:
            raise ConfigError(
                f"{fn}: {path}: config key 'base' must be a file name (relative to this file) "
                f"or a task (p2, p3, p4, p7, or MODULE:NAME); got {base!r}."
            )
        if _is_task_name(base):
            layers.append(
                (f"the embedded default {base!r}", {"task": _absolute_task(base, path.parent)})
            )
        else:
            layers.extend(_read_file((path.parent / base).resolve(), (*seen, path)))
    # A file that does not name its runs names them after itself (my_exp.yaml -> runs/my_exp-*).
    layers.append((f"{path} (its file name)", {"name": path.stem}))
    layers.append((str(path), data))
    return layers


def _is_task_name(text: str) -> bool:
    """A built-in task's name or a ``MODULE:NAME`` reference, not a YAML file."""
    from ..task._resolve import BUILTIN

    if text.endswith((".yaml", ".yml")):
        return False
    return text in BUILTIN or (":" in text and not text.endswith(":"))


def _absolute_task(ref: str, folder: Path) -> str:
    """A ``file.py:NAME`` task reference made absolute from ``folder`` (others unchanged)."""
    from .._imports import is_file_reference

    module_part, sep, attr = ref.rpartition(":")
    if sep and module_part and attr and is_file_reference(module_part):
        p = Path(module_part).expanduser()
        if not p.is_absolute():
            return f"{(folder / p).resolve()}:{attr}"
    return ref


def _parse_value(text: str) -> Any:
    try:
        return safe_load(text) if text.strip() else ""
    except Exception:
        return text  # not YAML: keep the raw string, the schema check will say what it needed


def _set_dotted(target: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    parts = dotted.split(".")
    if any(not p for p in parts):
        raise ConfigError(
            f"mcalc.load_config: override {origin!r}: {dotted!r} is not a dotted key."
        )
    node = target
    for p in parts[:-1]:
        node = node.setdefault(p, _Patch() if p == "args" else {})
        if not isinstance(node, dict):
            raise ConfigError(
                f"mcalc.load_config: override {origin!r} conflicts with another override."
            )
    node[parts[-1]] = value


def parse_overrides(
    overrides: Sequence[str | Mapping[str, Any]] | Mapping[str, Any] | None,
) -> list[Layer]:
    """Turn ``["train.steps=10", ...]`` or ``{"train.steps": 10}`` into layers.

    A sequence may mix ``key=value`` strings and mappings; later ones win.

    String values are parsed as YAML (``1e-3`` is a float, ``null`` is ``None``,
    ``{momentum: 0.9}`` a mapping). Mapping keys may be dotted or use ``__``
    for the dots (``train__steps=10`` as a Python keyword); nested mappings are
    taken as they are. Keys are not checked here: :func:`load_config` checks them
    against the schema when it applies the layers.

    Args:
      overrides: ``key=value`` strings, mappings of dotted keys to values, a sequence
        mixing both, or ``None``.

    Returns:
      A list of layers, one per override: ``(where it came from, nested mapping)``.

    Raises:
      ConfigError: on a string without ``=`` or a mapping key that is not a string.

    Example:
      >>> from mcalc.config import parse_overrides
      >>> parse_overrides(["train.steps=1e3", "optimizer.args={momentum: 0.9}"])
      [("override 'train.steps=1e3'", {'train': {'steps': 1000.0}}), ("override 'optimizer.args={momentum: 0.9}'", {'optimizer': {'args': {'momentum': 0.9}}})]
      >>> parse_overrides({"model__lam": 0.1})
      [('override model__lam', {'model': {'lam': 0.1}})]
    """
    if not overrides:
        return []
    layers: list[Layer] = []
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            if not isinstance(key, str):
                raise ConfigError(f"mcalc.load_config: override keys must be strings; got {key!r}.")
            layer: dict[str, Any] = {}
            _set_dotted(layer, key.replace("__", "."), value, key)
            layers.append((f"override {key}", layer))
        return layers
    if isinstance(overrides, str):
        overrides = [overrides]
    for item in overrides:
        if isinstance(item, Mapping):
            layers.extend(parse_overrides(item))
            continue
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(
                f"mcalc.load_config: an override must look like key=value (e.g. train.steps=100); "
                f"got {item!r}."
            )
        key, _, raw = item.partition("=")
        layer = {}
        _set_dotted(layer, key.strip(), _parse_value(raw), item)
        layers.append((f"override {item!r}", layer))
    return layers


def _config_to_dict(config: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(config, DictConfig):
            return OmegaConf.to_container(config, resolve=True)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    return dict(config)


def _task_error(e: Exception) -> str:
    """A task resolution error worded as a config key's: "config key 'task' must be ..."."""
    msg = str(e)
    return "config key 'task' " + msg[len("task ") :] if msg.startswith("task ") else msg


def _task_layer(task: Any) -> Layer:
    from ..task import task_reference

    try:
        ref = task_reference(task)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return (f"the embedded default of task {task.name!r}", {"task": ref})


def _source_layers(config: Any) -> list[Layer]:
    from ..task import Task

    if config is None:
        return []
    if isinstance(config, Task):
        return [_task_layer(config)]
    if isinstance(config, str | os.PathLike):
        text = os.fspath(config)
        if not _is_path_like(text) or (_is_task_name(text) and not text.endswith(".py")):
            from ..task import TaskError, resolve_task

            try:
                resolve_task(text)
            except TaskError as e:
                raise ConfigError(
                    f"mcalc.load_config: {text!r} is not a config file, and {_task_error(e)}"
                ) from None
            return [(f"the embedded default {text!r}", {"task": _absolute_task(text, Path.cwd())})]
        return _read_file(Path(text).resolve(), ())
    if isinstance(config, Mapping) or dataclasses.is_dataclass(config):
        data = _config_to_dict(config)
        if isinstance(data.get("task"), Task):
            data = {**data, "task": _task_layer(data["task"])[1]["task"]}
        return [("the given config", data)]
    if type(config).__name__ == "DictConfig":
        return [("the given config", _config_to_dict(config))]
    raise ConfigError(
        "mcalc.load_config: config must be a path to a YAML file, a task name, a mcalc.Task, "
        f"a Config, or a mapping; got {type(config).__name__}."
    )


# ---------------------------------------------------------------------------
# checking a layer against the schema


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


_TYPE_NAMES = {int: "an int", float: "a number", bool: "true or false", str: "a string"}


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


def _check_scalar(tp: Any, optional: bool, value: Any, key: str, where: str) -> Any:
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: config key '{key}' must be {_TYPE_NAMES[tp]}; got null.")
    ok = False
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif tp is str:
        ok = isinstance(value, str) or (
            isinstance(value, int | float) and not isinstance(value, bool)
        )
        value = str(value) if ok else value
    if not ok:
        raise ConfigError(
            f"{where}: config key '{key}' must be {_TYPE_NAMES[tp]}"
            f"{' or null' if optional else ''}; got {_describe(value)}."
        )
    return value


def _check_layer(cls: type, data: Mapping[str, Any], prefix: str, where: str) -> dict[str, Any]:
    """Check ``data`` against dataclass ``cls``; returns it with values normalised."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    out: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key == "base" and not prefix:
            raise ConfigError(
                f"{where}: config key 'base' is only read at the top of a config file "
                "(it names the file or task that file overrides)."
            )
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" Did you mean '{prefix}{close[0]}'?" if close else ""
            section = f"'{prefix[:-1]}'" if prefix else "the top level"
            raise ConfigError(
                f"{where}: unknown config key '{full}'.{hint} The keys of {section} are: "
                f"{', '.join(names)}."
            )
        tp, optional = _unwrap_optional(hints[key])
        if dataclasses.is_dataclass(tp):
            if value is None and optional:
                out[key] = None
            elif isinstance(value, Mapping):
                out[key] = _check_layer(tp, value, f"{full}.", where)
            else:
                fields = ", ".join(f.name for f in dataclasses.fields(tp))
                raise ConfigError(
                    f"{where}: config key '{full}' is a section with keys {fields}"
                    f"{' (or null)' if optional else ''}; got {_describe(value)}."
                )
        elif typing.get_origin(tp) is dict:
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"{where}: config key '{full}' must be a mapping of argument names to values "
                    f"(e.g. {{momentum: 0.9}}); got {_describe(value)}."
                )
            for k in value:
                if not isinstance(k, str):
                    raise ConfigError(
                        f"{where}: config key '{full}' must have string keys; got {k!r}."
                    )
            out[key] = _Patch(value) if isinstance(value, _Patch) else dict(value)
        else:
            out[key] = _check_scalar(tp, optional, value, full, where)
    return out


def _merge(merged: Any, layer: Mapping[str, Any], where: str) -> Any:
    """OmegaConf-merge a checked layer into the structured config, errors naming the key."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    # A mapping given as `args` replaces the arguments below it (so a variant that switches
    # optimizer does not inherit its base's arguments); a _Patch updates them key by key.
    for section in ("optimizer", "schedule"):
        node = layer.get("optimizer") if isinstance(layer.get("optimizer"), Mapping) else None
        target = merged.optimizer if "optimizer" in merged else None
        if section == "schedule" and node is not None:
            node = node.get("schedule") if isinstance(node.get("schedule"), Mapping) else None
            target = target.schedule if target is not None else None
        if (
            node is not None
            and target is not None
            and "args" in node
            and not isinstance(node["args"], _Patch)
        ):
            target.args = {}

    def plain(node: Any) -> Any:
        return {k: plain(v) for k, v in node.items()} if isinstance(node, Mapping) else node

    try:
        return OmegaConf.merge(merged, plain(layer))
    except OmegaConfBaseException as e:  # pragma: no cover - _check_layer catches these first
        key = getattr(e, "full_key", None) or "?"
        msg = str(e).splitlines()[0]
        raise ConfigError(f"{where}: config key '{key}': {msg}") from None


def _drop_null_args(config: Config) -> Config:
    # null removes an argument (optax's default applies), also across layers.
    config.optimizer.args = {k: v for k, v in config.optimizer.args.items() if v is not None}
    if config.optimizer.schedule is not None:
        sched = config.optimizer.schedule
        sched.args = {k: v for k, v in sched.args.items() if v is not None}
    return config


# ---------------------------------------------------------------------------
# semantic checks


def _choice(value: str, choices: Iterable[str], key: str, extra: str = "") -> None:
    choices = tuple(choices)
    if value not in choices:
        close = difflib.get_close_matches(value, choices, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"config key '{key}' must be one of {', '.join(choices)}; got {value!r}.{hint}{extra}"
        )


def _range(value: float | None, key: str, *, low: float, strict: bool = False, high=None) -> None:
    if value is None:
        return
    bad = not math.isfinite(value) or (value <= low if strict else value < low)
    if high is not None:
        bad = bad or value >= high
    if bad:
        op = ">" if strict else "≥"
        upper = f" and < {high:g}" if high is not None else ""
        raise ConfigError(f"config key '{key}' must be finite, {op} {low:g}{upper}; got {value!r}.")


def _check_callable_args(fn: Any, args: Mapping[str, Any], key: str, what: str) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - optax functions have signatures
        return
    params = sig.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    for name in args:
        if name not in params:
            valid = (
                [p for p in params if p != "learning_rate"] if what == "optimizer" else list(params)
            )
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f" Did you mean '{key}.{close[0]}'?" if close else ""
            raise ConfigError(
                f"config key '{key}.{name}' is not an argument of optax.{fn.__name__}.{hint} "
                f"Its arguments are: {', '.join(valid)}."
            )
    for name, p in params.items():
        required = p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        if required and name != "learning_rate" and name not in args:
            raise ConfigError(
                f"config key '{key}.{name}' is required by optax.{fn.__name__} and not set."
            )


def _optax_callable(name: str, key: str, kind: str) -> Any:
    import optax

    fn = getattr(optax, name, None)
    if name.startswith("_") or fn is None or not callable(fn) or isinstance(fn, type):
        pool = [
            n
            for n in dir(optax)
            if not n.startswith("_")
            and callable(getattr(optax, n))
            and not isinstance(getattr(optax, n), type)
        ]
        if kind == "schedule":
            pool = [n for n in pool if "schedule" in n or n.endswith("_decay")]
        close = difflib.get_close_matches(name, pool, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"config key '{key}': optax has no {kind} named {name!r}.{hint}")
    return fn


def check_hyper(task: Any, name: str, value: Any) -> float | int:
    """``value`` for the task's hyperparameter ``model.<name>``, checked against its declared
    type and range (what a config and every value of a sweep grid must obey).

    Raises:
      ConfigError: naming the key, the range and the task.
    """
    try:
        return task.hyper[name].check(name, value)
    except ValueError as e:
        raise ConfigError(f"{str(e).rstrip('.')} (a hyperparameter of task {task.name}).") from None


def _solver_owner(solver: str) -> str:
    """`` (newton is an exact solver of task p2)`` when a built-in task has that solver."""
    from ..task import tasks

    owners = [t.name for t in tasks() if solver in t.solvers]
    return f" ({solver} is an exact solver of task {', '.join(owners)})" if owners else ""


def validate_config(config: Config) -> Config:
    """Check the values of a typed config (choices, ranges, combinations); return it.

    :func:`load_config` calls it on every config it resolves; call it yourself on a
    :class:`Config` you built or changed in Python.

    Args:
      config: a :class:`Config`.

    Returns:
      ``config`` itself, unchanged, when it is valid.

    Raises:
      ConfigError: naming the key, what it must be and what it is.

    Example:
      >>> import dataclasses, mcalc
      >>> from mcalc.config import validate_config
      >>> cfg = mcalc.default_config("p2")
      >>> validate_config(cfg) is cfg
      True
      >>> bad = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, lam=-1.0))
      >>> try:
      ...     validate_config(bad)
      ... except mcalc.ConfigError as error:
      ...     print(error)
      config key 'model.lam' must be finite, a number ≥ 0; got -1.0 (a hyperparameter of task p2).
    """
    from ..task import resolve_task

    c = config
    try:
        task = resolve_task(c.task)
    except ValueError as e:
        raise ConfigError(_task_error(e)) from None
    if not c.name or any(ch in c.name for ch in "/\\") or c.name in (".", ".."):
        raise ConfigError(
            f"config key 'name' must be a non-empty name without slashes; got {c.name!r}."
        )
    solvers = ("optax", *task.solvers)
    if c.solver not in solvers:
        close = difflib.get_close_matches(c.solver, solvers, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"config key 'solver' must be one of {', '.join(solvers)} for task {task.name}; got "
            f"{c.solver!r}.{hint}" + _solver_owner(c.solver)
        )

    d = c.data
    _choice(d.source, SOURCES, "data.source")
    if d.source in ("csv", "npz") and not d.path:
        raise ConfigError(
            f"config key 'data.path' must name the {d.source.upper()} file for data.source={d.source}."
        )
    if d.source not in ("csv", "npz") and d.path:
        raise ConfigError(
            f"config key 'data.path' is only read for data.source csv or npz; it is set to "
            f"{d.path!r} with data.source={d.source}. Remove it or change data.source."
        )
    if d.target is not None and d.source not in ("csv", "npz"):
        raise ConfigError(
            f"config key 'data.target' is only read for data.source csv or npz; got {d.target!r} "
            f"with data.source={d.source}."
        )
    if d.n_samples < 2:
        raise ConfigError(f"config key 'data.n_samples' must be an int ≥ 2; got {d.n_samples}.")
    if d.n_features < 1:
        raise ConfigError(f"config key 'data.n_features' must be an int ≥ 1; got {d.n_features}.")
    _range(d.noise, "data.noise", low=0.0)
    _range(d.test_fraction, "data.test_fraction", low=0.0, high=1.0)
    _choice(d.relabel, RELABELS, "data.relabel")
    if task.labels in ("real", "categorical") and d.relabel != "none":
        raise ConfigError(
            f"config key 'data.relabel': {d.relabel} maps labels {{0,1}} <-> {{-1,1}}; task "
            f"{task.name} has {task.labels} labels (set data.relabel=none)."
        )
    if d.source == "synthetic" and task.synthetic is None and task.labels == "categorical":
        raise ConfigError(
            f"config key 'data.source': task {task.name} has categorical labels and no synthetic "
            "generator (mcalc.Task.synthetic); use csv or npz data, or give the task one."
        )
    if d.intercept and c.solver != "optax" and not task.solvers[c.solver].intercept:
        raise ConfigError(
            f"config key 'data.intercept': the exact solver {c.solver} penalises every weight, "
            "so it cannot leave an intercept unpenalised; use solver optax, or data.intercept=false."
        )
    if d.intercept and task.penalty is not None and task.unpenalized is None:
        raise ConfigError(
            f"config key 'data.intercept': task {task.name} has a penalty but does not say which "
            "weight is the intercept's (mcalc.Task.unpenalized); set data.intercept=false, or "
            "give the task an unpenalized mask."
        )
    _choice(d.dtype, DTYPES, "data.dtype")

    m = c.model
    for name in task.hyper:
        setattr(m, name, check_hyper(task, name, getattr(m, name)))
    if m.n_features is not None and m.n_features < 1:
        raise ConfigError(
            f"config key 'model.n_features' must be an int ≥ 1 or null; got {m.n_features}."
        )
    _range(m.init_scale, "model.init_scale", low=0.0)
    _choice(m.grad, GRADS, "model.grad")

    o = c.optimizer
    if c.solver == "optax":
        opt_fn = _optax_callable(o.name, "optimizer.name", "optimizer")
        if "learning_rate" not in inspect.signature(opt_fn).parameters:
            raise ConfigError(
                f"config key 'optimizer.name': optax.{o.name} takes no learning_rate: it is a "
                "gradient transformation, not an optimizer; use an optimizer such as sgd, adam, "
                "adamw, lion or rmsprop (or chain it yourself in Python)."
            )
        _check_callable_args(opt_fn, o.args, "optimizer.args", "optimizer")
        if "learning_rate" in o.args:
            raise ConfigError(
                "config key 'optimizer.args.learning_rate': set the step size with "
                "optimizer.learning_rate (or optimizer.schedule), not in args."
            )
        if o.schedule is None and o.learning_rate is None:
            raise ConfigError(
                "config key 'optimizer.learning_rate' is null and no optimizer.schedule is set: "
                "give one of them."
            )
        if o.schedule is not None and o.learning_rate is not None:
            raise ConfigError(
                f"config keys 'optimizer.learning_rate' ({o.learning_rate}) and 'optimizer.schedule' "
                "both set the step size; set optimizer.learning_rate=null to use the schedule, "
                "or optimizer.schedule=null to use the constant."
            )
        _range(o.learning_rate, "optimizer.learning_rate", low=0.0, strict=True)
        if o.schedule is not None:
            sched_fn = _optax_callable(o.schedule.name, "optimizer.schedule.name", "schedule")
            _check_callable_args(sched_fn, o.schedule.args, "optimizer.schedule.args", "schedule")

    t = c.train
    if t.steps < 1:
        raise ConfigError(f"config key 'train.steps' must be an int ≥ 1; got {t.steps}.")
    if t.batch_size is not None and t.batch_size < 1:
        raise ConfigError(
            f"config key 'train.batch_size' must be an int ≥ 1 or null (full batch); got {t.batch_size}."
        )
    if t.batch_size is not None and c.solver != "optax":
        raise ConfigError(
            f"config key 'train.batch_size': the exact solver {c.solver} uses the full batch; "
            "set train.batch_size=null."
        )
    if t.log_every < 1:
        raise ConfigError(f"config key 'train.log_every' must be an int ≥ 1; got {t.log_every}.")
    if t.checkpoint_every < 0 or (t.checkpoint_every and t.checkpoint_every % t.log_every):
        raise ConfigError(
            f"config key 'train.checkpoint_every' must be 0 or a positive multiple of "
            f"train.log_every ({t.log_every}); got {t.checkpoint_every}."
        )
    if t.keep_checkpoints < 1:
        raise ConfigError(
            f"config key 'train.keep_checkpoints' must be an int ≥ 1; got {t.keep_checkpoints}."
        )
    _range(t.tol, "train.tol", low=0.0, strict=True)
    _range(t.gap_tol, "train.gap_tol", low=0.0, strict=True)
    if t.gap_tol is not None and task.optimum is None:
        raise ConfigError(
            f"config key 'train.gap_tol' needs a known optimum (mcalc.Task.optimum, e.g. P4's "
            f"closed form); task {task.name} has none: stop on train.tol (the gradient) instead."
        )
    return c


# ---------------------------------------------------------------------------
# the public entry point


def load_config(
    config: str | os.PathLike | Config | Mapping[str, Any] | None = None,
    overrides: Sequence[str] | Mapping[str, Any] | None = None,
) -> Config:
    """Resolve a config: the task's embedded default, ``base:`` files, the file, overrides.

    Args:
      config: a YAML file (its ``base:`` key names a file, relative to it, or a task
        whose embedded default it overrides), a task name (``"p2"`` .. ``"p7"``: its
        embedded default), a :class:`Config`, or a mapping.
      overrides: ``["train.steps=100", "model.lam=0.1"]`` (values parsed as YAML),
        or a mapping of dotted keys (or ``__`` for the dots) to values.

    Returns:
      The validated :class:`Config`.

    Raises:
      ConfigError: (a ``ValueError``) on an unknown key, a value of the wrong type
        or out of range, naming the key and where it came from.

    Example:
      >>> import mcalc
      >>> cfg = mcalc.load_config("p2", ["model.lam=0.5", "train.steps=10"])
      >>> cfg.model.lam, cfg.train.steps, cfg.data.source
      (0.5, 10, 'breast_cancer')
    """
    return resolve_layers(_source_layers(config) + parse_overrides(overrides))


def resolve_layers(layers: Sequence[Layer]) -> Config:
    """Merge ``(where, mapping)`` layers over the task's embedded default and validate.

    The engine of :func:`load_config`, for callers that assemble layers themselves
    (``mcalc.sweep`` takes its ``sweep:`` section out of a file's layers first).
    """
    from ..task import Task, TaskError, resolve_task, task_reference

    ref = None
    task_where = "the default"
    for where, layer in layers:
        if "task" in layer:
            ref, task_where = layer["task"], where
    if ref is None:
        raise ConfigError(
            "mcalc.load_config: no task given: set 'task' (p2, p3, p4, p7, or your own as "
            "MODULE:NAME) in the config file, or a 'base:' to build on."
        )
    try:
        task = resolve_task(ref)
        ref = task_reference(task)
    except TaskError as e:
        raise ConfigError(f"{task_where}: {_task_error(e)}") from None
    layers = [
        (w, {**layer, "task": ref}) if isinstance(layer.get("task"), Task) else (w, layer)
        for w, layer in layers
    ]
    from omegaconf import OmegaConf

    # The task's schema as an OmegaConf structured config, its embedded default under all layers.
    cls = schema_for(task)
    merged = OmegaConf.structured(cls(task=ref, name=task.name))
    base = [(f"the embedded default of task {task.name!r}", dict(task.defaults))]
    for where, layer in [*base, *layers]:
        merged = _merge(merged, _check_layer(cls, layer, "", where), where)
    config = OmegaConf.to_object(merged)
    config.task = ref
    return validate_config(_drop_null_args(config))


def config_diff(a: Config, b: Config) -> list[str]:
    """Dotted keys whose values differ between two configs.

    Args:
      a: a :class:`Config` (or a section of one).
      b: another, of the same type.

    Returns:
      The sorted dotted keys (``"model.lam"``) whose values differ; empty when equal.

    Example:
      >>> import mcalc
      >>> from mcalc.config import config_diff
      >>> config_diff(mcalc.default_config("p2"), mcalc.load_config("p2", ["model.lam=0.1"]))
      ['model.lam']
    """

    def flat(obj: Any, prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if dataclasses.is_dataclass(v):
                out.update(flat(v, f"{prefix}{f.name}."))
            else:
                out[f"{prefix}{f.name}"] = v
        return out

    fa, fb = flat(a), flat(b)
    return sorted(k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k))
