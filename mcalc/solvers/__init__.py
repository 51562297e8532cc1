"""Exact solvers for the convex problems: L2-logistic regression by Newton and L-BFGS, and its λ path."""

from ._logistic import SolverResult as SolverResult
from ._logistic import default_tol as default_tol
from ._logistic import logistic_lbfgs as logistic_lbfgs
from ._logistic import logistic_newton as logistic_newton
from ._path import PathResult as PathResult
from ._path import default_batch_size as default_batch_size
from ._path import default_chains as default_chains
from ._path import logistic_path as logistic_path
