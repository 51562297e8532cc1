"""The seven problems: each function beside its closed-form gradient (``_p<k>_*.py``)."""

from ._derivation import Derivation as Derivation
from ._p1_trace import trace_power as trace_power
from ._p1_trace import trace_power_grad as trace_power_grad
from ._p2_logistic import logistic_l2 as logistic_l2
from ._p2_logistic import logistic_l2_grad as logistic_l2_grad
from ._p2_logistic import logistic_l2_hessian as logistic_l2_hessian
from ._p3_bipolar import bipolar_sigmoid as bipolar_sigmoid
from ._p3_bipolar import bipolar_squared as bipolar_squared
from ._p3_bipolar import bipolar_squared_grad as bipolar_squared_grad
from ._p4_gaussian import LeastSquaresResult as LeastSquaresResult
from ._p4_gaussian import RankDeficientWarning as RankDeficientWarning
from ._p4_gaussian import gaussian_nll as gaussian_nll
from ._p4_gaussian import gaussian_nll_grad as gaussian_nll_grad
from ._p4_gaussian import least_squares as least_squares
from ._p5_frobenius import frobenius as frobenius
from ._p5_frobenius import frobenius_grad as frobenius_grad
from ._p6_quadratic import quadratic_form as quadratic_form
from ._p6_quadratic import quadratic_form_grad as quadratic_form_grad
from ._p6_quadratic import quadratic_form_grad_X as quadratic_form_grad_X
from ._p7_resnet import resnet_forward as resnet_forward
from ._p7_resnet import resnet_grad as resnet_grad
from ._p7_resnet import resnet_grad_h as resnet_grad_h
from ._p7_resnet import resnet_init as resnet_init
from ._p7_resnet import resnet_loss as resnet_loss
from ._registry import derivations as derivations
