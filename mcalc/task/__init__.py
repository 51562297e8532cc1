"""Trainable problems: the public :class:`Task` API and the built-in tasks defined with it.

- :class:`Task` describes a problem: loss, closed-form gradient (or ``None`` for
  ``jax.grad``), initial parameters, predictions, label kind, hyperparameters with
  their ranges (:class:`Hyper`), metrics, and optional capabilities (a penalty, a
  closed-form optimum, exact :class:`Solver` s, a Hessian, a :class:`Reference` fit,
  a synthetic-data generator, an embedded default config).
- :func:`tasks` lists the built-in ones (P2, P3, P4, P7), each defined in its own file
  ``_p<k>_*.py`` with this same API; nothing outside that file branches on its name.
- :func:`resolve_task` finds the task a config names (``p2``, ``MODULE:NAME`` or
  ``path/to/file.py:NAME``).
"""

from ._resolve import TaskError as TaskError
from ._resolve import resolve_task as resolve_task
from ._resolve import task_reference as task_reference
from ._resolve import tasks as tasks
from ._task import LABEL_KINDS as LABEL_KINDS
from ._task import Hyper as Hyper
from ._task import Reference as Reference
from ._task import Solution as Solution
from ._task import Solver as Solver
from ._task import Task as Task
