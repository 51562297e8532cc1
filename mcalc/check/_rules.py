"""Custom differentiation rules: the derivative JAX uses for ``f`` against ``f``'s own values.

A ``jax.custom_vjp`` or ``jax.custom_jvp`` rule is a hand derivation too, and a
wrong one corrupts every gradient through it silently (jax-ml/jax#17496: a rule
returning a zero cotangent for one input). ``check_vjp`` builds the Jacobian JAX
differentiates ``f`` with in reverse mode (one ``vjp`` per output entry: the
backward rules), ``check_jvp`` the one of forward mode (one ``jvp`` per input
entry: the tangent rules), and compares it, block by block for every output
leaf and input leaf, with float64 Richardson-extrapolated central differences of
``f``'s primal computation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import _fd
from ._check import Checker, run_check
from ._evaluation import Evaluation, Point, eps, rtol_for_eps
from ._points import ArgSpec, cast_floats, dtype_of, float_leaves, is_floating
from ._programs import TRACE_ERRORS, _compiler_options, x64
from ._report import GradCheckReport

__all__ = ["check_vjp", "check_jvp"]

_FULL_MAX = 1024  # input entries up to which the whole Jacobian is compared entry by entry


def _out_names(out: Any) -> list[str]:
    paths = jax.tree_util.tree_flatten_with_path(out)[0]
    if len(paths) == 1 and not paths[0][0]:
        return ["out"]
    return ["out" + jax.tree_util.keystr(tuple(p)) for p, _ in paths]


def _flat_fn(f: Callable, spec: ArgSpec, static: tuple, x, dyn):
    """``f`` as a map from the flat differentiated inputs to its flat floating outputs."""
    flat, unravel = ravel_pytree(x)

    def g(p):
        out = f(*spec.assemble(unravel(p), dyn, static))
        leaves = [jnp.ravel(a) for a in jax.tree_util.tree_leaves(out) if is_floating(a.dtype)]
        return jnp.concatenate(leaves) if leaves else jnp.zeros((0,), flat.dtype)

    return flat, g


@functools.lru_cache(maxsize=256)
def _program(f, spec: ArgSpec, static: tuple, types: tuple, kind: str, mode: str):
    """One jitted program: the rule's Jacobian ``[n_out, n_in]`` or ``f`` at finite-difference points."""

    def jacobian(x, dyn):
        flat, g = _flat_fn(f, spec, static, x, dyn)
        if mode == "vjp":
            out, vjp = jax.vjp(g, flat)
            return jax.vmap(lambda c: vjp(c)[0])(jnp.eye(out.size, dtype=out.dtype))
        return jax.vmap(lambda t: jax.jvp(g, (flat,), (t,))[1], out_axes=1)(
            jnp.eye(flat.size, dtype=flat.dtype)
        )

    def values(x, dyn, P):
        flat, g = _flat_fn(f, spec, static, x, dyn)
        base = flat[None, :]
        pts = jnp.concatenate([base + P, base - P, base + 2 * P, base - 2 * P])
        return jax.vmap(g)(pts)

    fn = jacobian if kind == "jacobian" else values
    return jax.jit(fn, compiler_options=_compiler_options())


class _RulePrograms:
    eager: frozenset = frozenset()

    def __init__(self, f, spec: ArgSpec, static: tuple, mode: str):
        self.f, self.spec, self.static, self.mode = f, spec, static, mode

    def _get(self, kind: str):
        try:
            types = tuple(type(v) for v in self.static)
            return _program(self.f, self.spec, self.static, types, kind, self.mode)
        except TypeError:  # unhashable static arguments
            return _program.__wrapped__(self.f, self.spec, self.static, (), kind, self.mode)

    def jacobian(self, x, dyn) -> np.ndarray:
        try:
            return np.asarray(self._get("jacobian")(x, dyn))
        except TRACE_ERRORS:  # a rule that needs concrete values: one row at a time, eagerly
            flat, g = _flat_fn(self.f, self.spec, self.static, x, dyn)
            if self.mode == "vjp":
                out, vjp = jax.vjp(g, flat)
                return np.stack([np.asarray(vjp(c)[0]) for c in jnp.eye(out.size, dtype=out.dtype)])
            cols = [
                np.asarray(jax.jvp(g, (flat,), (t,))[1])
                for t in jnp.eye(flat.size, dtype=flat.dtype)
            ]
            return np.stack(cols, 1)

    def values(self, x, dyn, P) -> np.ndarray:
        return np.asarray(self._get("values")(x, dyn, P))


class RuleChecker(Checker):
    """The engine for ``check_vjp`` / ``check_jvp``: blocks of the Jacobian are the leaves."""

    def programs(self, spec: ArgSpec, args: tuple):
        return _RulePrograms(self.f, spec, spec.static_values(args), self.order)

    def matrices(self, ev: Evaluation):
        return None

    def evaluate(self, pt: Point, *, screen: bool = False) -> Evaluation:
        spec, args = pt.spec, pt.args
        x, dyn = spec.split(args)
        in_names = spec.leaf_names(x)
        in_shapes = [tuple(np.shape(a)) for a in jax.tree_util.tree_leaves(x)]
        x64_x, x64_dyn = cast_floats((x, dyn), np.float64)
        where = _where(pt)
        has64 = any(a.dtype == np.float64 for a in float_leaves((x, dyn)))
        with x64(has64):
            try:
                out = jax.eval_shape(
                    lambda x, d: self.f(*spec.assemble(x, d, pt.programs.static)), x, dyn
                )
            except Exception as e:
                e.add_note(f"{self.fn}: raised by f at {where}.")
                raise
        out_leaves = [o for o in jax.tree_util.tree_leaves(out) if is_floating(o.dtype)]
        all_names = _out_names(out)
        out_names = [
            n
            for n, o in zip(all_names, jax.tree_util.tree_leaves(out), strict=True)
            if is_floating(o.dtype)
        ]
        if not out_leaves:
            raise ValueError(f"{self.fn}: f has no floating output to differentiate at {where}.")
        names, shapes, blocks, slices = [], [], [], []
        o_cuts = np.cumsum([0] + [int(np.prod(o.shape)) for o in out_leaves])
        i_cuts = np.cumsum([0] + [int(np.prod(s)) for s in in_shapes])
        for oi, (on, o) in enumerate(zip(out_names, out_leaves, strict=True)):
            for ii, (inn, s) in enumerate(zip(in_names, in_shapes, strict=True)):
                if self.order == "vjp":
                    names.append(inn if len(out_leaves) == 1 else f"{inn} from {on}")
                else:
                    names.append(on if len(in_shapes) == 1 else f"{on} from {inn}")
                shapes.append(tuple(o.shape) + s)
                blocks.append((len(o.shape), len(s)))
                slices.append(
                    (slice(o_cuts[oi], o_cuts[oi + 1]), slice(i_cuts[ii], i_cuts[ii + 1]))
                )
        pt.blocks = tuple(blocks)
        ev = Evaluation(pt, "pass", names, shapes)
        rule = self._rule_signature(pt, x, dyn, in_names)
        if rule:
            ev.status, ev.message = "shape", rule
            return ev
        try:
            with x64(True):
                J64 = pt.programs.jacobian(x64_x, x64_dyn)
            J = J64 if has64 else pt.programs.jacobian(x, dyn)
        except (ValueError, TypeError) as e:
            if "Custom VJP bwd rule must produce" in str(
                e
            ) or "Custom JVP rule must produce" in str(e):
                ev.status, ev.message = "shape", _rule_error(str(e))
                return ev
            if "forward-mode autodiff (jvp) to a custom_vjp" in str(e):
                raise TypeError(
                    f"{self.fn}: f uses a custom_vjp rule, which JAX cannot differentiate in "
                    "forward mode; check it with mcalc.check_vjp."
                ) from None
            e.add_note(f"{self.fn}: raised by the differentiation rule at {where}.")
            raise
        dt = str(J.dtype)
        n_in = int(i_cuts[-1])
        leaves64 = [np.asarray(a, np.float64) for a in jax.tree_util.tree_leaves(x64_x)]
        eps_f = eps(np.float64)
        rng = np.random.default_rng([self.seed, pt.index, 7])
        P, units, D = _fd.steps(leaves64, eps_f, rng, full_max=_FULL_MAX)
        with x64(True):
            fs = pt.programs.values(x64_x, x64_dyn, P)
        denom = np.full(
            (D.shape[0], J.shape[0]), max(float(np.max(np.abs(J64), initial=0.0)), 1e-300)
        )
        fd, fd_err, usable = _fd.richardson(fs, units, eps_f, denom)
        ev.fd_skipped = int(np.sum(~usable))
        if D.shape[0] != n_in:
            return self._directional(ev, J, fd, fd_err, usable, D, eps_f)
        R, E, U = fd.T, fd_err.T, usable.T  # [n_out, n_in]
        J, J64 = np.asarray(J, np.float64), np.asarray(J64, np.float64)
        ev.claimed_dtypes = [dt] * len(names)
        ev.claimed_dtype = dt
        ev.claimed = [J[so, si].reshape(s) for (so, si), s in zip(slices, shapes, strict=True)]
        ev.claimed64 = [J64[so, si].reshape(s) for (so, si), s in zip(slices, shapes, strict=True)]
        ev.claimed_shapes = list(shapes)
        ev.ref = [R[so, si].reshape(s) for (so, si), s in zip(slices, shapes, strict=True)]
        floor = max(1e-7, 1e3 * eps_f**0.8)
        bounds = []
        for (so, si), s, r in zip(slices, shapes, ev.ref, strict=True):
            scale = float(np.max(np.abs(r), initial=0.0))
            bounds.append((np.where(U[so, si], E[so, si], 0.0) + floor * scale).reshape(s))
        self._judge(ev, fd_bounds=bounds)
        for i, (so, si) in enumerate(slices):
            ev.err[i] = np.where(U[so, si].reshape(ev.err[i].shape), ev.err[i], 0.0)
            ev.leaf_ok[i] = bool(np.max(ev.err[i], initial=0.0) <= ev.tol[i])
        ev.fd_ok = ev.jax_ok
        ev.fd_rel = max((ev.rel(i) for i in range(len(ev.err))), default=0.0)
        ev.status = "pass" if ev.jax_ok else "fail"
        return ev

    def _directional(self, ev, J, fd, fd_err, usable, D, eps_f) -> Evaluation:
        cp = (np.asarray(J, np.float64) @ D.T).T
        scale = max(float(np.max(np.abs(J), initial=0.0)), 1e-300)
        diff = np.where(usable, np.abs(cp - fd), 0.0)
        rtol = rtol_for_eps(eps(J.dtype)) if self.rtol is None else self.rtol
        slack = fd_err + (rtol + max(1e-7, 1e3 * eps_f**0.8)) * scale * np.abs(D).sum(1)[:, None]
        if np.all(diff <= slack):
            ev.screened, ev.status = True, "pass"
            ev.screen_rel = ev.fd_rel = float(np.max(diff, initial=0.0) / scale)
            ev.leaf_ok = [True] * len(ev.names)
            return ev
        ev.status = "fail"
        ev.message = (
            f"the derivative JAX uses for f disagrees with finite differences of f along random "
            f"directions; f has {D.shape[1]} input entries, too many to compare the Jacobian "
            "entry by entry: check a smaller instance for a diagnosis"
        )
        return ev

    def _rule_signature(self, pt: Point, x, dyn, in_names: list[str]) -> str:
        """A top-level ``custom_vjp``/``custom_jvp``: its rule's outputs against the primal's
        shapes and dtypes (JAX casts a wrong dtype silently)."""
        f = self.f
        try:
            args = jax.tree_util.tree_map(jnp.asarray, pt.args)
            if self.order == "vjp" and isinstance(f, jax.custom_vjp) and f.fwd is not None:
                if getattr(f, "nondiff_argnums", ()):
                    return ""
                out, res = f.fwd(*args)
                cts = f.bwd(res, jax.tree_util.tree_map(jnp.ones_like, out))
                return _compare_rule(
                    "the backward rule returns a cotangent",
                    "for",
                    list(cts) if isinstance(cts, tuple) else [cts],
                    list(args),
                    pt.spec.names,
                )
            if self.order == "jvp" and isinstance(f, jax.custom_jvp) and f.jvp is not None:
                if getattr(f, "nondiff_argnums", ()):
                    return ""
                tangents = tuple(jax.tree_util.tree_map(jnp.ones_like, a) for a in args)
                out, t_out = f.jvp(tuple(args), tangents)
                return _compare_rule(
                    "the rule returns a tangent", "for output", [t_out], [out], ["out"]
                )
        except Exception:  # noqa: BLE001 - the full check below reports what fails and where
            return ""
        return ""


def _compare_rule(what: str, prep: str, got: list, want: list, names: Sequence[str]) -> str:
    if len(got) != len(want):
        return (
            f"wrong structure: {what} tuple of {len(got)} where f has {len(want)} "
            "arguments (one cotangent per argument, zeros for those not differentiated)"
        )
    for g, w, n in zip(got, want, names, strict=True):
        for gl, wl in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(w), strict=False):
            gs, ws = tuple(np.shape(gl)), tuple(np.shape(wl))
            if gs != ws:
                return f"wrong shape: {what} of shape {gs} {prep} {n}, whose shape is {ws}"
            gd, wd = dtype_of(gl), dtype_of(wl)
            if is_floating(wd) and gd != wd:
                return f"wrong dtype: {what} of dtype {gd} {prep} {n}, which is {wd}"
    return ""


def _rule_error(message: str) -> str:
    """JAX's error for a rule whose output does not fit, as a diagnosis."""
    m = re.search(
        r"at output(\S*) the bwd rule produced an output of (?:shape/dtype|type) (\S+) "
        r"corresponding to an input of (?:shape/dtype|type) (\S+)",
        message,
    )
    if m:
        return (
            f"wrong shape: a custom_vjp backward rule inside f returns a cotangent of type {m[2]} "
            f"for its input{m[1]}, of type {m[3].rstrip(',.;')}"
        )
    first = message.strip().splitlines()[0]
    return (
        f"wrong shape: a custom differentiation rule inside f returns the wrong structure: {first}"
    )


def _where(pt: Point) -> str:
    return {"given": "the given arguments", "symmetrised": "the symmetrised arguments"}.get(
        pt.kind, f"point {pt.index}"
    )


def _all_float_args(args: tuple) -> tuple[int, ...]:
    out = []
    for i, a in enumerate(args):
        leaves = jax.tree_util.tree_leaves(a)
        if leaves and all(hasattr(x, "dtype") and is_floating(dtype_of(x)) for x in leaves):
            out.append(i)
    return tuple(out)


def _check_rule(
    mode: str,
    f: Callable[..., Any],
    args: tuple,
    argnum,
    trials: int,
    seed: int,
    sampler,
    dtype,
    fixed: Sequence[int],
    rtol,
    atol,
) -> GradCheckReport:
    fn = f"mcalc.check_{mode}"
    if not callable(f):
        raise TypeError(f"{fn}: f must be callable; got {type(f).__name__}.")
    if argnum is None:
        if not args:
            raise ValueError(f"{fn}: give argnum= with a sampler, or the arguments to check at.")
        argnum = _all_float_args(args)
        if not argnum:
            raise TypeError(f"{fn}: f has no floating array argument to differentiate.")
        if len(argnum) == 1:
            argnum = argnum[0]
    return run_check(
        fn,
        f,
        f,
        args,
        order=mode,
        argnum=argnum,
        trials=trials,
        seed=seed,
        sampler=sampler,
        dtype=dtype,
        fixed=fixed,
        rtol=rtol,
        atol=atol,
        fd=True,
        checker_cls=RuleChecker,
    )


def check_vjp(
    f: Callable[..., Any],
    *args: Any,
    argnum: int | Sequence[int] | None = None,
    trials: int = 5,
    seed: int = 0,
    sampler: Callable[..., Any] | None = None,
    dtype: Any = None,
    fixed: Sequence[int] = (),
    rtol: float | None = None,
    atol: float | None = None,
) -> GradCheckReport:
    """Check the reverse-mode derivative JAX uses for ``f`` (its ``custom_vjp`` rules) entry by entry.

    .. math:: \\big[\\,\\text{vjp}_f(e_k)\\,\\big]_j \\overset{?}{=}
              \\frac{\\partial f_k}{\\partial x_j} \\approx
              \\frac{f_k(x + h e_j) - f_k(x - h e_j)}{2h}

    ``f`` may be a ``jax.custom_vjp`` function, or any JAX function or model that
    contains one. Its Jacobian as reverse mode computes it (one ``jax.vjp`` per
    output entry, the backward rules included) is compared with float64
    Richardson-extrapolated central differences of ``f``'s primal computation,
    block by block for every output leaf and input leaf, at the given point and
    at random points near it (labels and integer arrays held, as in
    :func:`mcalc.check_grad`). The report names the input (and output) whose
    cotangent is wrong, and says how: zero (a rule that drops an input), off by
    a sign, a factor or a transpose, or the wrong shape or dtype (checked on the
    rule itself for a top-level ``custom_vjp``).

    Args:
      f: a JAX function of arrays or pytrees; any output pytree of floating arrays.
      *args: the point to check at.
      argnum: the arguments differentiated (default: every argument whose leaves
        are all floating arrays).
      trials, seed, sampler, dtype, fixed, rtol, atol: as for :func:`mcalc.check_grad`.

    Returns:
      A :class:`mcalc.GradCheckReport` with ``kind == "vjp"``; its leaves are the
      blocks of the Jacobian, named by input (``"y"``, or ``"y from out[1]"``).

    Raises:
      ValueError, TypeError: as :func:`mcalc.check_grad`.

    Example:
      >>> import jax, jax.numpy as jnp, mcalc
      >>> @jax.custom_vjp
      ... def mul(x, y):
      ...     return x * y
      >>> mul.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1], jnp.zeros_like(res[1])))
      >>> x, y = jnp.array([1.0, 2.0]), jnp.array([3.0, -1.0])
      >>> print(mcalc.check_vjp(mul, x, y).diagnosis)
      The cotangent for y is zero where finite differences are not: the backward rule returns a zero cotangent for it (x is right).
    """
    return _check_rule("vjp", f, args, argnum, trials, seed, sampler, dtype, fixed, rtol, atol)


def check_jvp(
    f: Callable[..., Any],
    *args: Any,
    argnum: int | Sequence[int] | None = None,
    trials: int = 5,
    seed: int = 0,
    sampler: Callable[..., Any] | None = None,
    dtype: Any = None,
    fixed: Sequence[int] = (),
    rtol: float | None = None,
    atol: float | None = None,
) -> GradCheckReport:
    """Check the forward-mode derivative JAX uses for ``f`` (its ``custom_jvp`` rules) entry by entry.

    .. math:: \\big[\\,\\text{jvp}_f(e_j)\\,\\big]_k \\overset{?}{=}
              \\frac{\\partial f_k}{\\partial x_j}

    As :func:`check_vjp`, with the Jacobian as forward mode computes it (one
    ``jax.jvp`` per input entry, the tangent rules included). The report names
    the output (and input) whose tangent is wrong and says how.

    Args:
      f: a JAX function of arrays or pytrees; any output pytree of floating arrays.
      *args: the point to check at.
      argnum: the arguments differentiated (default: every floating argument).
      trials, seed, sampler, dtype, fixed, rtol, atol: as for :func:`mcalc.check_grad`.

    Returns:
      A :class:`mcalc.GradCheckReport` with ``kind == "jvp"``.

    Raises:
      ValueError, TypeError: as :func:`mcalc.check_grad`; a ``custom_vjp`` ``f``
        (JAX cannot differentiate it in forward mode: use :func:`check_vjp`).

    Example:
      >>> import jax, jax.numpy as jnp, mcalc
      >>> @jax.custom_jvp
      ... def softplus(x):
      ...     return jnp.logaddexp(x, 0.0)
      >>> _ = softplus.defjvp(lambda p, t: (softplus(p[0]), 2 * jax.nn.sigmoid(p[0]) * t[0]))
      >>> print(mcalc.check_jvp(softplus, jnp.array([0.5, -1.0, 2.0])).diagnosis)
      The tangent of out is off by a constant factor of 2: claimed = 2 × finite differences at every point.
    """
    return _check_rule("jvp", f, args, argnum, trials, seed, sampler, dtype, fixed, rtol, atol)
