"""The gradient checker: a claimed gradient against float64 ``jax.grad`` and finite differences.

One engine for the whole project: ``mcalc.check_grad`` for users, ``mcalc
verify`` for the built-in derivations, and mcalc's own tests.

How a point is judged (per differentiated leaf, errors scale-aware)::

    err   = max |claimed - ref64|                  ref64 = jax.grad(f) in float64
    scale = max |ref64|
    tol   = atol + rtol * scale + SAFETY * drift   drift = max |ref_low - ref64| * eps_c / eps_low

``ref_low`` is ``jax.grad(f)`` computed in float32 at the same point: how far a
correct gradient legitimately drifts from the float64 one there (large at
ill-conditioned points, e.g. a matrix inverse), rescaled to the claimed
gradient's precision ``eps_c``. A claimed gradient within a tolerance whose
drift allowance exceeds 10 % of the scale cannot be called right: that point is
too ill-conditioned to judge in this dtype and is reported as inconclusive.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _diagnose
from ._points import (
    ArgSpec,
    cast_floats,
    dtype_of,
    float_leaves,
    is_floating,
    make_spec,
    perturb,
    promote_floats,
    to_host,
)
from ._programs import Programs, x64
from ._report import GradCheckReport, LeafResult, TrialResult

__all__ = ["check_grad", "assert_grad", "default_rtol"]

_FN = "mcalc.check_grad"
_SAFETY = 20.0  # how much further than float32 jax.grad a correct closed form may drift
_INCONCLUSIVE = 0.1  # ... unless that allowance exceeds 10 % of the gradient's scale
_REL_STEP = 0.1  # random points move by 10 % of each argument's scale
_FD_FULL_MAX = 256  # entries up to which every entry gets its own central difference
_FD_DIRECTIONS = 8  # random directional derivatives for larger arguments


def _eps(dtype: Any) -> float:
    return float(jnp.finfo(dtype).eps)


def default_rtol(dtype: Any) -> float:
    """The default relative tolerance for a claimed gradient of this dtype.

    ``1e-9`` for float64, ``2e-5`` for float32 (about 170 ulps: room for a
    different order of summation), ``sqrt(eps)`` for 16-bit floats. On top of it
    the check allows for the measured ill-conditioning of the point (see module
    docs).

    Example:
      >>> from mcalc.check import default_rtol
      >>> default_rtol("float32"), default_rtol("float64")
      (2e-05, 1e-09)
    """
    return _rtol_for_eps(_eps(dtype))


# ---------------------------------------------------------------------------
# One point


@dataclasses.dataclass
class Point:
    index: int
    kind: str  # "given" | "near" | "sampled" | "symmetrised"
    args: tuple  # host arrays in the caller's dtypes
    spec: ArgSpec
    programs: Programs


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
    ref: list[np.ndarray] = dataclasses.field(default_factory=list)
    scale: list[float] = dataclasses.field(default_factory=list)
    tol: list[float] = dataclasses.field(default_factory=list)
    err: list[np.ndarray] = dataclasses.field(default_factory=list)
    leaf_ok: list[bool] = dataclasses.field(default_factory=list)
    fd_ok: bool = True
    fd_rel: float = math.nan
    ref_fd_ok: bool = True
    ref_fd_rel: float = math.nan
    claimed64: list[np.ndarray] = dataclasses.field(default_factory=list)  # grad_f in float64
    fd_skipped: int = 0  # finite differences skipped: f not smooth on the scale of the step
    structure: str = ""  # set when the claimed tree's structure differs

    @property
    def jax_ok(self) -> bool:
        return all(self.leaf_ok)

    def rel(self, i: int) -> float:
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


class Checker:
    """Runs the check at points and keeps what the diagnosis needs."""

    def __init__(self, f, grad_f, *, rtol, atol, fd: bool, seed: int):
        self.f, self.grad_f = f, grad_f
        self.rtol, self.atol, self.fd = rtol, atol, fd
        self.seed = seed
        self._signatures: dict[tuple, float] = {}  # arg shapes -> eps of f's float64 output

    # -- programs -------------------------------------------------------------------

    def programs(self, spec: ArgSpec, args: tuple) -> Programs:
        return Programs(self.f, self.grad_f, spec, spec.static_values(args), self.fd)

    def _validate_output(self, pt: Point, x, dyn, x64_x, x64_dyn, where: str) -> float:
        sig = (pt.spec, jax.tree_util.tree_structure((x, dyn)), _shapes_dtypes((x, dyn)))
        if sig in self._signatures:
            return self._signatures[sig]
        has64 = _has64((x, dyn))
        try:
            with x64(has64):
                out = pt.programs.output(x, dyn)
        except Exception as e:
            e.add_note(f"{_FN}: raised by f at {where}.")
            raise
        if not isinstance(out, jax.ShapeDtypeStruct):
            raise ValueError(
                f"{_FN}: f must return a scalar; got {type(out).__name__} "
                f"{jax.tree_util.tree_structure(out)} at {where}. jax.grad differentiates scalar "
                "functions: return only the loss (auxiliary outputs are not supported)."
            )
        if out.shape != ():
            raise ValueError(
                f"{_FN}: f must return a scalar (shape ()); got shape {out.shape} at {where}. "
                "jax.grad differentiates scalar functions: reduce the output (e.g. jnp.sum) or "
                "check one output at a time."
            )
        if not is_floating(out.dtype):
            raise TypeError(f"{_FN}: f must return a real floating scalar; got dtype {out.dtype}.")
        with x64(True):
            out64 = pt.programs.output(x64_x, x64_dyn)
        eps_f = max(_eps(out64.dtype), _eps(np.float64))
        self._signatures[sig] = eps_f
        return eps_f

    # -- one point ------------------------------------------------------------------

    def evaluate(self, pt: Point) -> Evaluation:
        spec, args = pt.spec, pt.args
        x, dyn = spec.split(args)
        names = spec.leaf_names(x)
        shapes = [tuple(np.shape(a)) for a in jax.tree_util.tree_leaves(x)]
        where = _where(pt)
        x64_x, x64_dyn = cast_floats((x, dyn), np.float64)
        eps_f = self._validate_output(pt, x, dyn, x64_x, x64_dyn, where)
        has64 = _has64((x, dyn))

        # Float64: jax.grad, finite differences, and the claimed gradient, in one program.
        rng = np.random.default_rng([self.seed, pt.index, 7])
        P, units, D = _fd_steps(x64_x, eps_f, rng) if self.fd else (np.zeros((0, 0)), None, None)
        with x64(True):
            try:
                value, ref, fs, claimed64 = pt.programs.bundle(x64_x, x64_dyn, P)
            except Exception as e:
                raise _attribute(e, pt.programs, x64_x, x64_dyn, where, "in float64") from None
            value, fs = float(value), np.asarray(fs)
            ref = [np.asarray(r, np.float64) for r in jax.tree_util.tree_leaves(ref)]
            claimed64_leaves = [np.asarray(c) for c in jax.tree_util.tree_leaves(claimed64)]
        # The caller's dtype (float32 for float64 callers): grad_f as the caller runs it, and
        # jax.grad there, whose drift from float64 measures the conditioning of the point.
        x_low, dyn_low = cast_floats((x, dyn), np.float32) if has64 else (x, dyn)
        try:
            claimed_low, low = pt.programs.low(x_low, dyn_low)
        except Exception as e:
            raise _attribute(e, pt.programs, x_low, dyn_low, where, "") from None
        claimed = claimed64 if has64 else claimed_low

        ev = Evaluation(pt, "pass", names, shapes)
        c_leaves, c_def = jax.tree_util.tree_flatten(claimed)
        if c_def != jax.tree_util.tree_structure(x):
            ev.status = "shape"
            ev.structure = (
                f"the claimed gradient is {_describe_tree(claimed)} but the gradient in "
                f"{spec.wrt_name} is {_describe_tree(x)}"
            )
            return ev
        ev.claimed_shapes = [tuple(np.shape(c)) for c in c_leaves]
        ev.claimed_dtype = ", ".join(sorted({str(dtype_of(c)) for c in c_leaves}))
        ev.claimed = [np.asarray(c, dtype=np.float64) for c in c_leaves]
        ev.claimed64 = [np.asarray(c, dtype=np.float64) for c in claimed64_leaves]
        ev.ref = ref
        if ev.claimed_shapes != shapes:
            ev.status = "shape"
            return ev
        low_leaves = [np.asarray(a, np.float64) for a in jax.tree_util.tree_leaves(low)]
        low_dtypes = [dtype_of(a) for a in jax.tree_util.tree_leaves(low)]
        if not math.isfinite(value) or not all(np.isfinite(r).all() for r in ev.ref):
            ev.status = "invalid"
            return ev

        # jax.grad vs claimed, leaf by leaf.
        in_leaves = float_leaves([args[i] for i in spec.argnums + spec.dyn_pos])
        eps_in = max((_eps(a.dtype) for a in in_leaves), default=_eps(np.float64))
        adaptive = self.rtol is None and self.atol is None
        ev.scale = [float(np.max(np.abs(r))) if r.size else 0.0 for r in ev.ref]
        global_scale = max(ev.scale, default=0.0)
        ill_conditioned = []
        for i, (c, r) in enumerate(zip(ev.claimed, ev.ref, strict=True)):
            c_dtype = dtype_of(c_leaves[i])
            eps_c = max(_eps(c_dtype) if is_floating(c_dtype) else eps_in, eps_in)
            rtol = _rtol_for_eps(eps_c) if self.rtol is None else self.rtol
            atol = eps_c * global_scale if self.atol is None else self.atol
            noise = 0.0
            if adaptive:
                drift = np.abs(low_leaves[i] - r)
                drift = float(np.max(drift[np.isfinite(drift)], initial=0.0))
                noise = _SAFETY * drift * eps_c / _eps(low_dtypes[i])
            err = np.array(np.abs(c - r))  # an array even for a 0-d argument (a scalar)
            err[~np.isfinite(c)] = np.inf
            tol = atol + rtol * ev.scale[i] + noise
            ev.err.append(err)
            ev.tol.append(tol)
            ev.leaf_ok.append(bool(np.max(err, initial=0.0) <= tol))
            ill_conditioned.append(ev.scale[i] > 0 and noise > _INCONCLUSIVE * ev.scale[i])

        if self.fd:
            _compare_fd(ev, fs, P, units, D, eps_f)
        if not ev.jax_ok:
            ev.status = "fail"  # wrong even allowing for the conditioning of the point
        elif any(ill_conditioned):
            ev.status = "inconclusive"  # within an allowance too wide to call it right
        elif not ev.fd_ok:
            ev.status = "fail"
        return ev


def _rtol_for_eps(eps: float) -> float:
    if eps <= 1e-15:
        return 1e-9
    if eps <= 1e-6:
        return 2e-5
    return float(np.sqrt(eps))


def _attribute(error: Exception, programs: Programs, x, dyn, where: str, how: str) -> Exception:
    """``f`` and ``grad_f`` run in one program: find out which one raised, and say so."""
    suffix = f" {how}" if how else ""
    try:
        programs.claimed(x, dyn)
    except Exception as e:
        e.add_note(f"{_FN}: raised by grad_f at {where}{suffix}.")
        return e
    error.add_note(f"{_FN}: raised by f or jax.grad(f) at {where}{suffix}.")
    return error


def _where(pt: Point) -> str:
    return {
        "given": "the given arguments",
        "near": f"point {pt.index} (a random point near the given arguments)",
        "sampled": f"point {pt.index} (drawn by the sampler)",
        "symmetrised": "the symmetrised arguments",
    }[pt.kind]


def _has64(tree) -> bool:
    return any(a.dtype == np.float64 for a in float_leaves(tree))


def _shapes_dtypes(tree) -> tuple:
    return tuple((np.shape(a), str(dtype_of(a))) for a in jax.tree_util.tree_leaves(tree))


def _describe_tree(tree) -> str:
    leaves = jax.tree_util.tree_leaves(tree)
    if isinstance(tree, dict):
        return f"a dict with keys {sorted(tree, key=str)}"
    if isinstance(tree, list | tuple):
        return f"a {type(tree).__name__} of {len(tree)}"
    if len(leaves) == 1 and jax.tree_util.treedef_is_leaf(jax.tree_util.tree_structure(tree)):
        return f"an array of shape {tuple(np.shape(leaves[0]))}"
    return f"a pytree {jax.tree_util.tree_structure(tree)}"


def _leaf_scales(x64_x) -> list[float]:
    leaves = jax.tree_util.tree_leaves(x64_x)
    rms = [float(np.sqrt(np.mean(np.square(a)))) if a.size else 0.0 for a in leaves]
    nonzero = [s for s in rms if s > 0]
    fallback = float(np.exp(np.mean(np.log(nonzero)))) if nonzero else 1.0
    return [s or fallback for s in rms], leaves


def _pow2(h: np.ndarray) -> np.ndarray:
    return 2.0 ** np.round(np.log2(h))


def _fd_steps(x64_x, eps_f: float, rng: np.random.Generator):
    """Central-difference directions and steps: ``(P, units, D)``.

    ``D`` (rows) are the directions: every unit vector for arguments of up to
    ``_FD_FULL_MAX`` entries, else ``_FD_DIRECTIONS`` random directions. Each
    direction gets two steps, the rows of ``P = [units_long * D; units_short * D]``:
    ``eps_f^(1/5)`` times the entry's scale, optimal for the Richardson-extrapolated
    difference ``(4 D(h) - D(2h)) / 3`` (truncation ``O(h^4)``, rounding
    ``O(eps_f / h)``), and a short one, ``eps_f^(1/3)`` times it, which stays clear
    of a nearby singularity (an ill-conditioned matrix). An entry's scale is its
    magnitude, at least its leaf's RMS (1 % of it for the short step); steps are
    powers of two.
    """
    scales, leaves = _leaf_scales(x64_x)
    n = sum(a.size for a in leaves)
    long, short = eps_f**0.2, eps_f ** (1 / 3)
    if n <= _FD_FULL_MAX:
        mag = [np.abs(a).ravel() for a in leaves]
        s_long = np.concatenate([np.maximum(a, sc) for a, sc in zip(mag, scales, strict=True)])
        s_short = np.concatenate(
            [np.maximum(a, 0.01 * sc) for a, sc in zip(mag, scales, strict=True)]
        )
        units = np.concatenate([_pow2(long * s_long), _pow2(short * s_short)])
        D = np.eye(n)
    else:
        D = np.concatenate(
            [
                sc * rng.standard_normal((_FD_DIRECTIONS, a.size))
                for a, sc in zip(leaves, scales, strict=True)
            ],
            axis=1,
        )
        units = np.repeat([long, short], _FD_DIRECTIONS)
    return np.concatenate([D, D]) * units[:, None], units, D


def _compare_fd(ev: Evaluation, fs: np.ndarray, P: np.ndarray, units, D, eps_f: float) -> None:
    """The claimed gradient (and jax.grad) against finite differences along the rows of ``D``."""
    m2 = P.shape[0]
    fp, fm, f2p, f2m = fs[:m2], fs[m2 : 2 * m2], fs[2 * m2 : 3 * m2], fs[3 * m2 :]
    d1 = (fp - fm) / 2
    d2 = (f2p - f2m) / 4
    est = (4 * d1 - d2) / 3 / units  # ≈ <grad, D_k>, truncation error O(h^4)
    # |D(h) - D(2h)| bounds the truncation error; the rest is rounding in f.
    rounding = 4 * eps_f * (np.abs(fp) + np.abs(fm) + np.abs(f2p) + np.abs(f2m))
    err = (np.abs(d1 - d2) + rounding) / units
    c = np.concatenate([a.ravel() for a in ev.claimed])
    r = np.concatenate([a.ravel() for a in ev.ref])
    sizes = [a.size for a in ev.ref]
    tol = np.repeat(np.asarray(ev.tol), sizes)
    scale = np.repeat(np.asarray(ev.scale), sizes)
    tiny = np.finfo(np.float64).tiny
    absD = np.abs(D)
    full = D.shape[0] == D.shape[1] and np.array_equal(D, np.eye(D.shape[0]))
    denom = scale if full else absD @ np.abs(r)  # scale-aware, as against jax.grad
    denom = np.maximum(denom, tiny)
    # D(h) and D(2h) far apart: f is not smooth on the scale of that step (a kink, a
    # singularity within reach), and the difference says nothing.
    smooth = np.abs(d1 - d2) <= 0.01 * np.maximum(np.abs(d1), np.abs(d2)) + rounding
    m = m2 // 2
    # The long step is the accurate one where f is smooth on its scale; it must also agree
    # with the short one, which sees f on a scale about 100 times finer.
    agree = np.abs(est[:m] - est[m:]) <= err[:m] + err[m:] + 1e-9 * denom
    use_long = smooth[:m] & (agree | ~smooth[m:])
    fd = np.where(use_long, est[:m], est[m:])
    fd_err = np.where(use_long, err[:m], err[m:])
    usable = use_long | smooth[m:]
    ev.fd_skipped = int(np.sum(~usable))
    bound = fd_err + max(1e-7, 1e3 * eps_f**0.8) * denom
    claimed_tol = tol if full else absD @ tol
    diff = np.abs(D @ c - fd) if np.all(np.isfinite(c)) else np.full(m, np.inf)
    diff[~usable] = 0.0
    ev.fd_ok = bool(np.all(diff <= claimed_tol + bound))
    ev.fd_rel = float(np.max(diff / denom, initial=0.0))
    rdiff = np.where(usable, np.abs(D @ r - fd), 0.0)
    ev.ref_fd_ok = bool(np.all(rdiff <= bound + 8 * _eps(np.float64) * denom))
    ev.ref_fd_rel = float(np.max(rdiff / denom, initial=0.0))


# ---------------------------------------------------------------------------
# The public functions


def _sampler_call(sampler: Callable, key: jax.Array, dtype: Any) -> tuple:
    try:
        params = inspect.signature(sampler).parameters.values()
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        takes_dtype = len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)
    except (TypeError, ValueError):
        takes_dtype = True
    with x64(np.dtype(dtype) == np.float64):
        out = sampler(key, dtype) if takes_dtype else sampler(key)
        out = to_host(out)
    if not isinstance(out, tuple):
        out = (out,)
    return out


def check_grad(
    f: Callable[..., Any],
    grad_f: Callable[..., Any],
    *args: Any,
    argnum: int | Sequence[int] = 0,
    trials: int = 5,
    seed: int = 0,
    sampler: Callable[..., Any] | None = None,
    dtype: Any = None,
    fixed: Sequence[int] = (),
    rtol: float | None = None,
    atol: float | None = None,
    fd: bool = True,
) -> GradCheckReport:
    """Check a claimed gradient ``grad_f`` of a scalar function ``f`` against float64 ``jax.grad``.

    .. math:: \\text{grad\\_f}(x_1, \\dots, x_n) \\overset{?}{=}
              \\frac{\\partial f(x_1, \\dots, x_n)}{\\partial x_{\\text{argnum}}}

    Where it looks: at ``args`` as given, and at ``trials - 1`` random points of
    the same shapes and dtypes near them (each floating argument moved by 10 %
    of its own scale, so a well-conditioned matrix stays well-conditioned, and a
    formula right only at a special point -- a symmetric matrix, zeros -- does
    not pass); or at points drawn by ``sampler``. Seeded and reproducible.

    What it compares: the claimed gradient, computed in the caller's dtype,
    against ``jax.grad(f)`` computed in float64 whatever the global x64 setting,
    and against Richardson-extrapolated central finite differences of ``f`` in
    float64 (every entry for arguments of up to 256 entries, 8 random directional
    derivatives beyond). Errors are scale-aware: relative to the largest entry of
    each leaf of the reference. Tolerances derive from the claimed gradient's
    dtype (see :func:`mcalc.check.default_rtol`) plus an allowance for the
    measured ill-conditioning of the point; ``rtol``/``atol`` replace both.

    On failure ``report.diagnosis`` says how the gradient is wrong: a wrong
    shape (a transposed shape included), off by a transpose, a sign, a constant
    factor, right only for symmetric inputs, a missing or extra term
    proportional to an argument, right at the given point only, or where the
    error concentrates.

    Args:
      f: scalar function ``f(*args)``; JAX-traceable.
      grad_f: the claimed gradient ``grad_f(*args)``: an array shaped like
        ``args[argnum]`` (a pytree shaped like it for a pytree argument; a tuple
        for a tuple ``argnum``).
      *args: the point to check at; arrays, pytrees of arrays, or static Python
        values (ints, floats, strings: passed through unchanged). May be empty
        when ``sampler`` is given.
      argnum: the argument (or tuple of arguments) differentiated; negative
        values count from the end.
      trials: number of points, the given one included.
      seed: seeds the random points and directions.
      sampler: ``sampler(key)`` or ``sampler(key, dtype)`` returning a tuple of
        arguments: points drawn from it replace the random points near ``args``
        (use it for functions defined on a constrained set: positive definite
        matrices, labels in a set).
      dtype: the dtype passed to ``sampler`` (default: that of ``args``, else
        JAX's default float).
      fixed: argument positions kept exactly as given at every random point
        (labels, indices).
      rtol, atol: tolerances replacing the defaults.
      fd: also compare with finite differences (off: ``jax.grad`` only).

    Returns:
      A :class:`GradCheckReport`: ``.ok``, ``.diagnosis``, ``.max_rel_error``,
      ``.worst_index`` and more; ``print(report)`` shows a summary.

    Raises:
      ValueError: ``f`` does not return a scalar, ``argnum`` is out of range,
        ``trials < 1``, neither ``args`` nor ``sampler`` is given.
      TypeError: ``f``/``grad_f``/``sampler`` is not callable, or the argument
        differentiated is not floating.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> X = jnp.array([[1.0, 2.0], [0.0, 3.0]]); w = jnp.array([1.0, -1.0])
      >>> f = lambda w, X: w @ X @ w
      >>> mcalc.check_grad(f, lambda w, X: (X + X.T) @ w, w, X).ok
      True
      >>> report = mcalc.check_grad(f, lambda w, X: 2 * X @ w, w, X)
      >>> report.ok, "symmetric" in report.diagnosis
      (False, True)
    """
    for name, fn in (("f", f), ("grad_f", grad_f)):
        if not callable(fn):
            raise TypeError(f"{_FN}: {name} must be callable; got {type(fn).__name__}.")
    if sampler is not None and not callable(sampler):
        raise TypeError(f"{_FN}: sampler must be callable; got {type(sampler).__name__}.")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"{_FN}: trials must be an integer >= 1; got {trials!r}.")
    if not args and sampler is None:
        raise ValueError(
            f"{_FN}: give the arguments to check at, check_grad(f, grad_f, *args), or a "
            "sampler=lambda key: args."
        )
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if tol is not None and not (isinstance(tol, int | float) and tol >= 0):
            raise ValueError(f"{_FN}: {name} must be a number >= 0; got {tol!r}.")

    host = to_host(args)
    if dtype is None:
        floats = float_leaves(host)
        dtype = floats[0].dtype if floats else jnp.result_type(float)
    dtype = np.dtype(dtype)
    checker = Checker(f, grad_f, rtol=rtol, atol=atol, fd=fd, seed=seed)
    key = jax.random.key(seed)

    def point(index: int, kind: str, pargs: tuple) -> Point:
        pargs = promote_floats(pargs, argnum)
        spec = make_spec(_FN, f, pargs, argnum, fixed)
        return Point(index, kind, pargs, spec, checker.programs(spec, pargs))

    evals: list[Evaluation] = []
    given = point(0, "given", host) if host else None
    for t in range(trials):
        if t == 0 and given is not None:
            pt = given
        elif sampler is not None:
            pt = point(t, "sampled", _sampler_call(sampler, jax.random.fold_in(key, t), dtype))
        else:
            rng = np.random.default_rng([seed, t])
            pt = point(t, "near", perturb(given.spec, host, rng, _REL_STEP))
        ev = checker.evaluate(pt)
        evals.append(ev)
        if ev.status == "shape":
            break
    return _report(checker, evals, f, grad_f, fd)


def _name(fn: Callable) -> str:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return getattr(getattr(fn, "func", None), "__name__", name) if name == "partial" else name


def _report(checker: Checker, evals: list[Evaluation], f, grad_f, fd: bool) -> GradCheckReport:
    conclusive = [e for e in evals if e.status in ("pass", "fail")]
    shape_fail = [e for e in evals if e.status == "shape"]
    ok = bool(conclusive) and not shape_fail and all(e.status == "pass" for e in conclusive)
    trials = tuple(_trial_result(e) for e in evals)
    notes = _notes(evals)
    first = evals[0]
    spec = first.point.spec
    fd_method = "off"
    if fd:
        n = sum(int(np.prod(s)) for s in first.shapes)
        fd_method = "full" if n <= _FD_FULL_MAX else "directional"
    common = dict(
        rtol=checker.rtol if checker.rtol is not None else _rtol_for_eps(_eps(_dtype_of(evals))),
        dtype=_dtype_of(evals),
        wrt=spec.wrt_name,
        f_name=_name(f),
        grad_name=_name(grad_f),
        fd_method=fd_method,
        trials=trials,
        notes=notes,
    )
    if shape_fail or not conclusive:
        diagnosis = _capitalise(_diagnose.diagnose(checker, evals), first.names)
        return GradCheckReport(
            ok=False,
            diagnosis=diagnosis,
            max_abs_error=math.inf,
            max_rel_error=math.inf,
            fd_max_rel_error=math.inf,
            worst_leaf=first.names[0] if first.names else "",
            worst_index=(),
            claimed_value=math.nan,
            reference_value=math.nan,
            worst_trial=(shape_fail or evals)[0].point.index,
            **common,
        )
    worst_ev, (leaf, index, _) = max(((e, e.worst()) for e in conclusive), key=lambda p: p[1][2])
    max_abs = max(float(np.max(err, initial=0.0)) for e in conclusive for err in e.err)
    max_rel = max(e.rel(i) for e in conclusive for i in range(len(e.err)))
    fd_rel = max((e.fd_rel for e in conclusive), default=math.nan) if fd else math.nan
    if ok:
        n = len(conclusive)
        fd_part = " and with finite differences" if fd else ""
        diagnosis = (
            f"the claimed gradient agrees with jax.grad{fd_part} at all {n} point"
            f"{'s' if n != 1 else ''} (max relative error {max_rel:.1e})."
        )
    else:
        diagnosis = _diagnose.diagnose(checker, evals)
    diagnosis = _capitalise(diagnosis, first.names)
    return GradCheckReport(
        ok=ok,
        diagnosis=diagnosis,
        max_abs_error=max_abs,
        max_rel_error=max_rel,
        fd_max_rel_error=fd_rel,
        worst_leaf=worst_ev.names[leaf],
        worst_index=index,
        claimed_value=float(worst_ev.claimed[leaf][index]),
        reference_value=float(worst_ev.ref[leaf][index]),
        worst_trial=worst_ev.point.index,
        **common,
    )


def _capitalise(sentence: str, names: Sequence[str]) -> str:
    """Sentence case, unless the sentence starts with an argument's name (``params['W1']``)."""
    for n in names:
        rest = sentence[len(n) : len(n) + 1]
        if n and sentence.startswith(n) and not (rest.isalnum() or rest == "_"):
            return sentence
    return sentence[:1].upper() + sentence[1:]


def _dtype_of(evals: list[Evaluation]) -> str:
    for e in evals:
        if e.claimed_dtype:
            return e.claimed_dtype
    floats = float_leaves([e.point.args for e in evals[:1]])
    return str(floats[0].dtype) if floats else "float32"


def _trial_result(e: Evaluation) -> TrialResult:
    arg_shapes = {}
    for i in sorted(e.point.spec.argnums + e.point.spec.dyn_pos):
        for path, a in jax.tree_util.tree_flatten_with_path(e.point.args[i])[0]:
            arg_shapes[e.point.spec.names[i] + jax.tree_util.keystr(tuple(path))] = tuple(
                np.shape(a)
            )
    leaves = tuple(
        LeafResult(
            name=e.names[i],
            shape=e.shapes[i],
            ok=e.leaf_ok[i],
            max_abs_error=float(np.max(e.err[i], initial=0.0)),
            max_rel_error=e.rel(i),
            tolerance=e.tol[i],
        )
        for i in range(len(e.err))
    )
    if e.err:
        leaf, index, _ = e.worst()
        worst = dict(
            worst_leaf=e.names[leaf],
            worst_index=index,
            claimed_value=float(e.claimed[leaf][index]),
            reference_value=float(e.ref[leaf][index]),
            max_abs_error=max(lr.max_abs_error for lr in leaves),
            max_rel_error=max(lr.max_rel_error for lr in leaves),
        )
    else:
        worst = dict(
            worst_leaf="",
            worst_index=(),
            claimed_value=math.nan,
            reference_value=math.nan,
            max_abs_error=math.nan,
            max_rel_error=math.nan,
        )
    return TrialResult(
        index=e.point.index,
        kind=e.point.kind,
        status=e.status,
        shapes=arg_shapes,
        fd_max_rel_error=e.fd_rel,
        autodiff_fd_max_rel_error=e.ref_fd_rel,
        leaves=leaves,
        **worst,
    )


def _notes(evals: list[Evaluation]) -> tuple[str, ...]:
    notes = []
    invalid = [e for e in evals if e.status == "invalid"]
    if invalid:
        notes.append(
            f"{len(invalid)} of {len(evals)} points were skipped: f or jax.grad(f) is not finite "
            "there (outside f's domain?); pass sampler= to draw valid points."
        )
    inconclusive = [e for e in evals if e.status == "inconclusive"]
    if inconclusive:
        notes.append(
            f"{len(inconclusive)} of {len(evals)} points were too ill-conditioned to judge in "
            f"{_dtype_of(evals)} (jax.grad itself drifts by more than 10 % there); check in float64."
        )
    skipped = sum(e.fd_skipped for e in evals)
    if skipped:
        notes.append(
            f"{skipped} finite difference{'s were' if skipped != 1 else ' was'} skipped: f is not "
            "smooth on the scale of the step there (a kink or a nearby singularity)."
        )
    if any(e.point.programs.eager for e in evals):
        notes.append(
            "grad_f could not be jit-compiled (NumPy calls or Python control flow on values?); "
            "it ran eagerly."
        )
    for e in evals:
        if e.claimed_dtype and e.claimed_dtype != str(_arg_dtype(e)) and _arg_dtype(e) is not None:
            notes.append(
                f"the claimed gradient has dtype {e.claimed_dtype} but the argument is "
                f"{_arg_dtype(e)}: the caller's dtype is not kept."
            )
            break
    return tuple(notes)


def _arg_dtype(e: Evaluation):
    x, _ = e.point.spec.split(e.point.args)
    dtypes = {str(a.dtype) for a in float_leaves(x)}
    return dtypes.pop() if len(dtypes) == 1 else None


def assert_grad(f: Callable[..., Any], grad_f: Callable[..., Any], *args: Any, **kwargs: Any):
    """Like :func:`check_grad`, but raise ``AssertionError`` when the gradient is wrong.

    The error's message is the report's text, and the report itself is attached
    as ``error.report``. Returns the report when the check passes.

    Raises:
      AssertionError: the claimed gradient disagrees with ``jax.grad``.

    Example:
      >>> import jax.numpy as jnp, mcalc
      >>> A = jnp.array([[1.0, 2.0], [3.0, 4.0]])
      >>> _ = mcalc.assert_grad(lambda X: jnp.trace(A @ X), lambda X: A.T, jnp.eye(2))
    """
    report = check_grad(f, grad_f, *args, **kwargs)
    if not report.ok:
        error = AssertionError(str(report))
        error.report = report
        raise error
    return report
