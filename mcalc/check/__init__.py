"""Check a hand-derived derivative against autodiff and finite differences, and say how it is wrong.

``check_grad`` is the one checking engine of mcalc: users call it on their own
derivations (JAX, NumPy/SciPy or PyTorch code), ``check_hessian`` and
``check_hvp`` on second derivatives, ``check_vjp`` and ``check_jvp`` on custom
differentiation rules; ``mcalc verify`` calls it on the built-in derivations,
and mcalc's tests call it too. ``mcalc check MODULE:F MODULE:GRAD`` runs it from
the shell.
"""

from ._check import assert_grad as assert_grad
from ._check import check_grad as check_grad
from ._check import default_rtol as default_rtol
from ._report import GradCheckReport as GradCheckReport
from ._report import LeafResult as LeafResult
from ._report import TrialResult as TrialResult
from ._rules import check_jvp as check_jvp
from ._rules import check_vjp as check_vjp
from ._second import check_hessian as check_hessian
from ._second import check_hvp as check_hvp
