"""Training from configs: one run (:func:`train`), the compiled program beneath it, the driver.

- :func:`train` -- what ``mcalc train CONFIG [key=value ...]`` does, from Python.
- :class:`Program`, :func:`build_program`, :func:`make_data` -- the pure, compiled
  training program (``hyper``, ``init``, ``chunk``) that sweeps run over lanes; see
  :mod:`mcalc.train._program` for the contract, and :func:`stop_rule`, the one
  stopping rule of runs and sweep lanes.
- :func:`load_run` -- a trained model from a run (or sweep) folder, to predict with.
"""

from ._driver import Interrupted as Interrupted
from ._model import TrainedModel as TrainedModel
from ._model import load_run as load_run
from ._program import STOP_REASONS as STOP_REASONS
from ._program import Data as Data
from ._program import Program as Program
from ._program import TrainState as TrainState
from ._program import build_program as build_program
from ._program import check_task as check_task
from ._program import make_data as make_data
from ._program import stop_rule as stop_rule
from ._run import TrainResult as TrainResult
from ._run import train as train
