"""All built-in derivations, by name."""

from __future__ import annotations

from .._registry import Registry
from . import (
    _p1_trace,
    _p2_logistic,
    _p3_bipolar,
    _p4_gaussian,
    _p5_frobenius,
    _p6_quadratic,
    _p7_resnet,
)
from ._derivation import Derivation

_MODULES = (
    _p1_trace,
    _p2_logistic,
    _p3_bipolar,
    _p4_gaussian,
    _p5_frobenius,
    _p6_quadratic,
    _p7_resnet,
)


def derivations() -> Registry[Derivation]:
    """Every built-in derivation, in problem order (P1 .. P7): iterate over it, or index it by name.

    Each :class:`Derivation` carries its function ``f``, closed-form gradient
    ``grad``, the argument ``argnum`` it differentiates, a sampler of valid random
    inputs of random sizes, and LaTeX formulas of the function and the gradient.
    :func:`mcalc.verify` checks them all.

    Returns:
      A registry: a tuple of the records that also reads like a dict
      (``reg["name"]``, ``"name" in reg``, ``keys()``, ``values()``, ``items()``).

    Example:
      >>> import mcalc
      >>> [d.name for d in mcalc.derivations()][:2]
      ['trace_power_k0', 'trace_power_k1']
      >>> d = mcalc.derivations()["quadratic_form"]
      >>> d.problem, d.grad_formula
      ('P6', '(X + X^\\\\top)\\\\,w')
    """
    return Registry((d for module in _MODULES for d in module.DERIVATIONS), what="derivation")
