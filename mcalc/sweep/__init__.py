"""Sweeps: hyperparameter grids trained as one compiled program per group of shapes.

- :func:`sweep` -- what ``mcalc sweep CONFIG [key=value ...]`` does, from Python.
- :func:`load_sweep` -- a sweep file resolved into its base config and :class:`SweepSpec`.
- :class:`GroupRunner` -- the compiled ``init``/``chunk`` over a lane axis (``lax.map``
  with a side-by-side width, sharded across devices).
"""

from ..train._lanes import GroupRunner as GroupRunner
from ._run import SEED_KEYS as SEED_KEYS
from ._run import SweepResult as SweepResult
from ._run import lane_config as lane_config
from ._run import load_sweep as load_sweep
from ._run import sweep as sweep
from ._spec import SweepError as SweepError
from ._spec import SweepSpec as SweepSpec
from ._spec import expand as expand
from ._spec import parse_sweep as parse_sweep
