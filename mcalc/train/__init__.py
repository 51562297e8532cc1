"""Training from configs: one run (:func:`train`) and the compiled program beneath it.

- :func:`train` -- what ``mcalc train CONFIG [key=value ...]`` does, from Python.
- :class:`Program`, :func:`build_program`, :func:`make_data` -- the pure, compiled
  training program (``hyper``, ``init``, ``chunk``) that sweeps ``vmap`` over lanes;
  see :mod:`mcalc.train._program` for the contract.
"""

from ._program import Data as Data
from ._program import Program as Program
from ._program import TrainState as TrainState
from ._program import build_program as build_program
from ._program import make_data as make_data
from ._run import TrainResult as TrainResult
from ._run import train as train
