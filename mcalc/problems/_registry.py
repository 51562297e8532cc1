"""All built-in derivations, by name."""

from __future__ import annotations

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


def derivations() -> dict[str, Derivation]:
    """Every built-in derivation, keyed by name, in problem order (P1 .. P7).

    Each :class:`Derivation` carries its function ``f``, closed-form gradient
    ``grad``, the argument ``argnum`` it differentiates, a sampler of valid random
    inputs of random sizes, and LaTeX formulas of the function and the gradient.
    :func:`mcalc.verify` checks them all; iterate the dict for the names, or its
    ``.values()`` for the records.

    Returns:
      A new ``dict`` from each derivation's name to its :class:`Derivation`.

    Example:
      >>> import mcalc
      >>> list(mcalc.derivations())[:3]
      ['trace_power_k0', 'trace_power_k1', 'trace_power_k2']
      >>> d = mcalc.derivations()["quadratic_form"]
      >>> d.problem, d.grad_formula
      ('P6', '(X + X^\\\\top)\\\\,w')
    """
    out: dict[str, Derivation] = {}
    for module in _MODULES:
        for d in module.DERIVATIONS:
            out[d.name] = d
    return out
