"""mcalc: a JAX functional research framework for the matrix calculus of classic ML.

The seven problems of classic ML matrix calculus as pure JAX functions, each beside its
closed-form gradient, verified against ``jax.grad`` and finite differences; and a
framework (:class:`Task`) that gives a user's own problem everything they get:
training from configs, sweeps, resuming, verification, reports and prediction.
"""

from . import cookbook as cookbook
from .check import GradCheckReport as GradCheckReport
from .check import assert_grad as assert_grad
from .check import check_grad as check_grad
from .config import Config as Config
from .config import ConfigError as ConfigError
from .config import default_config as default_config
from .config import load_config as load_config
from .data import Dataset as Dataset
from .data import load_data as load_data
from .models import ResidualNet as ResidualNet
from .problems import Derivation as Derivation
from .problems import LeastSquaresResult as LeastSquaresResult
from .problems import RankDeficientWarning as RankDeficientWarning
from .problems import bipolar_sigmoid as bipolar_sigmoid
from .problems import bipolar_squared as bipolar_squared
from .problems import bipolar_squared_grad as bipolar_squared_grad
from .problems import derivations as derivations
from .problems import frobenius as frobenius
from .problems import frobenius_grad as frobenius_grad
from .problems import gaussian_nll as gaussian_nll
from .problems import gaussian_nll_grad as gaussian_nll_grad
from .problems import least_squares as least_squares
from .problems import logistic_l2 as logistic_l2
from .problems import logistic_l2_grad as logistic_l2_grad
from .problems import logistic_l2_hessian as logistic_l2_hessian
from .problems import quadratic_form as quadratic_form
from .problems import quadratic_form_grad as quadratic_form_grad
from .problems import quadratic_form_grad_X as quadratic_form_grad_X
from .problems import resnet_forward as resnet_forward
from .problems import resnet_grad as resnet_grad
from .problems import resnet_grad_h as resnet_grad_h
from .problems import resnet_init as resnet_init
from .problems import resnet_loss as resnet_loss
from .problems import trace_power as trace_power
from .problems import trace_power_grad as trace_power_grad
from .run import RunReport as RunReport
from .run import run as run
from .solvers import PathResult as PathResult
from .solvers import SolverResult as SolverResult
from .solvers import logistic_lbfgs as logistic_lbfgs
from .solvers import logistic_newton as logistic_newton
from .solvers import logistic_path as logistic_path
from .sweep import SweepResult as SweepResult
from .sweep import sweep as sweep
from .task import Hyper as Hyper
from .task import Reference as Reference
from .task import Solution as Solution
from .task import Solver as Solver
from .task import Task as Task
from .task import tasks as tasks
from .train import Interrupted as Interrupted
from .train import TrainedModel as TrainedModel
from .train import TrainResult as TrainResult
from .train import load_run as load_run
from .train import train as train
from .verify import VerifyResult as VerifyResult
from .verify import verify as verify

# isort: split
# Second derivatives and custom rules: the checkers and the closed forms.
from .check import check_hessian as check_hessian
from .check import check_hvp as check_hvp
from .check import check_jvp as check_jvp
from .check import check_vjp as check_vjp
from .problems import bipolar_squared_hessian as bipolar_squared_hessian
from .problems import gaussian_nll_hessian as gaussian_nll_hessian
from .problems import quadratic_form_hessian as quadratic_form_hessian
from .problems import resnet_gauss_newton_hvp as resnet_gauss_newton_hvp
from .problems import resnet_hvp as resnet_hvp
from .problems import trace_power_hvp as trace_power_hvp

__version__ = "0.1.0"
