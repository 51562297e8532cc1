"""The checking engine: a claimed derivative against a float64 reference and finite differences.

One engine for the whole project: ``mcalc.check_grad`` / ``check_hessian`` /
``check_hvp`` for users, ``mcalc verify`` for the built-in derivations, and
mcalc's own tests.

The reference, by what ``f`` is written in:

* JAX: ``jax.grad`` (``jax.hessian``, forward-over-reverse ``jvp`` of
  ``jax.grad``) in float64, and finite differences as a second opinion;
* PyTorch (tensors in, a tensor out): ``torch.autograd`` in float64, and finite
  differences as a second opinion;
* anything else (NumPy, SciPy): float64 Richardson-extrapolated central finite
  differences alone (see ``_fd``).

How a point is judged (per differentiated leaf, errors scale-aware)::

    err   = max |claimed - ref64|
    scale = max |ref64|
    tol   = atol + rtol * scale + SAFETY * drift   drift = max |ref_low - ref64| * eps_c / eps_low

``ref_low`` is the autodiff reference computed in float32 at the same point: how
far a correct derivative legitimately drifts from the float64 one there (large
at ill-conditioned points, e.g. a matrix inverse), rescaled to the claimed
derivative's precision ``eps_c``. A claimed derivative within a tolerance whose
drift allowance exceeds 10 % of the scale cannot be called right: that point is
too ill-conditioned to judge in this dtype and is reported as inconclusive.
Against finite differences alone, the drift allowance is replaced by the
differences' own error bound.
"""

from __future__ import annotations

import inspect
import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _diagnose, _fd
from ._evaluation import Evaluation, Point, Wording, eps, rtol_for_eps
from ._host import HostCalls, TorchCalls, torch_autograd_works
from ._points import (
    ArgSpec,
    cast_floats,
    dtype_of,
    float_leaves,
    framework_of,
    is_floating,
    make_spec,
    perturb,
    perturbation,
    promote_floats,
    to_host,
)
from ._programs import TRACE_ERRORS, Programs, x64
from ._report import GradCheckReport, LeafResult, TrialResult

__all__ = ["check_grad", "assert_grad", "default_rtol", "run_check", "Checker"]

_SAFETY = 20.0  # how much further than float32 autodiff a correct closed form may drift
_INCONCLUSIVE = 0.1  # ... unless that allowance exceeds 10 % of the derivative's scale
_REL_STEP = 0.1  # random points move by 10 % of each argument's scale
_HOST_FULL_MAX = 4096  # entries up to which finite differences alone give the whole gradient
_HESSIAN_FULL_MAX = 128  # ... and the whole Hessian (n(n+1)/2 mixed second differences)
_SCREEN_DIRECTIONS = {"gradient": 8, "hessian": 4}  # random directions at screened points
_MATRIX_MAX = 64  # entries up to which a failing HVP is rebuilt as a matrix for the diagnosis
_CLAIM_NAMES = {
    "gradient": "grad_f",
    "hessian": "hess_f",
    "hvp": "hvp_f",
    "vjp": "the differentiation rule",
    "jvp": "the differentiation rule",
}

_ORDERS = {
    # order: (function, noun, jax reference, jax reference call)
    "gradient": ("check_grad", "gradient", "jax.grad", "jax.grad({f})"),
    "hessian": ("check_hessian", "Hessian", "jax.hessian", "jax.hessian({f})"),
    "hvp": ("check_hvp", "Hessian-vector product", "jvp(jax.grad)", "jvp(jax.grad({f}))"),
    # custom rules: the "claimed" derivative is the Jacobian JAX computes, block by block
    "vjp": ("check_vjp", "cotangent", "finite differences", "finite differences of {f}"),
    "jvp": ("check_jvp", "tangent", "finite differences", "finite differences of {f}"),
}


def default_rtol(dtype: Any) -> float:
    """The default relative tolerance for a claimed derivative of this dtype.

    ``1e-9`` for float64, ``2e-5`` for float32 (about 170 ulps: room for a
    different order of summation), ``sqrt(eps)`` for 16-bit floats. On top of it
    the check allows for the measured ill-conditioning of the point (see module
    docs).

    Example:
      >>> from mcalc.check import default_rtol
      >>> default_rtol("float32"), default_rtol("float64")
      (2e-05, 1e-09)
    """
    return rtol_for_eps(eps(dtype))


def wording(order: str, family: str) -> Wording:
    """How a check of this order against this family's reference names things."""
    function, noun, ref, call = _ORDERS[order]
    if order in ("vjp", "jvp"):
        return Wording(order, function, noun, ref, call, fd_only=True)
    if family == "torch":
        ref, call = "torch.autograd", "torch.autograd({f})"
    elif family == "numpy":
        ref, call = "finite differences", "finite differences of {f}"
    return Wording(order, function, noun, ref, call, fd_only=family == "numpy")


# ---------------------------------------------------------------------------
# One point


class Checker:
    """Runs the check at points and keeps what the diagnosis needs.

    Args:
      f, claim: the function and the claimed derivative (``claim(*args)``, or
        ``claim(*args, v)`` for a Hessian-vector product).
      order: ``"gradient"``, ``"hessian"`` or ``"hvp"``.
      family: whose reference: ``"jax"``, ``"torch"`` or ``"numpy"`` (finite
        differences alone).
      framework: what ``f`` is called with outside JAX: ``"numpy"`` or ``"torch"``.
    """

    def __init__(
        self,
        f,
        claim,
        *,
        order: str = "gradient",
        family: str = "jax",
        framework: str = "numpy",
        rtol,
        atol,
        fd: bool,
        seed: int,
        fn: str = "mcalc.check_grad",
    ):
        self.f, self.grad_f = f, claim
        self.order, self.family, self.framework = order, family, framework
        self.rtol, self.atol, self.fd = rtol, atol, fd
        self.seed, self.fn = seed, fn
        self.wording = wording(order, family)
        self.evaluations = 0  # calls of f for finite differences alone (host functions)
        self.batching = ""
        self.untraceable = ""  # why f is not JAX (the error JAX's trace raised)
        self._signatures: dict[tuple, float] = {}  # arg shapes -> eps of f's float64 output
        self._layouts = _layouts_of(f)  # arg shapes -> how a host f takes a batch
        self._matrices: dict[int, tuple] = {}  # id(evaluation) -> (it, its HVP matrices)

    # -- programs -------------------------------------------------------------------

    def programs(self, spec: ArgSpec, args: tuple):
        static = spec.static_values(args)
        if self.family == "jax":
            return Programs(self.f, self.grad_f, spec, static, self.fd, self.order)
        calls = TorchCalls if self.family == "torch" else HostCalls
        return calls(self.f, self.grad_f, spec, static, self.framework, self.order, self._layouts)

    def _validate_output(self, pt: Point, x, dyn, x64_x, x64_dyn, where: str) -> float:
        sig = (pt.spec, jax.tree_util.tree_structure((x, dyn)), _shapes_dtypes((x, dyn)))
        if sig in self._signatures:
            return self._signatures[sig]
        has64 = _has64((x, dyn))
        try:
            with x64(has64):
                out = pt.programs.output(x, dyn)
        except Exception as e:
            e.add_note(f"{self.fn}: raised by f at {where}.")
            raise
        if not isinstance(out, jax.ShapeDtypeStruct):
            raise ValueError(
                f"{self.fn}: f must return a scalar; got {type(out).__name__} "
                f"{jax.tree_util.tree_structure(out)} at {where}. jax.grad differentiates scalar "
                "functions: return only the loss (auxiliary outputs are not supported)."
            )
        if out.shape != ():
            raise ValueError(
                f"{self.fn}: f must return a scalar (shape ()); got shape {out.shape} at {where}. "
                "jax.grad differentiates scalar functions: reduce the output (e.g. jnp.sum) or "
                "check one output at a time."
            )
        if not is_floating(out.dtype):
            raise TypeError(
                f"{self.fn}: f must return a real floating scalar; got dtype {out.dtype}."
            )
        with x64(True):
            out64 = pt.programs.output(x64_x, x64_dyn)
        eps_f = max(eps(out64.dtype), eps(np.float64))
        self._signatures[sig] = eps_f
        return eps_f

    # -- one point ------------------------------------------------------------------

    def _expected(self, spec: ArgSpec, x) -> tuple[list[str], list[tuple[int, ...]]]:
        names = spec.leaf_names(x)
        shapes = [tuple(np.shape(a)) for a in jax.tree_util.tree_leaves(x)]
        if self.order == "hessian":
            return names, [shapes[0] + shapes[0]]
        return names, shapes

    def evaluate(self, pt: Point, *, screen: bool = False) -> Evaluation:
        """The check at one point; ``screen``: along random directions first (host functions)."""
        spec, args = pt.spec, pt.args
        x, dyn = spec.split(args)
        names, shapes = self._expected(spec, x)
        where = _where(pt)
        x64_x, x64_dyn = cast_floats((x, dyn), np.float64)
        eps_f = self._validate_output(pt, x, dyn, x64_x, x64_dyn, where)
        ev = Evaluation(pt, "pass", names, shapes)
        if self.family == "numpy":
            return self._evaluate_fd(ev, x, dyn, x64_x, x64_dyn, eps_f, where, screen)
        return self._evaluate_autodiff(ev, x, dyn, x64_x, x64_dyn, eps_f, where)

    def _evaluate_autodiff(self, ev, x, dyn, x64_x, x64_dyn, eps_f, where) -> Evaluation:
        pt = ev.point
        has64 = _has64((x, dyn))
        extra64 = cast_floats(pt.extra, np.float64)
        leaves64 = [np.asarray(a) for a in jax.tree_util.tree_leaves(x64_x)]
        rng = np.random.default_rng([self.seed, pt.index, 7])
        P, units, D = self._fd_plan(leaves64, extra64, eps_f, rng)
        with x64(True):
            try:
                value, ref, fs, claimed64 = pt.programs.bundle(x64_x, x64_dyn, P, extra64)
            except Exception as e:
                raise self._attribute(
                    e, pt.programs, x64_x, x64_dyn, extra64, where, "in float64"
                ) from None
            value, fs = float(value), np.asarray(fs)
            ref = [np.asarray(r, np.float64) for r in jax.tree_util.tree_leaves(ref)]
            claimed64_leaves = [np.asarray(c) for c in jax.tree_util.tree_leaves(claimed64)]
        # The caller's dtype (float32 for float64 callers): the claimed derivative as the caller
        # runs it, and the reference there, whose drift from float64 measures the conditioning
        # of the point.
        x_low, dyn_low, extra_low = (
            cast_floats((x, dyn, pt.extra), np.float32) if has64 else (x, dyn, pt.extra)
        )
        try:
            claimed_low, low = pt.programs.low(x_low, dyn_low, extra_low)
        except Exception as e:
            raise self._attribute(e, pt.programs, x_low, dyn_low, extra_low, where, "") from None
        claimed = claimed64 if has64 else claimed_low
        ev.ref = [r.reshape(s) for r, s in zip(ref, ev.shapes, strict=True)]
        if not self._structure(ev, claimed, x, claimed64_leaves):
            return ev
        low_leaves = [np.asarray(a, np.float64) for a in jax.tree_util.tree_leaves(low)]
        low_dtypes = [dtype_of(a) for a in jax.tree_util.tree_leaves(low)]
        if not math.isfinite(value) or not all(np.isfinite(r).all() for r in ev.ref):
            ev.status = "invalid"
            return ev
        low_leaves = [a.reshape(r.shape) for a, r in zip(low_leaves, ev.ref, strict=True)]
        ill = self._judge(ev, low_leaves, low_dtypes)
        if self.fd and P.shape[0]:
            self._compare_fd(ev, fs, units, D, eps_f)
        if not ev.jax_ok:
            ev.status = "fail"  # wrong even allowing for the conditioning of the point
        elif any(ill):
            ev.status = "inconclusive"  # within an allowance too wide to call it right
        elif not ev.fd_ok:
            ev.status = "fail"
        return ev

    def _fd_plan(self, leaves64, extra64, eps_f, rng):
        """Finite-difference steps for the second opinion: ``(P, units, D)``."""
        if not self.fd:
            return np.zeros((0, 0)), np.zeros(0), np.zeros((0, 0))
        if self.order != "hvp":
            if self.family == "torch":
                # Eager PyTorch pays per evaluation: beside torch.autograd, random directions
                # are second opinion enough (every unit vector took 20x gradcheck's time).
                m = _SCREEN_DIRECTIONS[self.order]
                return _fd.steps(leaves64, eps_f, rng, full_max=0, directions=m)
            return _fd.steps(leaves64, eps_f, rng)
        # Along v alone: the derivative of jax.grad(f) in direction v is H v.
        v = np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(extra64[0])])[None]
        units = np.array([eps_f**0.2, eps_f ** (1 / 3)])
        return np.concatenate([v, v]) * units[:, None], units, v

    def _structure(self, ev: Evaluation, claimed, x, claimed64_leaves) -> bool:
        """Record the claimed leaves; False (status "shape") when structure or shapes differ."""
        c_leaves, c_def = jax.tree_util.tree_flatten(claimed)
        want = (
            jax.tree_util.tree_structure(0)
            if self.order == "hessian"
            else jax.tree_util.tree_structure(x)
        )
        if c_def != want:
            ev.status = "shape"
            ev.structure = (
                f"the claimed {self.wording.noun} is {_describe_tree(claimed)} but the "
                f"{self.wording.noun} in {ev.point.spec.wrt_name} is "
                f"{_describe_tree(x) if self.order != 'hessian' else _describe_tree(np.zeros(ev.shapes[0]))}"
            )
            return False
        ev.claimed_shapes = [tuple(np.shape(c)) for c in c_leaves]
        ev.claimed_dtypes = [str(dtype_of(c)) for c in c_leaves]
        ev.claimed_dtype = ", ".join(sorted(set(ev.claimed_dtypes)))
        ev.claimed = [np.asarray(c, dtype=np.float64) for c in c_leaves]
        ev.claimed64 = [np.asarray(c, dtype=np.float64) for c in claimed64_leaves]
        if self.order == "hessian" and ev.claimed_shapes[0] != ev.shapes[0]:
            n = int(np.sqrt(np.prod(ev.shapes[0])))
            if ev.claimed_shapes[0] == (n, n):  # the [n, n] layout of a flattened argument
                ev.claimed = [c.reshape(ev.shapes[0]) for c in ev.claimed]
                ev.claimed64 = [c.reshape(ev.shapes[0]) for c in ev.claimed64 if c.size == n * n]
                return True
        if ev.claimed_shapes != ev.shapes:
            ev.status = "shape"
            return False
        return True

    def _eps_in(self, ev: Evaluation) -> float:
        spec, args = ev.point.spec, ev.point.args
        in_leaves = float_leaves([args[i] for i in spec.argnums + spec.dyn_pos])
        return max((eps(a.dtype) for a in in_leaves), default=eps(np.float64))

    def _judge(self, ev: Evaluation, low_leaves=None, low_dtypes=None, fd_bounds=None) -> list:
        """Errors and tolerances leaf by leaf; returns which leaves are too ill-conditioned."""
        eps_in = self._eps_in(ev)
        adaptive = self.rtol is None and self.atol is None
        ev.scale = [float(np.max(np.abs(r))) if r.size else 0.0 for r in ev.ref]
        global_scale = max(ev.scale, default=0.0)
        ill_conditioned = []
        for i, (c, r) in enumerate(zip(ev.claimed, ev.ref, strict=True)):
            c_dtype = ev.claimed_dtypes[i]
            eps_c = max(eps(c_dtype) if is_floating(c_dtype) else eps_in, eps_in)
            rtol = rtol_for_eps(eps_c) if self.rtol is None else self.rtol
            atol = eps_c * global_scale if self.atol is None else self.atol
            noise = 0.0
            if adaptive and low_leaves is not None:
                drift = np.abs(low_leaves[i] - r)
                drift = float(np.max(drift[np.isfinite(drift)], initial=0.0))
                noise = _SAFETY * drift * eps_c / eps(low_dtypes[i])
            if fd_bounds is not None:
                noise = float(np.max(fd_bounds[i], initial=0.0))
            err = np.array(np.abs(c - r))  # an array even for a 0-d argument (a scalar)
            err[~np.isfinite(c)] = np.inf
            tol = atol + rtol * ev.scale[i] + noise
            ev.err.append(err)
            ev.tol.append(tol)
            ev.leaf_ok.append(bool(np.max(err, initial=0.0) <= tol))
            ill_conditioned.append(
                fd_bounds is None and ev.scale[i] > 0 and noise > _INCONCLUSIVE * ev.scale[i]
            )
        return ill_conditioned

    def _compare_fd(self, ev: Evaluation, fs: np.ndarray, units, D, eps_f: float) -> None:
        """The claimed derivative (and the reference) against finite differences along ``D``."""
        n = D.shape[1]
        # Every unit vector: projections are the entries themselves (no products with D,
        # which multithreaded BLAS makes slow on a busy machine).
        full = D.shape[0] == n and np.array_equal(D, np.eye(n))
        if self.order == "gradient":
            c = np.concatenate([a.ravel() for a in ev.claimed])[:, None]
            r = np.concatenate([a.ravel() for a in ev.ref])[:, None]
            sizes = [a.size for a in ev.ref]
            tol = np.repeat(np.asarray(ev.tol), sizes)[:, None]
            scale = np.repeat(np.asarray(ev.scale), sizes)[:, None]
            if full:
                cp, rp, tp, denom = c, r, tol, scale
            else:
                cp, rp = D @ c, D @ r
                tp, denom = np.abs(D) @ tol, np.abs(D) @ np.abs(r)
        elif self.order == "hessian":  # rows: H d_k, from differences of the gradient along d_k
            C, R = (a.reshape(n, n) for a in (ev.claimed[0], ev.ref[0]))
            if full:
                cp, rp = C.T, R.T
                tp, denom = np.full(cp.shape, ev.tol[0]), np.full(cp.shape, ev.scale[0])
            else:
                cp, rp = D @ C.T, D @ R.T
                tp = ev.tol[0] * np.abs(D).sum(1, keepdims=True) * np.ones(cp.shape)
                denom = np.abs(D) @ np.abs(R).T
        else:  # hvp: one row, H v
            cp = np.concatenate([a.ravel() for a in ev.claimed])[None]
            rp = np.concatenate([a.ravel() for a in ev.ref])[None]
            sizes = [a.size for a in ev.ref]
            tp = np.repeat(np.asarray(ev.tol), sizes)[None]
            denom = np.repeat(np.asarray(ev.scale), sizes)[None]
        denom = np.maximum(denom, np.finfo(np.float64).tiny)
        fd, fd_err, usable = _fd.richardson(fs, units, eps_f, denom)
        ev.fd_skipped = int(np.sum(~usable))
        b = _fd.bound(fd_err, denom, eps_f)
        diff = np.abs(cp - fd) if np.all(np.isfinite(cp)) else np.full(fd.shape, np.inf)
        diff[~usable] = 0.0
        ev.fd_ok = bool(np.all(diff <= tp + b))
        ev.fd_rel = float(np.max(diff / denom, initial=0.0))
        rdiff = np.where(usable, np.abs(rp - fd), 0.0)
        ev.ref_fd_ok = bool(np.all(rdiff <= b + 8 * eps(np.float64) * denom))
        ev.ref_fd_rel = float(np.max(rdiff / denom, initial=0.0))

    # -- finite differences as the reference (NumPy, SciPy) ----------------------------

    def _evaluate_fd(self, ev, x, dyn, x64_x, x64_dyn, eps_f, where, screen) -> Evaluation:
        pt, calls = ev.point, ev.point.programs
        extra64 = cast_floats(pt.extra, np.float64)
        all64 = all(a.dtype == np.float64 for a in float_leaves((x, dyn, pt.extra)))
        try:
            claimed = calls.claimed(x, dyn, pt.extra)
            claimed64 = claimed if all64 else calls.claimed(x64_x, x64_dyn, extra64)
        except Exception as e:
            e.add_note(f"{self.fn}: raised by {_CLAIM_NAMES[self.order]} at {where}.")
            raise
        claimed64_leaves = [np.asarray(c) for c in jax.tree_util.tree_leaves(claimed64)]
        if not self._structure(ev, claimed, x, claimed64_leaves):
            return ev
        try:
            value = calls.value(x64_x, x64_dyn)
        except Exception as e:
            e.add_note(f"{self.fn}: raised by f at {where}.")
            raise
        if not math.isfinite(value):
            ev.status = "invalid"
            return ev
        leaves64 = [np.asarray(a, np.float64) for a in jax.tree_util.tree_leaves(x64_x)]
        n = sum(a.size for a in leaves64)
        rng = np.random.default_rng([self.seed, pt.index, 7])

        def fmany(points):
            self.evaluations += len(points)
            out = calls.f_many(x64_x, x64_dyn, points)
            self.batching = calls.batching
            return out

        c = np.concatenate([a.ravel() for a in ev.claimed])
        c_scale = _leaf_max(ev.claimed)
        eps_c = self._eps_claimed(ev)
        rtol = rtol_for_eps(eps_c) if self.rtol is None else self.rtol
        atol = eps_c * max(c_scale, default=0.0) if self.atol is None else self.atol
        slack_entries = _per_entry(ev.claimed, [atol + rtol * s for s in c_scale])
        floor = max(1e-7, 1e3 * eps_f**0.8)

        if self.order == "gradient":
            full_max = _HOST_FULL_MAX
            if screen or n > full_max:
                D = _directions(leaves64, _SCREEN_DIRECTIONS["gradient"], rng)
                absD = np.abs(D)
                slack = absD @ slack_entries + floor * (absD @ np.abs(c))
                fd, fd_err, usable, _ = _fd.host_gradient(fmany, leaves64, eps_f, D, c, slack)
                if self._screened(ev, D @ c, fd, fd_err, usable, slack, absD @ np.abs(c)):
                    return ev
                if n > full_max:
                    return self._too_large(ev, n)
            fd, fd_err, usable, _ = _fd.host_gradient(
                fmany, leaves64, eps_f, None, c, slack_entries + floor * np.abs(c)
            )
        elif self.order == "hessian":
            C = ev.claimed[0].reshape(n, n)
            if screen or n > _HESSIAN_FULL_MAX:
                D = _directions(leaves64, _SCREEN_DIRECTIONS["hessian"], rng)
                est, err, ok = self._host_hessian(fmany, leaves64, eps_f, D)
                absD = np.abs(D)
                cp = (C @ D.T).T.ravel()  # row k: C d_k, as the estimates are ordered
                denom = (np.abs(C) @ absD.T).T.ravel()
                slack = _max0(slack_entries) * np.repeat(absD.sum(1), n) + floor * denom
                if self._screened(ev, cp, est, err, ok, slack, denom):
                    return ev
                if n > _HESSIAN_FULL_MAX:
                    return self._too_large(ev, n)
            fd, fd_err, usable = self._host_hessian(fmany, leaves64, eps_f, None)
        else:
            v = np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(extra64[0])])
            fd, fd_err, usable = self._host_hvp(fmany, leaves64, eps_f, v)
        ev.ref = _unflatten_like(fd, ev.shapes)
        ev.fd_skipped = int(np.sum(~usable))
        scale = _leaf_max(ev.ref)
        bounds = _unflatten_like(
            np.where(usable, fd_err, 0.0) + floor * _per_entry(ev.ref, scale), ev.shapes
        )
        self._judge(ev, fd_bounds=bounds)
        mask = _unflatten_like(usable.astype(float), ev.shapes)
        for i, m in enumerate(mask):
            ev.err[i] = np.where(m > 0, ev.err[i], 0.0)
            ev.leaf_ok[i] = bool(np.max(ev.err[i], initial=0.0) <= ev.tol[i])
        ev.fd_ok = ev.jax_ok
        ev.fd_rel = max((ev.rel(i) for i in range(len(ev.err))), default=0.0)
        ev.status = "pass" if ev.jax_ok else "fail"
        return ev

    def _eps_claimed(self, ev: Evaluation) -> float:
        dtypes = [d for d in ev.claimed_dtypes if is_floating(d)]
        return max([eps(d) for d in dtypes] + [self._eps_in(ev)])

    def _screened(self, ev, cp, fd, fd_err, usable, slack, denom) -> bool:
        """Record a passing comparison along random directions; False when it fails there."""
        diff = np.where(usable, np.abs(cp - fd), 0.0)
        if not np.all(diff <= slack + fd_err):
            return False
        ev.screened = True
        ev.screen_rel = float(np.max(diff / np.maximum(denom, np.finfo(float).tiny), initial=0.0))
        ev.fd_rel = ev.screen_rel
        ev.fd_skipped = int(np.sum(~usable))
        ev.leaf_ok = [True] * len(ev.names)
        ev.status = "pass"
        return True

    def _too_large(self, ev: Evaluation, n: int) -> Evaluation:
        ev.status = "fail"
        ev.message = (
            f"{self.wording.claimed()} disagrees with finite differences along random directions; "
            f"the argument has {n} entries, too many to compare entry by entry without autodiff: "
            "check a smaller instance for a diagnosis"
        )
        return ev

    def _steps2(self, leaves64, eps_f) -> np.ndarray:
        # Mixed second differences: rounding O(eps |f| / h²), truncation O(h⁴) after
        # extrapolation, balanced near eps^(1/6) of each entry's scale.
        return 2.0 ** np.round(np.log2(eps_f ** (1 / 6) * _fd.entry_scales(leaves64)))

    def _host_hessian(self, fmany, leaves64, eps_f, D):
        """The Hessian by mixed second differences (``[n, n]`` flat), or ``H d`` for rows ``d`` of ``D``."""
        n = sum(a.size for a in leaves64)
        h = self._steps2(leaves64, eps_f)
        x = np.concatenate([a.ravel() for a in leaves64])
        if D is None:
            j, k = np.triu_indices(n)
            est, err, ok = _fd.host_second(fmany, x, (j, h[j]), (k, h[k]), eps_f)
            H, E, U = (np.zeros((n, n)) for _ in range(3))
            for M, vals in ((H, est / (h[j] * h[k])), (E, err / (h[j] * h[k])), (U, ok)):
                M[j, k] = vals
                M[k, j] = vals
            return H.ravel(), E.ravel(), U.ravel().astype(bool)
        t = eps_f ** (1 / 6)
        rows = [(jj, d) for d in D for jj in range(n)]
        A = np.zeros((len(rows), n))
        A[np.arange(len(rows)), [r[0] for r in rows]] = np.tile(h, len(D))
        B = np.repeat(D * t, n, axis=0)
        est, err, ok = _fd.host_second(fmany, x, A, B, eps_f)
        den = np.tile(h, len(D)) * t
        return est / den, err / den, ok

    def _host_hvp(self, fmany, leaves64, eps_f, v):
        """``H v`` by mixed second differences along ``v`` and each unit vector."""
        n = v.size
        h = self._steps2(leaves64, eps_f)
        t = eps_f ** (1 / 6)
        x = np.concatenate([a.ravel() for a in leaves64])
        A = np.diag(h)
        B = np.tile(v * t, (n, 1))
        est, err, ok = _fd.host_second(fmany, x, A, B, eps_f)
        return est / (h * t), err / (h * t), ok

    # -- what the diagnosis asks ---------------------------------------------------------

    def matrices(self, ev: Evaluation) -> tuple[np.ndarray, np.ndarray] | None:
        """The claimed and the reference Hessian at ``ev``'s point as ``[n, n]`` matrices.

        For a Hessian-vector product of a small argument (up to ``_MATRIX_MAX``
        entries): the claimed function applied to every unit vector, beside the
        reference Hessian; ``None`` beyond, or when that fails.
        """
        if self.order == "hessian" and ev.claimed and ev.ref:
            n = int(np.sqrt(ev.ref[0].size))
            return ev.claimed[0].reshape(n, n), ev.ref[0].reshape(n, n)
        n = sum(int(np.prod(s)) for s in ev.shapes)
        if self.order != "hvp" or not ev.claimed or n > _MATRIX_MAX:
            return None
        if id(ev) not in self._matrices:  # asked for by more than one diagnosis
            self._matrices[id(ev)] = (ev, self._hvp_matrices(ev, n))
        return self._matrices[id(ev)][1]

    def _hvp_matrices(self, ev: Evaluation, n: int) -> tuple[np.ndarray, np.ndarray] | None:
        pt = ev.point
        x64_x, x64_dyn = cast_floats(pt.spec.split(pt.args), np.float64)
        treedef = jax.tree_util.tree_structure(x64_x)

        def unit(j):
            return (
                jax.tree_util.tree_unflatten(treedef, _unflatten_like(np.eye(n)[j], ev.shapes)),
            )

        def flat(tree):
            return np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(tree)])

        calls = pt.programs
        try:
            with x64(True):
                if self.family == "numpy":
                    C = np.stack(
                        [flat(calls.claimed(x64_x, x64_dyn, unit(j))) for j in range(n)], 1
                    )
                    leaves64 = [np.asarray(a) for a in jax.tree_util.tree_leaves(x64_x)]

                    def fmany(points):
                        return calls.f_many(x64_x, x64_dyn, points)

                    R = self._host_hessian(fmany, leaves64, eps(np.float64), None)[0]
                    return C.astype(np.float64), R.reshape(n, n)
                # The evaluation's own program (same shapes: no compile), one unit vector at a time.
                steps = np.zeros((2, n) if self.fd and self.family == "jax" else (0, n))
                outs = [calls.bundle(x64_x, x64_dyn, steps, unit(j)) for j in range(n)]
            R = np.stack([flat(o[1]) for o in outs], 1)
            C = np.stack([flat(o[3]) for o in outs], 1)
            return C.astype(np.float64), R.astype(np.float64)
        except Exception:  # noqa: BLE001 - the diagnosis does without the matrices
            return None

    def _attribute(self, error, programs, x, dyn, extra, where: str, how: str) -> Exception:
        """``f`` and the claimed derivative run in one program: find out which one raised."""
        suffix = f" {how}" if how else ""
        try:
            programs.claimed(x, dyn, extra)
        except Exception as e:
            e.add_note(f"{self.fn}: raised by {_CLAIM_NAMES[self.order]} at {where}{suffix}.")
            return e
        ref = self.wording.ref_call.format(f="f")
        error.add_note(f"{self.fn}: raised by f or {ref} at {where}{suffix}.")
        return error


def _leaf_max(leaves: list[np.ndarray]) -> list[float]:
    return [float(np.max(np.abs(a))) if a.size else 0.0 for a in leaves]


def _max0(a: np.ndarray) -> float:
    return float(np.max(a, initial=0.0))


def _per_entry(leaves: list[np.ndarray], values: list[float]) -> np.ndarray:
    return np.repeat(np.asarray(values, np.float64), [a.size for a in leaves])


def _unflatten_like(flat: np.ndarray, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    cuts = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]
    return [p.reshape(s) for p, s in zip(np.split(flat, cuts), shapes, strict=True)]


def _directions(leaves64: list[np.ndarray], m: int, rng: np.random.Generator) -> np.ndarray:
    scales = _fd.leaf_scales(leaves64)
    return np.concatenate(
        [sc * rng.standard_normal((m, a.size)) for a, sc in zip(leaves64, scales, strict=True)],
        axis=1,
    )


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


# ---------------------------------------------------------------------------
# The driver: points, then the report


def _sampler_call(sampler: Callable, key: jax.Array, dtype: Any) -> tuple:
    try:
        params = inspect.signature(sampler).parameters.values()
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        takes_dtype = len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)
    except (TypeError, ValueError):
        takes_dtype = True
    with x64(np.dtype(dtype) == np.float64):
        out = sampler(key, dtype) if takes_dtype else sampler(key)
    if not isinstance(out, tuple):
        out = (out,)
    return out


# f -> {signature of the arguments: (family, why)}: a failed trace costs JAX tens of milliseconds.
_FAMILIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# f -> {shapes: how f takes a batch}: found once (a few probing calls), then reused.
_LAYOUTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _layouts_of(f: Callable) -> dict:
    try:
        return _LAYOUTS.setdefault(f, {})
    except TypeError:  # f cannot be weakly referenced: found anew by each check
        return {}


def _family(fn: str, f: Callable, spec: ArgSpec, args: tuple, framework: str) -> tuple[str, str]:
    """Whose reference: ``("jax" | "torch" | "numpy", why not JAX)``.

    ``f`` is JAX when ``jax.eval_shape`` can trace it. One that cannot (it converts
    its argument with ``np.asarray``, calls SciPy, branches on values) but runs on
    NumPy arrays is checked against finite differences alone; a PyTorch one
    against ``torch.autograd``.
    """
    sig = (framework, spec, _shapes_dtypes(args), tuple(type(a) for a in args))
    try:
        known = _FAMILIES.setdefault(f, {})
    except TypeError:  # f cannot be weakly referenced: decide every time
        known = {}
    if sig not in known:
        known[sig] = _decide_family(fn, f, spec, args, framework)
    return known[sig]


def _decide_family(fn: str, f, spec: ArgSpec, args: tuple, framework: str) -> tuple[str, str]:
    if framework == "torch":
        if torch_autograd_works(f, args, spec.argnums):
            return "torch", ""
        return "numpy", "torch.autograd cannot differentiate f"
    x, dyn = spec.split(args)
    static = spec.static_values(args)
    try:
        with x64(_has64((x, dyn))):
            jax.eval_shape(lambda x, dyn: f(*spec.assemble(x, dyn, static)), x, dyn)
    except TRACE_ERRORS as e:
        return "numpy", f"{type(e).__name__}"
    except Exception as traced:  # noqa: BLE001 - maybe NumPy code that rejects tracers its own way
        try:
            f(*args)
        except Exception:  # noqa: BLE001 - a real error: JAX's traceback is the useful one
            traced.add_note(f"{fn}: raised by f at the given arguments.")
            raise traced from None
        return "numpy", f"{type(traced).__name__}"
    return "jax", ""


def _direction(spec: ArgSpec, args: tuple, rng: np.random.Generator) -> Any:
    """A random direction shaped like the differentiated argument, on the scale of each leaf."""
    x, _ = spec.split(args)
    leaves, treedef = jax.tree_util.tree_flatten(x)
    scales = _fd.leaf_scales([np.asarray(a, np.float64) for a in leaves])
    out = [
        (s * rng.standard_normal(np.shape(a))).astype(a.dtype)
        for a, s in zip(leaves, scales, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, out)


def _given_direction(fn: str, spec: ArgSpec, args: tuple, v: Any) -> Any:
    x, _ = spec.split(args)
    v = to_host(v)
    x_def, v_def = jax.tree_util.tree_structure(x), jax.tree_util.tree_structure(v)
    x_leaves, v_leaves = jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(v)
    if x_def != v_def or any(
        np.shape(a) != np.shape(b) for a, b in zip(x_leaves, v_leaves, strict=True)
    ):
        raise ValueError(
            f"{fn}: v must have the structure and shape of the differentiated argument "
            f"{spec.wrt_name} ({_describe_tree(x)}); got {_describe_tree(v)}."
        )
    out = [np.asarray(b).astype(a.dtype) for a, b in zip(x_leaves, v_leaves, strict=True)]
    return jax.tree_util.tree_unflatten(x_def, out)


def run_check(
    fn: str,
    f: Callable[..., Any],
    claim: Callable[..., Any],
    args: tuple,
    *,
    order: str = "gradient",
    argnum: int | Sequence[int] = 0,
    trials: int = 5,
    seed: int = 0,
    sampler: Callable[..., Any] | None = None,
    dtype: Any = None,
    fixed: Sequence[int] = (),
    rtol: float | None = None,
    atol: float | None = None,
    fd: bool = True,
    v: Any = None,
    checker_cls: type[Checker] = Checker,
) -> GradCheckReport:
    """The engine behind ``check_grad``, ``check_hessian``, ``check_hvp``, ``check_vjp`` and
    ``check_jvp`` (see those)."""
    claim_name = _CLAIM_NAMES[order]
    for name, fun in (("f", f), (claim_name, claim)):
        if not callable(fun):
            raise TypeError(f"{fn}: {name} must be callable; got {type(fun).__name__}.")
    if sampler is not None and not callable(sampler):
        raise TypeError(f"{fn}: sampler must be callable; got {type(sampler).__name__}.")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"{fn}: trials must be an integer >= 1; got {trials!r}.")
    if not args and sampler is None:
        call = f"{fn.removeprefix('mcalc.')}(f, {claim_name}, *args)"
        raise ValueError(
            f"{fn}: give the arguments to check at, {call}, or a sampler=lambda key: args."
        )
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if tol is not None and not (isinstance(tol, int | float) and tol >= 0):
            raise ValueError(f"{fn}: {name} must be a number >= 0; got {tol!r}.")

    framework = framework_of(args)
    host = to_host(args)
    if dtype is None:
        floats = float_leaves(host)
        dtype = floats[0].dtype if floats else jnp.result_type(float)
    dtype = jnp.dtype(dtype)
    key = jax.random.key(seed)

    def sampled(t: int) -> tuple:
        out = _sampler_call(sampler, jax.random.fold_in(key, t), dtype)
        return framework_of(out), to_host(out)

    # The first point decides the split of the arguments and whose reference to use.
    first = host if host else None
    if first is None:
        framework, first = sampled(0)
    first = promote_floats(first, argnum)
    spec0 = make_spec(fn, f, first, argnum, fixed)
    if order == "hessian":
        _hessian_argument(fn, spec0, first)
    if order in ("vjp", "jvp"):
        family, untraceable = "jax", ""
    else:
        family, untraceable = _family(fn, f, spec0, first, framework)
    checker = checker_cls(
        f,
        claim,
        order=order,
        family=family,
        framework=framework,
        rtol=rtol,
        atol=atol,
        fd=fd,
        seed=seed,
        fn=fn,
    )
    checker.untraceable = untraceable  # why f is not JAX, for the report's note

    def point(index: int, kind: str, pargs: tuple, **extra) -> Point:
        pargs = promote_floats(pargs, argnum)
        if kind == "near":  # the given arguments moved: the same split, already validated
            spec = given.spec
        else:
            spec = make_spec(fn, f, pargs, argnum, fixed)
            if order == "hessian":
                _hessian_argument(fn, spec, pargs)
        direction = ()
        if order == "hvp":
            if index == 0 and v is not None:
                direction = (_given_direction(fn, spec, pargs, v),)
            else:
                direction = (_direction(spec, pargs, np.random.default_rng([seed, index, 11])),)
        return Point(index, kind, pargs, spec, checker.programs(spec, pargs), direction, **extra)

    evals: list[Evaluation] = []
    given = point(0, "given", first) if host else None
    plan = perturbation(given.spec, host) if given is not None else None
    for t in range(trials):
        if t == 0 and given is not None:
            pt = given
        elif sampler is not None:
            pt = point(t, "sampled", first if (t == 0 and not host) else sampled(t)[1])
        else:
            rng = np.random.default_rng([seed, t])
            moved = perturb(given.spec, host, rng, _REL_STEP, plan)
            pt = point(t, "near", moved, perturbed=plan.perturbed, held=plan.held)
        # Finite differences alone: every entry at the first point judged, then random
        # directions (entry by entry again wherever those disagree).
        full_before = any(e.status in ("pass", "fail") and not e.screened for e in evals)
        ev = checker.evaluate(pt, screen=family == "numpy" and full_before)
        evals.append(ev)
        if ev.status == "shape":
            break
    return _report(checker, evals, f, claim, fd)


def _hessian_argument(fn: str, spec: ArgSpec, args: tuple) -> None:
    if not spec.single or not jax.tree_util.treedef_is_leaf(
        jax.tree_util.tree_structure(args[spec.argnums[0]])
    ):
        raise ValueError(
            f"{fn}: the Hessian is checked in one array argument (argnum an int selecting an "
            f"array); got argnum={spec.argnums if not spec.single else spec.argnums[0]} selecting "
            f"{_describe_tree(spec.split(args)[0])}. For a pytree, check Hessian-vector products "
            "with mcalc.check_hvp."
        )


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
    not pass); or at points drawn by ``sampler``. Arguments that are data rather
    than variables stay as given at the random points: integer and boolean
    arrays, and floating arrays, not differentiated, whose entries are all in
    {0, 1} or all in {-1, 1} (labels, one-hot rows); the report lists what moved
    (``report.perturbed``) and what was held (``report.held``). Seeded and
    reproducible.

    What it compares: the claimed gradient, computed in the caller's dtype,
    against ``jax.grad(f)`` computed in float64 whatever the global x64 setting,
    and against Richardson-extrapolated central finite differences of ``f`` in
    float64 (every entry for arguments of up to 256 entries, 8 random directional
    derivatives beyond). A PyTorch ``f`` (tensors in, a scalar tensor out) is
    checked against ``torch.autograd`` in float64 instead; any other ``f`` that
    JAX cannot trace (NumPy, SciPy) against the finite differences alone, every
    entry at the first point and random directions at the others, with their
    error bound added to the tolerance; the report says which. Errors are
    scale-aware: relative to the largest entry of each leaf of the reference.
    Tolerances derive from the claimed gradient's dtype (see
    :func:`mcalc.check.default_rtol`) plus an allowance for the measured
    ill-conditioning of the point; ``rtol``/``atol`` replace both.

    On failure ``report.diagnosis`` says how the gradient is wrong: a wrong
    shape (a transposed shape included), off by a transpose, a sign, a constant
    factor, right only for symmetric inputs, a missing or extra term
    proportional to an argument, right at the given point only (naming an
    argument that moved and, held as given, makes it right: use ``fixed=``), or
    where the error concentrates.

    Args:
      f: scalar function ``f(*args)``: JAX, PyTorch or NumPy/SciPy code.
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
        (beyond the labels and integer arrays held anyway).
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
    return run_check(
        "mcalc.check_grad",
        f,
        grad_f,
        args,
        order="gradient",
        argnum=argnum,
        trials=trials,
        seed=seed,
        sampler=sampler,
        dtype=dtype,
        fixed=fixed,
        rtol=rtol,
        atol=atol,
        fd=fd,
    )


def _name(fn: Callable) -> str:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return getattr(getattr(fn, "func", None), "__name__", name) if name == "partial" else name


def _report(checker: Checker, evals: list[Evaluation], f, grad_f, fd: bool) -> GradCheckReport:
    w = checker.wording
    conclusive = [e for e in evals if e.status in ("pass", "fail")]
    shape_fail = [e for e in evals if e.status == "shape"]
    ok = bool(conclusive) and not shape_fail and all(e.status == "pass" for e in conclusive)
    trials = tuple(_trial_result(e) for e in evals)
    notes = _notes(checker, evals)
    first = evals[0]
    spec = first.point.spec
    near = [e.point for e in evals if e.point.kind == "near"]
    fd_method = "off"
    if w.fd_only:
        fd_method = "reference"
    elif fd and checker.order == "hvp":
        fd_method = "along v"
    elif fd:
        n = sum(int(np.prod(s)) for s in first.shapes)
        n = int(np.sqrt(n)) if checker.order == "hessian" else n
        full = n <= _fd.FD_FULL_MAX and checker.family != "torch"
        fd_method = "full" if full else "directional"
    rules = w.kind in ("vjp", "jvp")
    common = dict(
        rtol=checker.rtol if checker.rtol is not None else rtol_for_eps(eps(_dtype_of(evals))),
        dtype=_dtype_of(evals),
        wrt=spec.wrt_name,
        f_name=_name(f),
        grad_name=f"jax.{w.kind}({_name(f)})" if rules else _name(grad_f),
        fd_method=fd_method,
        trials=trials,
        notes=notes,
        kind=w.kind,
        reference=w.ref,
        perturbed=near[0].perturbed if near else (),
        held=near[0].held if near else (),
    )
    detailed = [e for e in conclusive if e.err]
    max_rel = max((e.rel(i) for e in conclusive for i in range(len(e.names))), default=math.inf)
    if ok:
        n = len(conclusive)
        fd_part = " and with finite differences" if fd and not w.fd_only else ""
        screened = sum(e.screened for e in conclusive)
        how = f"; {screened} of them compared along random directions" if screened else ""
        diagnosis = (
            f"{w.claimed()} agrees with {w.ref}{fd_part} at all {n} point"
            f"{'s' if n != 1 else ''} (max relative error {max_rel:.1e}{how})."
        )
    else:
        diagnosis = _diagnose.diagnose(checker, evals)
    diagnosis = _capitalise(diagnosis, first.names)
    if shape_fail or not detailed:
        return GradCheckReport(
            ok=ok,
            diagnosis=diagnosis,
            max_abs_error=math.inf if not ok else math.nan,
            max_rel_error=math.inf if not ok else max_rel,
            fd_max_rel_error=math.inf if not ok else max(e.fd_rel for e in conclusive),
            worst_leaf=first.names[0] if first.names else "",
            worst_index=(),
            claimed_value=math.nan,
            reference_value=math.nan,
            worst_trial=(shape_fail or evals)[0].point.index,
            **common,
        )
    worst_ev, (leaf, index, _) = max(((e, e.worst()) for e in detailed), key=lambda p: p[1][2])
    max_abs = max(float(np.max(err, initial=0.0)) for e in detailed for err in e.err)
    fd_rel = max((e.fd_rel for e in conclusive), default=math.nan) if fd else math.nan
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
    if e.screened:
        leaves = tuple(
            LeafResult(e.names[i], e.shapes[i], True, math.nan, e.screen_rel, math.nan)
            for i in range(len(e.names))
        )
    else:
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
    nan = math.nan
    worst = dict(worst_leaf="", worst_index=(), claimed_value=nan, reference_value=nan)
    worst.update(max_abs_error=nan, max_rel_error=nan)
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
    elif e.screened:
        worst.update(max_rel_error=e.screen_rel)
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


def _notes(checker: Checker, evals: list[Evaluation]) -> tuple[str, ...]:
    notes = []
    w = checker.wording
    if w.kind in ("vjp", "jvp"):
        notes.append(
            "the reference is float64 Richardson-extrapolated central differences of f's primal "
            "computation, every input entry at every point; tolerances include their error bound."
        )
    elif w.fd_only:
        why = getattr(checker, "untraceable", "")
        why = f" ({why})" if why else ""
        batched = {
            "leading": "in batches along a leading axis",
            "trailing": "in batches along a trailing axis",
            "vmap": "in batches (torch.func.vmap)",
            "loop": "one call per point (f does not take a batch)",
        }.get(checker.batching, "")
        screened = sum(e.screened for e in evals)
        where = (
            f"every entry at point {evals[0].point.index}, random directions at the "
            f"{screened} other{'s' if screened != 1 else ''}"
            if screened
            else "every entry at every point"
        )
        notes.append(
            f"f is not differentiable by autodiff here{why}: the reference is float64 "
            f"Richardson-extrapolated central differences alone ({where}; {checker.evaluations} "
            f"evaluations of f, {batched}); tolerances include their error bound."
        )
    invalid = [e for e in evals if e.status == "invalid"]
    if invalid:
        notes.append(
            f"{len(invalid)} of {len(evals)} points were skipped: f or {w.ref_call.format(f='f')} "
            "is not finite there (outside f's domain?); pass sampler= to draw valid points."
        )
    inconclusive = [e for e in evals if e.status == "inconclusive"]
    if inconclusive:
        notes.append(
            f"{len(inconclusive)} of {len(evals)} points were too ill-conditioned to judge in "
            f"{_dtype_of(evals)} ({w.ref} itself drifts by more than 10 % there); check in float64."
        )
    skipped = sum(e.fd_skipped for e in evals)
    if skipped:
        notes.append(
            f"{skipped} finite difference{'s were' if skipped != 1 else ' was'} skipped: f is not "
            "smooth on the scale of the step there (a kink or a nearby singularity)."
        )
    if any(e.point.programs.eager for e in evals):
        notes.append(
            f"{_CLAIM_NAMES[checker.order]} could not be jit-compiled (NumPy calls or Python "
            "control flow on values?); it ran eagerly."
        )
    for e in evals:
        if e.claimed_dtype and e.claimed_dtype != str(_arg_dtype(e)) and _arg_dtype(e) is not None:
            notes.append(
                f"the claimed {w.noun} has dtype {e.claimed_dtype} but the argument is "
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
