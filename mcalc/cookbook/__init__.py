"""The verified matrix cookbook: identities people look up, executable and checked.

Each entry is a scalar function beside its closed-form derivative in the layout
``jax.grad`` returns (the gradient has the argument's shape, ``[∂f/∂A]_ij =
∂f/∂A_ij``), the conditions it needs with a sampler of valid inputs, the LaTeX of
both sides, a note and a source -- and ``mcalc verify`` checks every one against
``jax.grad`` and finite differences, in float32 and float64, at random sizes.

>>> import mcalc
>>> e = mcalc.cookbook.get("trace_AXB")
>>> e.grad_formula, e.source
('A^\\\\top B^\\\\top', 'Matrix Cookbook (2012), eq. (101)')
"""

from ._entry import CONDITIONS as CONDITIONS
from ._entry import Entry as Entry
from ._entry import Published as Published
from ._entry import Section as Section
from ._measure import check_published as check_published
from ._measure import measure as measure
from ._registry import derivations as derivations
from ._registry import entries as entries
from ._registry import get as get
from ._registry import search as search
from ._registry import sections as sections
