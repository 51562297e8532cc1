"""Say *how* a claimed gradient is wrong, in one sentence.

The everyday mistakes of hand derivations, tried from the most specific to the
least (``c`` is the claimed gradient, ``r`` the float64 ``jax.grad``, over all
the points where the check failed):

1. wrong shape or structure (a transposed shape included);
2. right in float64 but not in float32 (a numerically unstable formula); NaN/Inf in
   the claimed gradient; disagreement with finite differences only;
3. ``c = α r`` or ``c = α rᵀ`` for one constant ``α``: a sign, a factor, a transpose;
4. right once every square matrix argument is symmetrised (``2Xw`` for ``wᵀXw``);
5. ``c - r = β a`` for an argument ``a`` of the same shape: a missing or extra term
   (a forgotten ``2λw``);
6. right at the given point, wrong at the random points near it;
7. otherwise: where the error concentrates (rows, columns, the diagonal, a leaf).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import jax
import numpy as np

from ._points import dtype_of, is_floating, symmetrise
from ._report import format_index

if TYPE_CHECKING:  # pragma: no cover
    from ._check import Checker, Evaluation

__all__ = ["diagnose"]

_SLACK = 2.0  # a fitted relation holds when its residual is within twice the tolerance


def _num(a: float) -> str:
    """A fitted constant for humans: 2, -1, 0.5, 1/3 as 0.3333."""
    for q in (1, 2, 3, 4):
        p = round(a * q)
        if p and abs(a - p / q) <= 1e-4 * abs(a):
            v = p / q
            return str(int(v)) if v == int(v) else f"{v:.4g}"
    return f"{a:.4g}"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def diagnose(checker: Checker, evals: list[Evaluation]) -> str:
    shape = [e for e in evals if e.status == "shape"]
    if shape:
        return _shape(shape[0])
    conclusive = [e for e in evals if e.status in ("pass", "fail")]
    if not conclusive:
        if any(e.status == "inconclusive" for e in evals):
            return (
                "every point is too ill-conditioned to judge in this dtype: jax.grad computed in "
                "float32 itself drifts by more than 10 % of the gradient there; check in float64 "
                "or at better-conditioned points."
            )
        return (
            "f or jax.grad(f) is not finite (NaN/Inf) at any of the points: they lie outside "
            "f's domain or f is not differentiable there; pass a sampler= that draws valid points."
        )
    failing = [e for e in conclusive if e.status == "fail"]
    unstable = _unstable(failing)
    if unstable:
        return unstable
    for e in failing:
        for i, c in enumerate(e.claimed):
            bad = ~np.isfinite(c)
            if bad.any():
                idx = tuple(int(k) for k in np.argwhere(bad)[0])
                return (
                    f"the claimed gradient is NaN/Inf at {format_index(e.names[i], idx)} "
                    f"(point {e.point.index}) where jax.grad is finite ({e.ref[i][idx]:.6g})."
                )
    jax_failing = [e for e in failing if not e.jax_ok]
    if not jax_failing:
        return _fd_only(failing)
    if all(e.fd_ok and not e.ref_fd_ok for e in jax_failing):
        return (
            "the claimed gradient agrees with finite differences but not with jax.grad, which "
            "itself disagrees with them: f's autodiff is suspect (a custom_jvp/custom_vjp or "
            "stop_gradient?)."
        )

    bad = sorted({i for e in jax_failing for i, ok in enumerate(e.leaf_ok) if not ok})
    names = jax_failing[0].names
    findings: dict[int, str] = {}
    for i in bad:
        found = _zero(jax_failing, i) or _factor(jax_failing, i)
        if found:
            findings[i] = found
    rest = [i for i in bad if i not in findings]
    if rest:
        sym = _symmetric(checker, jax_failing, rest)
        if sym:
            for i in rest:
                findings[i] = sym
            rest = []
    for i in list(rest):
        found = _term(jax_failing, i)
        if found:
            findings[i] = found
            rest.remove(i)
    if rest:
        given = evals[0] if evals[0].point.kind == "given" and evals[0].status == "pass" else None
        if given is not None:
            n_near = sum(1 for e in conclusive if e.point.kind != "given")
            sentence = (
                "{leaf} is right at the given point but wrong elsewhere: it agrees with jax.grad "
                f"at the arguments given but not at {len(failing)} of {n_near} random points near "
                "them, so the formula holds only at special inputs like these (zeros, a symmetric "
                "or diagonal matrix, ...)"
            )
            for i in rest:
                findings[i] = sentence
            rest = []
    for i in rest:
        findings[i] = _concentration(jax_failing, i)

    parts = []
    seen = set()
    for i in bad:
        text = findings[i]
        if text in seen:
            continue
        seen.add(text)
        leaves = [names[j] for j in bad if findings[j] == text]
        if len(leaves) > 1:  # "params['W0'] and params['W1'] are ..."
            for one, many in (("is", "are"), ("misses", "miss"), ("has", "have")):
                text = text.replace(f"{{leaf}} {one} ", f"{{leaf}} {many} ")
        who = " and ".join(leaves) if len(names) > 1 else "the claimed gradient"
        parts.append(text.replace("{leaf}", who))
    sentence = "; ".join(parts)
    good = [n for j, n in enumerate(names) if j not in bad]
    if good and len(names) > 1:
        sentence += f" ({', '.join(good)} {'is' if len(good) == 1 else 'are'} right)"
    return sentence + "."


# ---------------------------------------------------------------------------


def _shape(e: Evaluation) -> str:
    if e.structure:
        return (
            f"wrong shape: {e.structure}; a gradient has the structure and shape of its argument."
        )
    for i, (cs, s) in enumerate(zip(e.claimed_shapes, e.shapes, strict=True)):
        if cs == s:
            continue
        name, c, r = e.names[i], e.claimed[i], e.ref[i]
        head = f"wrong shape: the claimed gradient in {name} has shape {_shape_text(cs)}"
        tol = _loose_tol(e, i)
        close = _close(c.size == r.size, c, r, tol)
        if len(cs) == 2 and len(s) == 2 and cs == s[::-1]:
            tail = (
                ", and transposed back it agrees with jax.grad" if _close(True, c.T, r, tol) else ""
            )
            return (
                f"{head}, the transpose of {name}'s shape {_shape_text(s)}: off by a transpose "
                f"(a gradient has the shape of its argument){tail}."
            )
        if len(s) == 1 and cs == (s[0], s[0]):
            return (
                f"{head}, a matrix where {name} has shape {_shape_text(s)}: a column vector plus "
                "a row vector (e.g. Xw + wᵀX with 2-D vectors) broadcasts to a matrix."
            )
        vector = len(s) == 1 and len(cs) == 2 and 1 in cs and c.size == r.size
        if len(cs) > len(s) and cs[len(cs) - len(s) :] == s and not vector:
            tail = ", and without it the values agree with jax.grad" if close else ""
            return (
                f"{head} where {name} has shape {_shape_text(s)}: an extra leading axis (a "
                f"gradient per sample? sum over the samples){tail}."
            )
        if c.size == r.size:
            what = ""
            if vector:
                kind = "column" if cs[1] == 1 else "row"
                what = f": a {kind} vector where a 1-D array belongs"
            tail = ", and reshaped it agrees with jax.grad" if close else ""
            return f"{head} where {name} has shape {_shape_text(s)}{what}{tail}."
        return f"{head}, but a gradient has the shape of its argument: {name} is {_shape_text(s)}."
    return "wrong shape."  # pragma: no cover - a shape failure has a mismatching leaf


def _loose_tol(e: Evaluation, i: int) -> float:
    """A tolerance for "agrees once reshaped": sqrt(eps) of the claimed dtype, scale-aware."""
    try:
        eps = float(np.finfo(e.claimed_dtype.split(",")[0]).eps)
    except (TypeError, ValueError):
        eps = float(np.finfo(np.float32).eps)
    return math.sqrt(eps) * float(np.max(np.abs(e.ref[i]), initial=0.0))


def _close(same_size: bool, c: np.ndarray, r: np.ndarray, tol: float) -> bool:
    if not same_size:
        return False
    return bool(np.all(np.abs(c.reshape(r.shape) - r) <= tol))


def _fd_only(failing: list[Evaluation]) -> str:
    worst = max(e.fd_rel for e in failing)
    if any(not e.ref_fd_ok for e in failing):
        return (
            f"the claimed gradient agrees with jax.grad, but both disagree with finite differences "
            f"(relative error up to {worst:.1e}): f may be non-differentiable near the points "
            "checked, or define its own derivative (custom_jvp/custom_vjp, stop_gradient)."
        )
    return (
        f"the claimed gradient is within tolerance of jax.grad but not of finite differences "
        f"(relative error up to {worst:.1e}); loosen rtol or check at better-conditioned points."
    )


def _unstable(failing: list[Evaluation]) -> str | None:
    """Right in float64, wrong in the caller's lower precision: a numerically unstable formula."""
    if not failing or "float64" in failing[0].claimed_dtype:
        return None
    worst64 = 0.0
    for e in failing:
        if not e.claimed64 or len(e.claimed64) != len(e.ref):
            return None
        for c64, r, s in zip(e.claimed64, e.ref, e.scale, strict=True):
            if c64.shape != r.shape or not np.all(np.isfinite(c64)):
                return None
            err = float(np.max(np.abs(c64 - r), initial=0.0))
            if err > 1e-9 * s + 1e-300:
                return None
            worst64 = max(worst64, err / s if s else 0.0)
    worst = max(max(e.rel(i) for i in range(len(e.err))) for e in failing)
    off = f"is off by {worst:.1e}" if math.isfinite(worst) else "gives NaN/Inf"
    return (
        f"the formula is right (computed in float64 it agrees with jax.grad to {worst64:.1e}), "
        f"but computed in {failing[0].claimed_dtype} it {off}, far beyond jax.grad's own "
        "rounding: a numerically unstable formulation (cancellation, or an overflowing "
        "intermediate such as exp of a large number)."
    )


def _zero(evs: list[Evaluation], i: int) -> str | None:
    if all(np.max(np.abs(e.claimed[i]), initial=0.0) <= e.tol[i] for e in evs):
        return "{leaf} is zero where jax.grad is not (a term or the whole derivative is missing)"
    return None


def _factor(evs: list[Evaluation], i: int) -> str | None:
    """``c = α T(r)`` with one ``α`` for all points, ``T`` the identity or the transpose."""
    r0 = evs[0].ref[i]
    transforms = [("identity", lambda a: a)]
    if r0.ndim == 2 and r0.shape[0] == r0.shape[1] > 1:
        transforms.append(("transpose", lambda a: a.T))
    for kind, T in transforms:
        num = sum(float(np.vdot(e.claimed[i], T(e.ref[i]))) for e in evs)
        den = sum(float(np.vdot(T(e.ref[i]), T(e.ref[i]))) for e in evs)
        if den == 0:
            continue
        alpha = num / den
        if kind == "identity" and abs(alpha - 1) < 1e-6:
            continue
        if all(_fits(e, i, alpha * T(e.ref[i])) for e in evs):
            return _factor_sentence(kind, alpha)
        # One relation per point, with a factor that changes: a size-dependent factor.
        alphas = []
        for e in evs:
            tr = T(e.ref[i])
            d = float(np.vdot(tr, tr))
            if d == 0 or not _fits(e, i, float(np.vdot(e.claimed[i], tr)) / d * tr):
                break
            alphas.append(float(np.vdot(e.claimed[i], tr)) / d)
        else:
            if len(alphas) > 1 and kind == "identity":
                listed = ", ".join(_num(a) for a in alphas)
                return (
                    "{leaf} is off by a factor that changes from point to point (" + listed + "): "
                    "claimed = c × jax.grad with c depending on the inputs' sizes or values "
                    "(a mean where a sum is meant?)"
                )
    return None


def _fits(e: Evaluation, i: int, model: np.ndarray) -> bool:
    return bool(np.max(np.abs(e.claimed[i] - model), initial=0.0) <= _SLACK * e.tol[i])


def _factor_sentence(kind: str, alpha: float) -> str:
    a = _num(alpha)
    if kind == "identity":
        if a == "-1":
            return "{leaf} is off by a sign: claimed = -1 × jax.grad at every point"
        if alpha < 0:
            return (
                f"{{leaf}} is off by a sign and a constant factor: claimed = {a} × jax.grad "
                "at every point"
            )
        return (
            f"{{leaf}} is off by a constant factor of {a}: claimed = {a} × jax.grad at every point"
        )
    if a == "1":
        return "{leaf} is off by a transpose: claimed = (jax.grad)ᵀ at every point"
    if a == "-1":
        return "{leaf} is off by a transpose and a sign: claimed = -(jax.grad)ᵀ at every point"
    return (
        f"{{leaf}} is off by a transpose and a constant factor of {a}: claimed = {a} × "
        "(jax.grad)ᵀ at every point"
    )


def _symmetric(checker: Checker, evs: list[Evaluation], leaves: list[int]) -> str | None:
    """Re-check at symmetrised inputs: right there and wrong at general ones -> symmetric-only."""
    from ._check import Point

    names: list[str] = []
    for e in evs[:2]:
        pt = e.point
        args, sym_names = symmetrise(pt.spec, pt.args)
        if not sym_names:
            return None
        names += [n for n in sym_names if n not in names]
        again = checker.evaluate(Point(pt.index, "symmetrised", args, pt.spec, pt.programs))
        if again.status not in ("pass", "fail") or not all(again.leaf_ok[i] for i in leaves):
            return None
    listed = ", ".join(names)
    return (
        f"{{leaf}} is right only for symmetric inputs: it agrees with jax.grad once {listed} "
        f"{'is' if len(names) == 1 else 'are'} symmetrised, but not for general {listed} (a "
        "shortcut like 2Xw for the gradient (X + Xᵀ)w of wᵀXw; keep X and Xᵀ apart)"
    )


@dataclasses.dataclass
class _Candidate:
    name: str
    arrays: list[np.ndarray]


def _candidates(evs: list[Evaluation], shape: tuple[int, ...]) -> list[_Candidate]:
    """Argument leaves of this shape (and transposes of square ones), at every failing point."""
    per_point = []
    for e in evs:
        spec, args = e.point.spec, e.point.args
        found = {}
        for pos in sorted(spec.argnums + spec.dyn_pos):
            for path, a in jax.tree_util.tree_flatten_with_path(args[pos])[0]:
                if not (is_floating(dtype_of(a)) and np.shape(a) == shape):
                    continue
                name = spec.names[pos] + jax.tree_util.keystr(tuple(path))
                a64 = np.asarray(a, np.float64)
                found[name] = a64
                if a64.ndim == 2 and a64.shape[0] == a64.shape[1] > 1:
                    found[name + "ᵀ"] = a64.T
        per_point.append(found)
    common = set(per_point[0]).intersection(*per_point[1:])
    return [_Candidate(n, [p[n] for p in per_point]) for n in per_point[0] if n in common]


def _term(evs: list[Evaluation], i: int) -> str | None:
    """``c - r = β a`` for an argument ``a``: a missing (β < 0) or extra (β > 0) term."""
    best = None
    for cand in _candidates(evs, evs[0].ref[i].shape):
        R = [e.claimed[i] - e.ref[i] for e in evs]
        den = sum(float(np.vdot(a, a)) for a in cand.arrays)
        if den == 0:
            continue
        beta = sum(float(np.vdot(r, a)) for r, a in zip(R, cand.arrays, strict=True)) / den
        resid = max(
            float(np.max(np.abs(r - beta * a), initial=0.0)) / (e.tol[i] or math.inf)
            for r, a, e in zip(R, cand.arrays, evs, strict=True)
        )
        if resid <= _SLACK and beta != 0 and (best is None or resid < best[0]):
            best = (resid, beta, cand.name)
    if best is None:
        return None
    _, beta, arg = best
    b = _num(beta)
    wrt_leaves = set(evs[0].names)
    if beta < 0:
        hint = ""
        if arg in wrt_leaves:
            lam = _num(-beta / 2)
            hint = f", like the 2λ{arg} of a penalty λ‖{arg}‖² with λ = {lam}"
        return (
            f"{{leaf}} misses a term proportional to {arg}: claimed - jax.grad = {b} × {arg} at "
            f"every point (a forgotten {_num(-beta)}·{arg}{hint})"
        )
    return (
        f"{{leaf}} has an extra term proportional to {arg}: claimed - jax.grad = {b} × {arg} at "
        "every point"
    )


def _top(mass: np.ndarray, share: float = 0.9) -> list[int]:
    order = np.argsort(mass)[::-1]
    total = float(mass.sum())
    out, acc = [], 0.0
    for j in order:
        out.append(int(j))
        acc += float(mass[j])
        if acc >= share * total:
            break
    return sorted(out)


def _concentration(evs: list[Evaluation], i: int) -> str:
    e = max(evs, key=lambda ev: ev.rel(i))
    err = np.where(np.isfinite(e.err[i]), e.err[i], 0.0)
    c, r = e.claimed[i].ravel(), e.ref[i].ravel()
    norm = float(np.linalg.norm(c) * np.linalg.norm(r))
    cosine = f"cosine similarity with jax.grad {float(c @ r) / norm:.2f}, " if norm > 0 else ""
    signs = r != 0
    flipped = int(np.sum(np.sign(c[signs]) != np.sign(r[signs])))
    head = (
        f"{{leaf}} is wrong ({cosine}wrong sign in {flipped} of {int(signs.sum())} entries) and "
        "no transpose, sign, constant factor, symmetric-input shortcut or missing term explains it"
    )
    total = float(err.sum())
    if total == 0 or err.size <= 1:
        return head
    if err.ndim == 2:
        rows, cols = err.shape
        if rows == cols > 1:
            diag = float(np.trace(err))
            if diag >= 0.9 * total:
                return head + "; the error sits on the diagonal"
            if diag <= 1e-3 * total and rows > 2:
                return head + "; the diagonal is right, the error is off the diagonal"
        top_r = _top(err.sum(axis=1))
        top_c = _top(err.sum(axis=0))
        if rows > 1 and len(top_r) <= max(1, rows // 3) and len(top_r) <= len(top_c):
            return (
                head
                + f"; the error concentrates in row{'s' if len(top_r) > 1 else ''} "
                + (", ".join(map(str, top_r)))
            )
        if cols > 1 and len(top_c) <= max(1, cols // 3):
            return (
                head
                + f"; the error concentrates in column{'s' if len(top_c) > 1 else ''} "
                + (", ".join(map(str, top_c)))
            )
    elif err.ndim == 1:
        top = _top(err)
        if len(top) <= max(1, err.size // 3):
            return (
                head
                + f"; the error concentrates in entr{'ies' if len(top) > 1 else 'y'} "
                + (", ".join(map(str, top)))
            )
    return head + "; the error is spread over its entries"
