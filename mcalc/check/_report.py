"""What a gradient check found: per leaf, per point, and overall."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

__all__ = ["LeafResult", "TrialResult", "GradCheckReport", "format_index"]

# kind -> (the public function, the JAX reference applied to f)
_HEADS = {
    "gradient": ("check_grad", "jax.grad({f})"),
    "hessian": ("check_hessian", "jax.hessian({f})"),
    "hvp": ("check_hvp", "jvp(jax.grad({f}))"),
    "vjp": ("check_vjp", "finite differences of {f}"),
    "jvp": ("check_jvp", "finite differences of {f}"),
}


def format_index(name: str, index: tuple[int, ...]) -> str:
    """``X`` and ``(2, 0)`` -> ``X[2, 0]``; a scalar leaf is just its name."""
    return f"{name}[{', '.join(str(i) for i in index)}]" if index else name


def _e(x: float) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1e}"


def _g(x: float) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6g}"


@dataclasses.dataclass(frozen=True)
class LeafResult:
    """One differentiated array at one point.

    Attributes:
      name: e.g. ``"X"`` or ``"params['W1']"``.
      shape: its shape.
      ok: within tolerance of ``jax.grad``.
      max_abs_error: ``max |claimed - reference|`` over the leaf.
      max_rel_error: ``max_abs_error / max |reference|`` (scale-aware).
      tolerance: the absolute tolerance the leaf was held to.
    """

    name: str
    shape: tuple[int, ...]
    ok: bool
    max_abs_error: float
    max_rel_error: float
    tolerance: float


@dataclasses.dataclass(frozen=True)
class TrialResult:
    """The check at one point.

    Attributes:
      index: the point's number (0 is the given point when arguments were given).
      kind: ``"given"``, ``"near"`` (a random point near the given one) or
        ``"sampled"`` (drawn by the sampler).
      status: ``"pass"``, ``"fail"``, ``"shape"`` (the claimed gradient has the wrong
        shape or structure), ``"inconclusive"`` (the point is too ill-conditioned to
        judge in this dtype: ``jax.grad`` itself drifts too far) or ``"invalid"``
        (``f`` or ``jax.grad`` is not finite there).
      shapes: ``name -> shape`` of every array argument.
      max_abs_error, max_rel_error: against float64 ``jax.grad``.
      fd_max_rel_error: of the claimed gradient against float64 central finite
        differences (``nan`` when finite differences are off).
      autodiff_fd_max_rel_error: of ``jax.grad`` itself against the finite differences.
      worst_leaf, worst_index, claimed_value, reference_value: the entry furthest
        outside (or closest to) its tolerance.
      leaves: per-leaf results.
    """

    index: int
    kind: str
    status: str
    shapes: dict[str, tuple[int, ...]]
    max_abs_error: float
    max_rel_error: float
    fd_max_rel_error: float
    autodiff_fd_max_rel_error: float
    worst_leaf: str
    worst_index: tuple[int, ...]
    claimed_value: float
    reference_value: float
    leaves: tuple[LeafResult, ...]

    @property
    def ok(self) -> bool:
        return self.status == "pass"


@dataclasses.dataclass(frozen=True)
class GradCheckReport:
    """The verdict of :func:`mcalc.check_grad` (``check_hessian``, ``check_hvp``, ``check_vjp``,
    ``check_jvp``) on a claimed derivative.

    Errors are scale-aware: an entry's error is divided by the largest magnitude
    of its leaf of the float64 reference (so tiny entries of a large gradient do
    not produce huge relative errors), and errors are taken over every
    conclusive point.

    Attributes:
      ok: the claimed derivative agrees with the float64 reference and with
        central finite differences at every conclusive point. ``bool(report)`` is ``ok``.
      diagnosis: one sentence; on failure it says how the derivative is wrong (it
        contains "shape", "transpose", "sign" or "factor" when that is the cause).
      max_abs_error: largest ``|claimed - reference|``.
      max_rel_error: largest scale-aware relative error against the reference.
      fd_max_rel_error: the same against central finite differences.
      worst_leaf, worst_index: where the claimed derivative is furthest outside its
        tolerance (for a passing check: closest to it); ``worst_index`` indexes the leaf.
      claimed_value, reference_value: the claimed and the reference value there;
        ``worst_trial``: at which point.
      rtol: the relative tolerance (before the ill-conditioning allowance).
      dtype: the dtype the claimed derivative was computed in.
      wrt: the differentiated argument(s); ``f_name``/``grad_name``: the functions.
      fd_method: ``"full"`` (every entry), ``"directional"`` (random directional
        derivatives, for large arguments), ``"along v"`` (a Hessian-vector
        product), ``"reference"`` (finite differences are the reference itself)
        or ``"off"``.
      trials: per-point results.
      notes: anything else worth knowing (skipped points, eager fallback, ...).
      kind: what was checked: ``"gradient"``, ``"hessian"``, ``"hvp"``, ``"vjp"`` or ``"jvp"``.
      reference: what it was checked against: ``"jax.grad"``, ``"jax.hessian"``,
        ``"jax.jvp of jax.grad"``, ``"torch.autograd"`` or ``"finite differences"``.
      perturbed: the array arguments (leaves) moved at the random points near the
        given one.
      held: the traced arguments kept as given there, with why (``"y (labels)"``,
        ``"idx (integer)"``, ``"Y (fixed=)"``).
    """

    ok: bool
    diagnosis: str
    max_abs_error: float
    max_rel_error: float
    fd_max_rel_error: float
    worst_leaf: str
    worst_index: tuple[int, ...]
    claimed_value: float
    reference_value: float
    worst_trial: int
    rtol: float
    dtype: str
    wrt: str
    f_name: str
    grad_name: str
    fd_method: str
    trials: tuple[TrialResult, ...]
    notes: tuple[str, ...] = ()
    kind: str = "gradient"
    reference: str = "jax.grad"
    perturbed: tuple[str, ...] = ()
    held: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    @property
    def worst(self) -> str:
        """The worst entry as text, e.g. ``"X[2, 0]"``."""
        return format_index(self.worst_leaf, self.worst_index) if self.worst_leaf else ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite floats become ``None``)."""

        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            return v

        return clean(dataclasses.asdict(self))

    def __str__(self) -> str:
        head = "ok" if self.ok else "FAILED"
        n = len(self.trials)
        kinds = {t.kind for t in self.trials}
        if kinds == {"given"}:
            where = "the given point"
        elif "near" in kinds:
            where = f"the given point and {n - 1} random point{'s' if n != 2 else ''} near it"
        elif "given" in kinds:
            where = f"the given point and {n - 1} sampled point{'s' if n != 2 else ''}"
        else:
            where = f"{n} sampled point{'s' if n != 1 else ''}"
        function, ref_call = _HEADS.get(self.kind, _HEADS["gradient"])
        ref_call = {
            "torch.autograd": "torch.autograd({f})",
            "finite differences": "finite differences of {f}",
        }.get(self.reference, ref_call)
        lines = [
            f"{function} {head}: {self.grad_name} vs {ref_call.format(f=self.f_name)} in "
            f"{self.wrt}, {self.dtype}, at {where}",
            f"  diagnosis: {self.diagnosis}",
        ]
        if not self.ok and self.worst_leaf and not math.isnan(self.reference_value):
            lines.append(
                f"  worst:     {self.worst} at point {self.worst_trial}: claimed "
                f"{_g(self.claimed_value)}, {self.reference} {_g(self.reference_value)}"
            )
            fd = (
                ""
                if self.fd_method in ("off", "reference")
                else f", vs finite differences {_e(self.fd_max_rel_error)} ({self.fd_method})"
            )
            lines.append(
                f"  errors:    max abs {_e(self.max_abs_error)}; max rel vs {self.reference} "
                f"{_e(self.max_rel_error)}{fd}; rtol {_e(self.rtol)}"
            )
        leaf_names = [leaf.name for leaf in self.trials[0].leaves] if self.trials else []
        if len(leaf_names) > 1:
            parts = []
            for i, name in enumerate(leaf_names):
                rel = [
                    t.leaves[i].max_rel_error
                    for t in self.trials
                    if t.status in ("pass", "fail") and len(t.leaves) > i
                ]
                bad = any(
                    not t.leaves[i].ok
                    for t in self.trials
                    if t.status == "fail" and len(t.leaves) > i
                )
                shape = "x".join(map(str, self.trials[0].leaves[i].shape)) or "()"
                worst = _e(max(rel)) if rel else "nan"
                parts.append(f"{name} ({shape}) {'WRONG' if bad else 'ok'} {worst}")
            lines.append("  leaves:    " + "; ".join(parts))
        legend = {
            "pass": (".", "pass"),
            "fail": ("F", "fail"),
            "shape": ("S", "wrong shape"),
            "inconclusive": ("?", "too ill-conditioned to judge"),
            "invalid": ("x", "outside f's domain"),
        }
        marks = "".join(legend[t.status][0] for t in self.trials)
        seen = [s for s in legend if any(t.status == s for t in self.trials)]
        key = ", ".join(f"{legend[s][0]} {legend[s][1]}" for s in seen)
        lines.append(f"  points:    {marks}  ({key})")
        if self.perturbed or self.held:
            moved = ", ".join(self.perturbed) or "nothing"
            held = f"; held as given: {', '.join(self.held)}" if self.held else ""
            lines.append(f"  moved:     {moved} at the random points{held}")
        lines += [f"  note:      {note}" for note in self.notes]
        return "\n".join(lines)
