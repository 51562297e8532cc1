"""Finding a task from what a config says: a built-in name, ``MODULE:NAME`` or ``file.py:NAME``.

A config holds its task as a string, so that a run folder can be resumed and loaded
in another process. A :class:`~mcalc.Task` object given from Python is written as the
reference it can be imported under (found among the globals of the module that
defines its loss); one made where nothing can import it (``__main__``, a notebook) is
remembered by this process under its name, and resuming or loading its runs in
another process needs the object again (``mcalc.load_run(path, task=...)``).
"""

from __future__ import annotations

import difflib
import importlib
import os
import threading
import warnings
from pathlib import Path
from typing import Any

from .._imports import LoadError, is_file_reference, load_object, reference_of, split_reference
from .._registry import Registry
from ._task import Task

__all__ = ["tasks", "resolve_task", "task_reference", "TaskError", "BUILTIN"]

# The built-in tasks, one file each: name -> module holding ``TASK``.
BUILTIN = {
    "p2": "mcalc.task._p2_logistic",
    "p3": "mcalc.task._p3_bipolar",
    "p4": "mcalc.task._p4_gaussian",
    "p7": "mcalc.task._p7_resnet",
}

_lock = threading.Lock()
_loaded: dict[str, Task] = {}  # reference -> task (built-ins by name)
_by_object: dict[int, str] = {}  # id(task) -> the reference it was registered under


class TaskError(ValueError):
    """A task reference that does not resolve to a :class:`mcalc.Task`.

    A ``ValueError`` raised by :func:`resolve_task` (and so by every config naming the
    task) that names the reference and says what went wrong.

    Example:
      >>> from mcalc.task import TaskError, resolve_task
      >>> try:
      ...     resolve_task("p22")
      ... except TaskError as e:
      ...     print(e)
      task must be one of p2, p3, p4, p7 or your own as MODULE:NAME or path/to/file.py:NAME; got 'p22'. Did you mean 'p2'?
    """


def _builtin(name: str) -> Task:
    with _lock:
        if name not in _loaded:
            task = importlib.import_module(BUILTIN[name]).TASK
            _loaded[name] = task
            _by_object[id(task)] = name
        return _loaded[name]


def tasks() -> Registry[Task]:
    """The built-in tasks (P2, P3, P4, P7), each a :class:`mcalc.Task`.

    Returns:
      A registry: iterate over it for the tasks, index it by name.

    Example:
      >>> import mcalc
      >>> [t.name for t in mcalc.tasks()]
      ['p2', 'p3', 'p4', 'p7']
      >>> mcalc.tasks()["p4"].labels
      'real'
    """
    return Registry((_builtin(n) for n in BUILTIN), what="built-in task")


def _normalise(ref: str, base: str | os.PathLike | None) -> str:
    """A file reference made absolute (relative to ``base``, else the current folder)."""
    module_part, attr = split_reference(ref, what="task")
    if is_file_reference(module_part):
        path = Path(module_part).expanduser()
        if not path.is_absolute():
            path = Path(base or os.getcwd()) / path
        return f"{path.resolve()}:{attr}"
    return ref


def resolve_task(ref: Any, *, base: str | os.PathLike | None = None) -> Task:
    """The :class:`mcalc.Task` a config's ``task`` value names.

    Args:
      ref: a built-in name (``"p2"``), ``"pkg.module:NAME"``, ``"path/to/file.py:NAME"``,
        a reference this process registered, or a :class:`mcalc.Task` (returned as is).
      base: the folder relative file paths start from (a config file's folder).

    Returns:
      The task. A ``MODULE:NAME`` or file reference is imported once per process.

    Raises:
      TaskError: (a ``ValueError``) naming the reference and what went wrong: an unknown
        name (with close matches), a module that does not import, a missing attribute,
        an object that is not a ``mcalc.Task``.

    Example:
      >>> import mcalc
      >>> from mcalc.task import resolve_task
      >>> resolve_task("p2").title
      'P2 logistic regression + L2'
      >>> resolve_task(mcalc.tasks()["p4"]) is mcalc.tasks()["p4"]
      True
      >>> try:
      ...     resolve_task("p5")
      ... except ValueError as e:
      ...     print(f"{type(e).__name__}: {e}")
      TaskError: task must be one of p2, p3, p4, p7 or your own as MODULE:NAME or path/to/file.py:NAME; got 'p5'. (P1, P5 and P6 are derivations with no model to train.)
    """
    if isinstance(ref, Task):
        return ref
    if not isinstance(ref, str) or not ref:
        raise TaskError(
            f"a task must be a built-in task ({', '.join(BUILTIN)}), MODULE:NAME or "
            f"path/to/file.py:NAME; got {ref!r}."
        )
    if ref in BUILTIN:
        return _builtin(ref)
    with _lock:
        if ref in _loaded:
            return _loaded[ref]
    if ":" not in ref:
        close = difflib.get_close_matches(ref, list(BUILTIN), n=2)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        if ref.lower() in ("p1", "p5", "p6"):
            hint = " (P1, P5 and P6 are derivations with no model to train.)"
        raise TaskError(
            f"task must be one of {', '.join(BUILTIN)} or your own as MODULE:NAME or "
            f"path/to/file.py:NAME; got {ref!r}.{hint}"
        )
    try:
        key = _normalise(ref, base)
    except LoadError as e:
        raise TaskError(f"task {ref!r}: {e}.") from None
    with _lock:
        if key in _loaded:
            return _loaded[key]
    try:
        obj = load_object(key, what="task")
    except LoadError as e:
        raise TaskError(f"task {ref!r}: {e}.") from None
    if not isinstance(obj, Task):
        raise TaskError(
            f"task {ref!r} is a {type(obj).__name__}, not a mcalc.Task; define "
            "NAME = mcalc.Task(name=..., loss=..., init=..., predict=...) in that module."
        )
    with _lock:
        _loaded[key] = obj
        _by_object.setdefault(id(obj), key)
    return obj


def task_reference(task: Task) -> str:
    """The string a config stores for ``task``: its name if built in, else an import
    reference, else its name (remembered by this process only).

    Args:
      task: a built-in task or a user's :class:`mcalc.Task`.

    Returns:
      ``"p2"`` for a built-in task; ``"pkg.module:NAME"`` (or ``"/abs/path/file.py:NAME"``)
      for a task bound to a global ``NAME`` of an importable module or file, which any
      process can load; else the task's name, which only this process knows (resuming or
      loading its runs elsewhere needs the object again).

    Raises:
      TaskError: for a task that cannot be imported and has a built-in task's name.

    Example:
      >>> import mcalc
      >>> from mcalc.task import task_reference
      >>> task_reference(mcalc.tasks()["p4"])
      'p4'
    """
    with _lock:
        if id(task) in _by_object:
            return _by_object[id(task)]
    ref = None
    for fn in (task.loss, task.init, task.predict):
        ref = reference_of(task, getattr(fn, "__module__", None))
        if ref is not None:
            break
    if ref is None:
        ref = task.name
        if ref in BUILTIN:
            raise TaskError(
                f"mcalc: {ref!r} is the name of a built-in task; give your task another name."
            )
    with _lock:
        # The object given is the one its reference means from now on in this process: a
        # notebook redefining its task (a fixed gradient, say), or a file loaded before as
        # another module (``load_run`` of a run, then ``from poisson import poisson``).
        stale = _loaded.get(ref)
        if stale is not None and stale is not task:
            _by_object.pop(id(stale), None)
        _loaded[ref] = task
        _by_object[id(task)] = ref
    if stale is not None and stale is not task and not is_portable(ref):
        warnings.warn(
            f"mcalc: task {ref!r} is redefined in this process; configs naming {ref!r} now "
            "mean the new definition.",
            stacklevel=3,
        )
    return ref


def is_portable(ref: str) -> bool:
    """Whether another process can load the task from ``ref`` alone."""
    return ref in BUILTIN or ":" in ref
