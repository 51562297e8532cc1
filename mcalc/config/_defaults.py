"""The embedded default config of a task: what ``mcalc train <task>`` and ``mcalc run`` train.

Each task carries its own (:attr:`mcalc.Task.defaults`, in the task's file) and
``configs/<task>.yaml`` mirrors each built-in one field by field (a test checks that
they resolve to the same config). Each built-in default trains on the task's real
data in a few seconds.
"""

from __future__ import annotations

from typing import Any

from ._schema import Config

__all__ = ["default_config"]


def default_config(task: Any) -> Config:
    """The embedded default :class:`Config` of ``task``.

    Args:
      task: a built-in task's name (``"p2"``, ``"p3"``, ``"p4"``, ``"p7"``), a reference
        ``MODULE:NAME`` / ``path/to/file.py:NAME``, or a :class:`mcalc.Task`.

    Returns:
      A fresh :class:`Config` (safe to modify).

    Raises:
      ConfigError: (a ``ValueError``) for a task that does not resolve.

    Example:
      >>> import mcalc
      >>> mcalc.default_config("p4").data.source
      'diabetes'
    """
    from ..task import Task
    from ._load import ConfigError, load_config

    if not isinstance(task, str | Task):
        raise ConfigError(
            "mcalc.default_config: task must be a task name such as 'p2', a MODULE:NAME "
            f"reference or a mcalc.Task; got {type(task).__name__}."
        )
    return load_config(task)
