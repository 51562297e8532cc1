"""Say *how* a claimed derivative is wrong, in one sentence.

The everyday mistakes of hand derivations, tried from the most specific to the
least (``c`` is the claimed derivative, ``r`` the float64 reference, over all
the points where the check failed):

1. wrong shape or structure (a transposed shape included);
2. right in float64 but not in float32 (a numerically unstable formula); NaN/Inf in
   the claimed derivative; disagreement with finite differences only;
3. ``c = α r`` or ``c = α rᵀ`` for one constant ``α``: a sign, a factor, a transpose
   (for a Hessian in a matrix ``X``: the transpose of one pair of ``X``'s indices);
4. second order only: a Hessian that is not symmetric (and by how much); a missing
   or extra multiple of the identity (``c - r = β I``, or ``β v`` for ``H v``: the
   ``2λI`` of a penalty);
5. right once every square matrix argument is symmetrised (``2Xw`` for ``wᵀXw``);
6. ``c - r = β a`` for an argument ``a`` of the same shape: a missing or extra term
   (a forgotten ``2λw``);
7. second order only: symmetric positive semi-definite where the true Hessian is
   indefinite: the Gauss-Newton part alone;
8. right at the given point, wrong at the random points near it (saying which
   non-differentiated arguments moved there, and how to hold them);
9. otherwise: where the error concentrates (rows, columns, the diagonal, a leaf).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np

from ._evaluation import Context, Evaluation, Point, Wording
from ._points import dtype_of, is_floating, symmetrise
from ._report import format_index

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


def _join(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _who(w: Wording, leaves: list[str], names: list[str]) -> str:
    if w.kind == "vjp":
        return "the cotangent for " + _join(leaves)
    if w.kind == "jvp":
        return "the tangent of " + _join(leaves)
    return _join(leaves) if len(names) > 1 else w.claimed()


def diagnose(ctx: Context, evals: list[Evaluation]) -> str:
    w = ctx.wording
    shape = [e for e in evals if e.status == "shape"]
    if shape:
        return shape[0].message + "." if shape[0].message else _shape(shape[0], w)
    conclusive = [e for e in evals if e.status in ("pass", "fail")]
    if not conclusive:
        if any(e.status == "inconclusive" for e in evals):
            return (
                f"every point is too ill-conditioned to judge in this dtype: {w.ref} computed in "
                f"float32 itself drifts by more than 10 % of the {w.noun} there; check in float64 "
                "or at better-conditioned points."
            )
        return (
            f"f or {w.ref_call.format(f='f')} is not finite (NaN/Inf) at any of the points: they "
            "lie outside f's domain or f is not differentiable there; pass a sampler= that draws "
            "valid points."
        )
    failing = [e for e in conclusive if e.status == "fail"]
    for e in failing:
        if e.message:
            return e.message + "."
    unstable = _unstable(failing, w)
    if unstable:
        return unstable
    for e in failing:
        for i, c in enumerate(e.claimed):
            bad = ~np.isfinite(c)
            if bad.any():
                idx = tuple(int(k) for k in np.argwhere(bad)[0])
                return (
                    f"{w.claimed()} is NaN/Inf at {format_index(e.names[i], idx)} "
                    f"(point {e.point.index}) where {w.ref} is finite ({e.ref[i][idx]:.6g})."
                )
    jax_failing = [e for e in failing if not e.jax_ok]
    if not jax_failing:
        return _fd_only(failing, w)
    if all(e.fd_ok and not e.ref_fd_ok for e in jax_failing):
        return (
            f"{w.claimed()} agrees with finite differences but not with {w.ref}, which "
            "itself disagrees with them: f's autodiff is suspect (a custom_jvp/custom_vjp or "
            "stop_gradient?)."
        )

    bad = sorted({i for e in jax_failing for i, ok in enumerate(e.leaf_ok) if not ok})
    names = jax_failing[0].names
    findings: dict[int, str] = {}
    prefix: dict[int, str] = {}  # a Hessian's asymmetry, said before what else is wrong
    whole: set[str] = set()  # findings about the claimed operator as a whole, not its leaves
    second = w.kind in ("hessian", "hvp")
    for i in bad:
        found = _zero(jax_failing, i, w) or _factor(jax_failing, i, w)
        if not found and second:
            found = _identity(jax_failing, i, w)
            if not found:
                asym = _asymmetric(ctx, jax_failing, w)
                if asym and asym[1]:
                    found = asym[0]
                    whole.add(found)
                elif asym:
                    prefix[i] = asym[0] + "; besides, "
        if found:
            findings[i] = found
    rest = [i for i in bad if i not in findings]
    if rest:
        sym = _symmetric(ctx, jax_failing, rest, w)
        if sym:
            for i in rest:
                findings[i] = sym
            rest = []
    for i in list(rest):
        found = _term(jax_failing, i, w)
        if found:
            findings[i] = found
            rest.remove(i)
    if rest and second:
        gn = _gauss_newton(ctx, jax_failing, w)
        if gn:
            whole.add(gn)
            for i in rest:
                findings[i] = gn
            rest = []
    if rest:
        given = evals[0] if evals[0].point.kind == "given" and evals[0].status == "pass" else None
        if given is not None:
            sentence = _given_only(ctx, given, conclusive, failing)
            for i in rest:
                findings[i] = sentence
            rest = []
    for i in rest:
        findings[i] = _concentration(jax_failing, i, w)
    for i, p in prefix.items():
        findings[i] = p + findings[i].replace("{leaf}", "it", 1)

    parts = []
    seen = set()
    for i in bad:
        text = findings[i]
        if text in seen:
            continue
        seen.add(text)
        leaves = [names[j] for j in bad if findings[j] == text]
        if text in whole:
            parts.append(text.replace("{leaf}", w.claimed()))
            continue
        if len(leaves) > 1:  # "params['W0'] and params['W1'] are ..."
            for one, many in (("is", "are"), ("misses", "miss"), ("has", "have")):
                text = text.replace(f"{{leaf}} {one} ", f"{{leaf}} {many} ")
        parts.append(text.replace("{leaf}", _who(w, leaves, names)))
    sentence = "; ".join(parts)
    good = [n for j, n in enumerate(names) if j not in bad]
    if good and len(names) > 1:
        sentence += f" ({', '.join(good)} {'is' if len(good) == 1 else 'are'} right)"
    return sentence + "."


# ---------------------------------------------------------------------------


def _shape(e: Evaluation, w: Wording) -> str:
    noun = w.noun
    rule = (
        "a Hessian has shape arg.shape + arg.shape (or [n, n] for n entries)"
        if w.kind == "hessian"
        else f"a {noun} has the shape of its argument"
    )
    if e.structure:
        return f"wrong shape: {e.structure}; a {noun} has the structure and shape of its argument."
    for i, (cs, s) in enumerate(zip(e.claimed_shapes, e.shapes, strict=True)):
        if cs == s:
            continue
        name, c, r = e.names[i], e.claimed[i], e.ref[i] if e.ref else np.zeros(s)
        head = f"wrong shape: {w.claimed()} in {name} has shape {_shape_text(cs)}"
        if w.kind == "hessian":
            return f"{head}, but {rule}: {_shape_text(s)} for {name}."
        tol = _loose_tol(e, i) if e.ref else 0.0
        close = bool(e.ref) and _close(c.size == r.size, c, r, tol)
        if len(cs) == 2 and len(s) == 2 and cs == s[::-1]:
            tail = (
                f", and transposed back it agrees with {w.ref}"
                if e.ref and _close(True, c.T, r, tol)
                else ""
            )
            return (
                f"{head}, the transpose of {name}'s shape {_shape_text(s)}: off by a transpose "
                f"({rule}){tail}."
            )
        if len(s) == 1 and cs == (s[0], s[0]):
            return (
                f"{head}, a matrix where {name} has shape {_shape_text(s)}: a column vector plus "
                "a row vector (e.g. Xw + wᵀX with 2-D vectors) broadcasts to a matrix."
            )
        vector = len(s) == 1 and len(cs) == 2 and 1 in cs and c.size == r.size
        if len(cs) > len(s) and cs[len(cs) - len(s) :] == s and not vector:
            tail = f", and without it the values agree with {w.ref}" if close else ""
            return (
                f"{head} where {name} has shape {_shape_text(s)}: an extra leading axis (a "
                f"{noun} per sample? sum over the samples){tail}."
            )
        if c.size == r.size:
            what = ""
            if vector:
                kind = "column" if cs[1] == 1 else "row"
                what = f": a {kind} vector where a 1-D array belongs"
            tail = f", and reshaped it agrees with {w.ref}" if close else ""
            return f"{head} where {name} has shape {_shape_text(s)}{what}{tail}."
        return f"{head}, but {rule}: {name} is {_shape_text(s)}."
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


def _fd_only(failing: list[Evaluation], w: Wording) -> str:
    worst = max(e.fd_rel for e in failing)
    if any(not e.ref_fd_ok for e in failing):
        return (
            f"{w.claimed()} agrees with {w.ref}, but both disagree with finite differences "
            f"(relative error up to {worst:.1e}): f may be non-differentiable near the points "
            "checked, or define its own derivative (custom_jvp/custom_vjp, stop_gradient)."
        )
    return (
        f"{w.claimed()} is within tolerance of {w.ref} but not of finite differences "
        f"(relative error up to {worst:.1e}); loosen rtol or check at better-conditioned points."
    )


def _unstable(failing: list[Evaluation], w: Wording) -> str | None:
    """Right in float64, wrong in the caller's lower precision: a numerically unstable formula."""
    if not failing or "float64" in failing[0].claimed_dtype:
        return None
    worst64 = 0.0
    for e in failing:
        if not e.claimed64 or len(e.claimed64) != len(e.ref):
            return None
        for c64, r, s, tol in zip(e.claimed64, e.ref, e.scale, e.tol, strict=True):
            if c64.shape != r.shape or not np.all(np.isfinite(c64)):
                return None
            err = float(np.max(np.abs(c64 - r), initial=0.0))
            # Against finite differences alone, "right in float64" means within their bound.
            if err > (tol if w.fd_only else 1e-9 * s) + 1e-300:
                return None
            worst64 = max(worst64, err / s if s else 0.0)
    worst = max(max(e.rel(i) for i in range(len(e.err))) for e in failing)
    off = f"is off by {worst:.1e}" if math.isfinite(worst) else "gives NaN/Inf"
    return (
        f"the formula is right (computed in float64 it agrees with {w.ref} to {worst64:.1e}), "
        f"but computed in {failing[0].claimed_dtype} it {off}, far beyond {w.ref}'s own "
        "rounding: a numerically unstable formulation (cancellation, or an overflowing "
        "intermediate such as exp of a large number)."
    )


def _zero(evs: list[Evaluation], i: int, w: Wording) -> str | None:
    if all(np.max(np.abs(e.claimed[i]), initial=0.0) <= e.tol[i] for e in evs):
        if w.kind == "vjp":
            return (
                "{leaf} is zero where finite differences are not: the backward rule returns a "
                "zero cotangent for it"
            )
        if w.kind == "jvp":
            return "{leaf} is zero where finite differences are not: the rule drops this tangent"
        return f"{{leaf}} is zero where {w.ref} is not (a term or the whole derivative is missing)"
    return None


def _transforms(w: Wording, r0: np.ndarray, block: tuple[int, int] | None = None):
    """The transposes a claimed derivative may be off by: ``(description, T)``."""
    out = []
    if w.kind == "hessian" and r0.ndim == 4:  # the Hessian of a matrix X: [a, b, c, d]
        if r0.shape[0] == r0.shape[1] > 1:
            out.append(("[b, a, c, d]", lambda a: a.transpose(1, 0, 2, 3)))
            out.append(("[a, b, d, c]", lambda a: a.transpose(0, 1, 3, 2)))
            out.append(("[b, a, d, c]", lambda a: a.transpose(1, 0, 3, 2)))
        return out
    if block is not None:  # a VJP/JVP block [out..., in...]: transpose a square matrix half
        n_out, n_in = block
        shape = r0.shape
        if n_in == 2 and shape[n_out] == shape[n_out + 1] > 1:
            axes = list(range(n_out)) + [n_out + 1, n_out]
            out.append(("input", lambda a, ax=axes: a.transpose(ax)))
        if n_out == 2 and shape[0] == shape[1] > 1:
            axes = [1, 0] + list(range(2, 2 + n_in))
            out.append(("output", lambda a, ax=axes: a.transpose(ax)))
        return out
    if r0.ndim == 2 and r0.shape[0] == r0.shape[1] > 1 and w.kind != "hessian":
        out.append(("transpose", lambda a: a.T))
    return out


def _factor(evs: list[Evaluation], i: int, w: Wording) -> str | None:
    """``c = α T(r)`` with one ``α`` for all points, ``T`` the identity or a transpose."""
    r0 = evs[0].ref[i]
    block = evs[0].point.blocks
    transforms = [("identity", lambda a: a)] + _transforms(
        w, r0, block[i] if block is not None else None
    )
    for kind, T in transforms:
        num = sum(float(np.vdot(e.claimed[i], T(e.ref[i]))) for e in evs)
        den = sum(float(np.vdot(T(e.ref[i]), T(e.ref[i]))) for e in evs)
        if den == 0:
            continue
        alpha = num / den
        if kind == "identity" and abs(alpha - 1) < 1e-6:
            continue
        if all(_fits(e, i, alpha * T(e.ref[i])) for e in evs):
            return _factor_sentence(kind, alpha, w)
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
                    f"claimed = c × {w.ref} with c depending on the inputs' sizes or values "
                    "(a mean where a sum is meant?)"
                )
    return None


def _fits(e: Evaluation, i: int, model: np.ndarray) -> bool:
    return bool(np.max(np.abs(e.claimed[i] - model), initial=0.0) <= _SLACK * e.tol[i])


def _factor_sentence(kind: str, alpha: float, w: Wording) -> str:
    a, ref = _num(alpha), w.ref
    if kind == "identity":
        if a == "-1":
            return f"{{leaf}} is off by a sign: claimed = -1 × {ref} at every point"
        if alpha < 0:
            return (
                f"{{leaf}} is off by a sign and a constant factor: claimed = {a} × {ref} "
                "at every point"
            )
        return f"{{leaf}} is off by a constant factor of {a}: claimed = {a} × {ref} at every point"
    if kind.startswith("["):  # a Hessian in a matrix: one or both index pairs transposed
        factor = "" if a == "1" else f"{a} × "
        pairs = "both index pairs" if kind == "[b, a, d, c]" else "one index pair"
        return (
            f"{{leaf}} is off by a transpose of {pairs}: claimed[a, b, c, d] = {factor}{ref}"
            f"{kind} at every point (a derivative in Xᵀ where X is meant, or back)"
        )
    if kind in ("input", "output"):
        side = "input's" if kind == "input" else "output's"
        factor = "" if a == "1" else f" and a factor of {a}"
        return f"{{leaf}} is off by a transpose of the {side} two axes{factor} at every point"
    if a == "1":
        return f"{{leaf}} is off by a transpose: claimed = ({ref})ᵀ at every point"
    if a == "-1":
        return f"{{leaf}} is off by a transpose and a sign: claimed = -({ref})ᵀ at every point"
    return (
        f"{{leaf}} is off by a transpose and a constant factor of {a}: claimed = {a} × "
        f"({ref})ᵀ at every point"
    )


def _symmetric(ctx: Context, evs: list[Evaluation], leaves: list[int], w: Wording) -> str | None:
    """Re-check at symmetrised inputs: right there and wrong at general ones -> symmetric-only."""
    names: list[str] = []
    for e in evs[:2]:
        pt = e.point
        args, sym_names = symmetrise(pt.spec, pt.args)
        if not sym_names:
            return None
        names += [n for n in sym_names if n not in names]
        again = ctx.evaluate(
            Point(pt.index, "symmetrised", args, pt.spec, pt.programs, pt.extra, (), (), pt.blocks)
        )
        if again.status not in ("pass", "fail") or not all(again.leaf_ok[i] for i in leaves):
            return None
    listed = ", ".join(names)
    return (
        f"{{leaf}} is right only for symmetric inputs: it agrees with {w.ref} once {listed} "
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


def _fit_term(evs: list[Evaluation], i: int, arrays: list[np.ndarray]) -> tuple[float, float]:
    """``β`` minimising ``c - r - β a`` over the points, and the worst residual / tolerance."""
    R = [e.claimed[i] - e.ref[i] for e in evs]
    den = sum(float(np.vdot(a, a)) for a in arrays)
    if den == 0:
        return 0.0, math.inf
    beta = sum(float(np.vdot(r, a)) for r, a in zip(R, arrays, strict=True)) / den
    resid = max(
        float(np.max(np.abs(r - beta * a), initial=0.0)) / (e.tol[i] or math.inf)
        for r, a, e in zip(R, arrays, evs, strict=True)
    )
    return beta, resid


def _term(evs: list[Evaluation], i: int, w: Wording) -> str | None:
    """``c - r = β a`` for an argument ``a``: a missing (β < 0) or extra (β > 0) term."""
    best = None
    for cand in _candidates(evs, evs[0].ref[i].shape):
        beta, resid = _fit_term(evs, i, cand.arrays)
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
            f"{{leaf}} misses a term proportional to {arg}: claimed - {w.ref} = {b} × {arg} at "
            f"every point (a forgotten {_num(-beta)}·{arg}{hint})"
        )
    return (
        f"{{leaf}} has an extra term proportional to {arg}: claimed - {w.ref} = {b} × {arg} at "
        "every point"
    )


def _identity(evs: list[Evaluation], i: int, w: Wording) -> str | None:
    """``c - r = β I`` (a Hessian) or ``β v`` (a Hessian-vector product): the ``2λI`` of a penalty."""
    if w.kind == "hessian":  # the points may differ in size (a sampler)
        arrays = [np.eye(int(np.sqrt(e.ref[i].size))).reshape(e.ref[i].shape) for e in evs]
    else:
        arrays = [
            np.asarray(jax.tree_util.tree_leaves(e.point.extra[0])[i], np.float64) for e in evs
        ]
    beta, resid = _fit_term(evs, i, arrays)
    if resid > _SLACK or beta == 0:
        return None
    b = _num(beta)
    seen = f"claimed - {w.ref} = {b} × " + ("I" if w.kind == "hessian" else "v")
    x = evs[0].point.spec.wrt_name
    if beta < 0:
        return (
            f"{{leaf}} misses a multiple of the identity: {seen} at every point (a forgotten "
            f"{_num(-beta)}·I, like the 2λI of a penalty λ‖{x}‖² with λ = {_num(-beta / 2)})"
        )
    return f"{{leaf}} has an extra multiple of the identity: {seen} at every point ({b}·I too many)"


def _asymmetric(ctx: Context, evs: list[Evaluation], w: Wording) -> tuple[str, bool] | None:
    """A claimed Hessian (or HVP operator) that is not symmetric: ``(sentence, symmetric part right)``."""
    worst, sym_ok = None, True
    for e in evs:
        mats = ctx.matrices(e)
        if mats is None:
            return None
        C, R = mats
        asym = np.abs(C - C.T)
        scale = float(np.max(np.abs(R), initial=0.0)) or 1.0
        tol = _matrix_tol(e, scale)
        if float(np.max(asym, initial=0.0)) <= _SLACK * tol:
            return None if worst is None else (worst[0], sym_ok)
        sym_ok &= bool(np.max(np.abs((C + C.T) / 2 - R), initial=0.0) <= _SLACK * tol)
        j, k = np.unravel_index(int(np.argmax(asym)), asym.shape)
        if worst is None or asym[j, k] / scale > worst[1]:
            worst = (None, float(asym[j, k] / scale), int(j), int(k), float(asym[j, k]), e)
    _, rel, j, k, value, e = worst
    what = "the claimed Hessian" if w.kind == "hessian" else "the operator v ↦ claimed(v)"
    text = (
        f"{{leaf}} is not symmetric: max |H - Hᵀ| = {value:.3g} ({rel:.0%} of the largest entry "
        f"of {w.ref}) at [{j}, {k}] (point {e.point.index}), where a Hessian of a smooth f is "
        "symmetric"
    )
    if w.kind == "hvp":
        text = text.replace("{leaf} is not symmetric", f"{{leaf}} is not symmetric as {what}")
    if sym_ok:
        text += "; its symmetric part (H + Hᵀ)/2 is right"
    return text, sym_ok


def _matrix_tol(e: Evaluation, scale: float) -> float:
    """A tolerance for entries of the rebuilt matrices: the leaf's, else sqrt(eps) of the scale."""
    if e.point.programs is not None and len(e.tol) == 1 and e.ref and e.ref[0].ndim >= 2:
        return e.tol[0]
    return max(float(np.max(e.tol, initial=0.0)), 1e-7 * scale)


def _gauss_newton(ctx: Context, evs: list[Evaluation], w: Wording) -> str | None:
    """Symmetric positive semi-definite where the true Hessian is indefinite: ``JᵀJ`` alone."""
    lowest = None
    for e in evs:
        mats = ctx.matrices(e)
        if mats is None:
            return None
        C, R = mats
        scale = float(np.max(np.abs(R), initial=0.0)) or 1.0
        tol = _SLACK * _matrix_tol(e, scale)
        if float(np.max(np.abs(C - C.T), initial=0.0)) > tol:
            return None
        c_min = float(np.linalg.eigvalsh((C + C.T) / 2)[0])
        r_min = float(np.linalg.eigvalsh((R + R.T) / 2)[0])
        if c_min < -tol * C.shape[0]:
            return None
        if r_min < -tol * R.shape[0] and (lowest is None or r_min < lowest[0]):
            lowest = (r_min, c_min, e.point.index)
    if lowest is None:
        return None
    r_min, c_min, index = lowest
    return (
        "{leaf} looks like the Gauss-Newton part alone: it is symmetric positive semi-definite "
        f"at every point, where the true Hessian is indefinite (smallest eigenvalue {r_min:.3g} "
        f"at point {index}, {c_min:.3g} claimed): the JᵀJ-type term is there, the second-order "
        "term of the residuals (Σ rᵢ ∇²rᵢ) is missing"
    )


def _given_only(
    ctx: Context, given: Evaluation, conclusive: list[Evaluation], failing: list[Evaluation]
) -> str:
    """Right at the given point only; which non-differentiated arguments moved, how to hold them.

    Each argument that is not differentiated but moved is put back as given at a failing
    point: the ones that make the check pass there are named, with the ``fixed=`` that holds
    them (else every one that moved).
    """
    w = ctx.wording
    n_near = sum(1 for e in conclusive if e.point.kind != "given")
    head = (
        f"{{leaf}} is right at the given point but wrong elsewhere: it agrees with {w.ref} "
        f"at the arguments given but not at {len(failing)} of {n_near} random points near them"
    )
    pt = failing[0].point
    wrt = set(failing[0].names)
    others = [
        n for n in pt.perturbed if n not in wrt and not any(n.startswith(x + "[") for x in wrt)
    ]
    tail = (
        ", so the formula holds only at special inputs like these (zeros, a symmetric or "
        "diagonal matrix, ...)"
    )
    if not others:
        return head + tail
    where = dict(pt.spec.arg_leaf_names(pt.args))
    positions = sorted({where[n] for n in others})
    culprits = []
    for p in positions:
        args = tuple(given.point.args[i] if i == p else a for i, a in enumerate(pt.args))
        again = ctx.evaluate(dataclasses.replace(pt, kind="near", args=args))
        if again.status == "pass":
            culprits.append(p)
    if culprits:
        names = [n for n in others if where[n] in culprits]
        them = "it" if len(names) == 1 else "them"
        return (
            f"{head}, where {', '.join(names)}, not differentiated, moved too, and held as given "
            f"{'it passes' if len(names) == 1 else 'each passes'} there: if the formula assumes "
            f"something of {them} (labels, one-hot rows, a symmetric or normalised matrix), "
            f"hold {them} with fixed={tuple(culprits)}"
        )
    them = "it" if len(others) == 1 else "them"
    return (
        f"{head}, where {', '.join(others)}, not differentiated, moved too: if the formula "
        f"assumes something of {them}, hold {them} as given with fixed={tuple(positions)}; "
        "otherwise it holds only at special inputs like the given ones"
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


def _concentration(evs: list[Evaluation], i: int, w: Wording) -> str:
    e = max(evs, key=lambda ev: ev.rel(i))
    err = np.where(np.isfinite(e.err[i]), e.err[i], 0.0)
    c, r = e.claimed[i].ravel(), e.ref[i].ravel()
    norm = float(np.linalg.norm(c) * np.linalg.norm(r))
    cosine = f"cosine similarity with {w.ref} {float(c @ r) / norm:.2f}, " if norm > 0 else ""
    signs = r != 0
    flipped = int(np.sum(np.sign(c[signs]) != np.sign(r[signs])))
    explained = "no transpose, sign, constant factor, symmetric-input shortcut or missing term"
    if w.kind in ("hessian", "hvp"):
        explained = (
            "no transpose, sign, constant factor, multiple of the identity, symmetric-input "
            "shortcut, missing term or Gauss-Newton shortcut"
        )
    head = (
        f"{{leaf}} is wrong ({cosine}wrong sign in {flipped} of {int(signs.sum())} entries) and "
        f"{explained} explains it"
    )
    total = float(err.sum())
    if total == 0 or err.size <= 1:
        return head
    if err.ndim == 4 and err.shape[:2] == err.shape[2:]:
        n = int(np.sqrt(err.size))
        err = err.reshape(n, n)
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
