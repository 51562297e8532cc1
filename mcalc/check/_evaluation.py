"""What the checking engine computes at one point, and the words it reports it in.

The types shared by the engine (``_check``), the references it compares with
(``_programs`` for JAX, ``_host`` for NumPy and PyTorch, ``_rules`` for custom
differentiation rules) and the diagnosis (``_diagnose``), in a module of their
own so that none of those imports another's internals.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Protocol

import jax.numpy as jnp
import numpy as np

from ._points import ArgSpec

__all__ = ["Point", "Evaluation", "Wording", "Context", "eps", "rtol_for_eps"]


def eps(dtype: Any) -> float:
    """Machine epsilon of a floating dtype (``bfloat16`` included)."""
    return float(jnp.finfo(dtype).eps)


def rtol_for_eps(e: float) -> float:
    """The default relative tolerance for a claimed derivative computed with epsilon ``e``.

    ``1e-9`` for float64, ``2e-5`` for float32 (about 170 ulps: room for a different
    order of summation), ``sqrt(eps)`` for 16-bit floats.
    """
    if e <= 1e-15:
        return 1e-9
    if e <= 1e-6:
        return 2e-5
    return float(np.sqrt(e))


@dataclasses.dataclass(frozen=True)
class Wording:
    """How a check names what it compares, in its report and diagnosis.

    Attributes:
      kind: ``"gradient"``, ``"hessian"``, ``"hvp"``, ``"vjp"`` or ``"jvp"``.
      function: the public function, e.g. ``"check_grad"``.
      noun: what is claimed, e.g. ``"gradient"``, ``"Hessian"``.
      ref: the reference as a diagnosis names it, e.g. ``"jax.grad"``,
        ``"jax.hessian"``, ``"torch.autograd"``, ``"finite differences"``.
      ref_call: the reference applied to ``f`` in the report's first line, with
        ``{f}`` for the function's name, e.g. ``"jax.grad({f})"``.
      fd_only: the reference is finite differences (``f`` is not differentiable
        by autodiff here).
    """

    kind: str
    function: str
    noun: str
    ref: str
    ref_call: str
    fd_only: bool = False

    def claimed(self) -> str:
        """``"the claimed gradient"``, ``"the claimed Hessian"``, ..."""
        if self.kind == "vjp":
            return "the reverse-mode derivative JAX uses (its backward rules)"
        if self.kind == "jvp":
            return "the forward-mode derivative JAX uses (its tangent rules)"
        return f"the claimed {self.noun}"


@dataclasses.dataclass
class Point:
    """One point of a check: the arguments (host arrays in the caller's dtypes) and how to run there.

    Attributes:
      index: the point's number (0 is the given point when arguments were given).
      kind: ``"given"``, ``"near"``, ``"sampled"`` or ``"symmetrised"``.
      args: the positional arguments.
      spec: how they split into differentiated, traced and static ones.
      programs: the reference's runner for this point (JAX programs or host calls).
      extra: further inputs of the claimed derivative after ``args`` (the
        direction ``v`` of a Hessian-vector product), host arrays.
      perturbed: names of the array leaves moved away from the given arguments.
      held: names of traced, non-differentiated leaves kept as given (labels, integers, ``fixed=``).
      blocks: for a check of a differentiation rule, per compared leaf (a block of the
        Jacobian ``[*out_shape, *in_shape]``): ``(out_ndim, in_ndim)``.
    """

    index: int
    kind: str
    args: tuple
    spec: ArgSpec
    programs: Any
    extra: tuple = ()
    perturbed: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    blocks: tuple[tuple[int, int], ...] | None = None


@dataclasses.dataclass
class Evaluation:
    """Everything computed at one point (host float64 copies), for the verdict and the diagnosis."""

    point: Point
    status: str
    names: list[str]
    shapes: list[tuple[int, ...]]
    claimed: list[np.ndarray] = dataclasses.field(default_factory=list)
    claimed_shapes: list[tuple[int, ...]] = dataclasses.field(default_factory=list)
    claimed_dtype: str = ""
    claimed_dtypes: list[str] = dataclasses.field(default_factory=list)  # per leaf
    ref: list[np.ndarray] = dataclasses.field(default_factory=list)
    scale: list[float] = dataclasses.field(default_factory=list)
    tol: list[float] = dataclasses.field(default_factory=list)
    err: list[np.ndarray] = dataclasses.field(default_factory=list)
    leaf_ok: list[bool] = dataclasses.field(default_factory=list)
    fd_ok: bool = True
    fd_rel: float = math.nan
    ref_fd_ok: bool = True
    ref_fd_rel: float = math.nan
    claimed64: list[np.ndarray] = dataclasses.field(default_factory=list)  # claimed in float64
    fd_skipped: int = 0  # finite differences skipped: f not smooth on the scale of the step
    structure: str = ""  # set when the claimed tree's structure differs
    screened: bool = False  # compared along random directions only (it passed there)
    screen_rel: float = math.nan  # the relative error along those directions
    message: str = ""  # a failure found before any comparison (a rule that raised)

    @property
    def jax_ok(self) -> bool:
        """Within tolerance of the reference, leaf by leaf."""
        return all(self.leaf_ok)

    def rel(self, i: int) -> float:
        if self.screened:
            return self.screen_rel
        e = float(np.max(self.err[i])) if self.err[i].size else 0.0
        s = self.scale[i]
        return e / s if s > 0 else (0.0 if e == 0 else math.inf)

    def worst(self) -> tuple[int, tuple[int, ...], float]:
        """(leaf, index, err/tol) of the entry furthest outside its tolerance."""
        best = (0, (), -1.0)
        for i, e in enumerate(self.err):
            if not e.size:
                continue
            j = int(np.argmax(e))
            tol = self.tol[i]
            ratio = float(e.flat[j]) / tol if tol > 0 else (math.inf if e.flat[j] > 0 else 0.0)
            if ratio > best[2]:
                best = (i, tuple(int(k) for k in np.unravel_index(j, e.shape)), ratio)
        return best


class Context(Protocol):
    """What the diagnosis may ask of the engine that produced the evaluations."""

    wording: Wording

    def evaluate(self, pt: Point) -> Evaluation:
        """The full comparison at ``pt`` (entry by entry, never screened)."""

    def matrices(self, ev: Evaluation) -> tuple[np.ndarray, np.ndarray] | None:
        """For a second-order check: the claimed and the reference Hessian at ``ev``'s point
        as ``[n, n]`` matrices, or ``None`` when they cannot be had cheaply."""
