"""``mcalc verify``: every built-in closed form against ``jax.grad`` and finite differences."""

from ._verify import VerifyResult as VerifyResult
from ._verify import VerifyRow as VerifyRow
from ._verify import latex_to_text as latex_to_text
from ._verify import verify as verify
