"""NumPy, SciPy and PyTorch functions: called eagerly, with the caller's kind of arrays.

A function JAX cannot trace (it converts its argument with ``np.asarray``, calls
SciPy, or is written in PyTorch) is checked here. Points stay host NumPy arrays;
each call converts them to what the caller passed (NumPy arrays, or torch
tensors), and whatever the claimed derivative returns (NumPy, JAX or torch) is
read back as NumPy.

* :class:`HostCalls` runs ``f`` and the claimed derivative. Finite differences
  need ``f`` at hundreds of points: they go through one call when ``f`` accepts a
  batch (checked, never assumed: a leading batch axis, a trailing one as SciPy's
  ``rosen`` takes it, or ``torch.func.vmap``), else through a loop.
* :class:`TorchCalls` adds ``torch.autograd`` in float64 as the reference, with
  the interface of the JAX programs (``bundle``, ``low``), so the engine treats a
  PyTorch function as it treats a JAX one.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from ._points import ArgSpec, dtype_of, is_torch, to_host

__all__ = ["HostCalls", "TorchCalls", "torch_autograd_works"]

# Array elements per batched call of f: bounds the memory of one batch (32 MB of float64).
_BATCH_ELEMENTS = 1 << 22
_BATCH_CHECK = 3  # points compared one by one before a batched layout is trusted


def _torch():
    return sys.modules["torch"]


def _to_torch(a: Any, requires_grad: bool = False) -> Any:
    torch = _torch()
    if isinstance(a, np.ndarray | np.generic):
        a = np.asarray(a)
        if a.dtype == jax.numpy.bfloat16:
            t = torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
        else:
            t = torch.from_numpy(np.ascontiguousarray(a).copy())
        return t.requires_grad_(requires_grad) if requires_grad else t
    return a


def _host_leaf(a: Any) -> Any:
    if is_torch(a):
        return to_host(a)
    return np.asarray(a) if isinstance(a, jax.Array | np.ndarray | np.generic) else a


class HostCalls:
    """``f`` and the claimed derivative of one point's signature, called eagerly.

    Args:
      f, claim: the user's functions; ``claim(*args, *extra)``.
      spec, static: how the arguments split (see :class:`ArgSpec`).
      framework: ``"numpy"`` or ``"torch"``: what the functions are called with.
      order: ``"gradient"``, ``"hessian"`` or ``"hvp"``.
      layouts: a cache of how ``f`` takes a batch, shared between the points of a check.
    """

    eager: frozenset = frozenset()  # the JAX programs' "ran eagerly" note does not apply
    reference = "finite differences"

    def __init__(
        self,
        f: Callable,
        claim: Callable,
        spec: ArgSpec,
        static: tuple,
        framework: str,
        order: str,
        layouts: dict[tuple, str] | None = None,
    ):
        self.f, self.claim, self.spec, self.static = f, claim, spec, static
        self.framework, self.order = framework, order
        self.batching = "loop"  # how f took its last batch: leading, trailing, vmap or loop
        # How f takes a batch, by the shapes of x: shared by every point of a check.
        self._layouts = {} if layouts is None else layouts

    # -- calls ----------------------------------------------------------------------------

    def convert(self, tree: Any) -> Any:
        """Host arrays as the caller passed them (torch tensors for a torch caller)."""
        if self.framework != "torch":
            return tree
        return jax.tree_util.tree_map(_to_torch, tree)

    def _args(self, x, dyn) -> tuple:
        return self.convert(self.spec.assemble(x, dyn, self.static))

    def call_f(self, x, dyn) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return self.f(*self._args(x, dyn))

    def value(self, x, dyn) -> float:
        return float(np.asarray(_host_leaf(self.call_f(x, dyn)), np.float64))

    def claimed(self, x, dyn, extra: tuple = ()) -> Any:
        """The claimed derivative at a host point, read back as host arrays."""
        out = self.claim(*self._args(x, dyn), *self.convert(extra))
        return jax.tree_util.tree_map(_host_leaf, out)

    def output(self, x, dyn) -> Any:
        """The shape and dtype of ``f``'s output, as ``jax.ShapeDtypeStruct`` (or the raw tree)."""
        out = self.call_f(x, dyn)
        if is_torch(out) or isinstance(out, np.ndarray | np.generic | jax.Array | float | int):
            return jax.ShapeDtypeStruct(np.shape(_host_leaf(out)), dtype_of(_host_leaf(out)))
        return out

    # -- f at many points -------------------------------------------------------------------

    def f_many(self, x, dyn, points: np.ndarray) -> np.ndarray:
        """``f`` at the flat float64 ``points`` ``[m, n]`` (in the layout of the tree ``x``)."""
        leaves, treedef = jax.tree_util.tree_flatten(x)
        shapes = [np.shape(a) for a in leaves]
        sizes = [int(np.prod(s)) for s in shapes]
        cuts = np.cumsum(sizes)[:-1]

        def tree(row):
            parts = np.split(row, cuts)
            return jax.tree_util.tree_unflatten(
                treedef, [p.reshape(s) for p, s in zip(parts, shapes, strict=True)]
            )

        def one(row):
            return self.value(tree(row), dyn)

        dyn_shapes = tuple(np.shape(a) for a in jax.tree_util.tree_leaves(dyn))
        key = (self.framework, tuple(shapes), dyn_shapes, self.spec, self.static)
        try:
            hash(key)
        except TypeError:  # unhashable static arguments: decide at this call only
            key = object()
        if key not in self._layouts and len(points) >= _BATCH_CHECK:
            self._layouts[key] = self._find_layout(points, shapes, treedef, dyn, one)
        layout = self.batching = self._layouts.get(key, "loop")
        if layout != "trailing":  # points may come point-last (a transposed view)
            points = np.ascontiguousarray(points)
        if layout == "loop":
            return np.array([one(row) for row in points], np.float64)
        per_call = max(1, _BATCH_ELEMENTS // max(1, points.shape[1]))
        out = [
            self._batched(layout, points[i : i + per_call], shapes, treedef, dyn)
            for i in range(0, len(points), per_call)
        ]
        return np.concatenate(out)

    def _batched(self, layout: str, points: np.ndarray, shapes, treedef, dyn) -> np.ndarray:
        k = len(points)
        if layout == "vmap":
            return self._vmapped(points, shapes, treedef, dyn)
        batch = points.reshape((k, *shapes[0]))
        if layout == "trailing":  # contiguous: strided slices would slow f down several-fold
            batch = np.ascontiguousarray(np.moveaxis(batch, 0, -1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = self.f(*self._args(batch, dyn))
        return np.asarray(_host_leaf(out), np.float64).reshape(-1)

    def _vmapped(self, points: np.ndarray, shapes, treedef, dyn) -> np.ndarray:
        torch = _torch()
        sizes = [int(np.prod(s)) for s in shapes]
        dyn_t = self.convert(dyn)
        spec, static = self.spec, self.static

        def g(row):
            parts = torch.split(row, sizes)
            leaves = [p.reshape(s) for p, s in zip(parts, shapes, strict=True)]
            return self.f(
                *spec.assemble(jax.tree_util.tree_unflatten(treedef, leaves), dyn_t, static)
            )

        out = torch.func.vmap(g)(torch.from_numpy(np.ascontiguousarray(points)))
        return out.detach().double().numpy().reshape(-1)

    def _find_layout(self, points: np.ndarray, shapes, treedef, dyn, one: Callable) -> str:
        """The first batched layout whose values match single calls at a few points, else a loop."""
        probe = points[[0, len(points) // 2, len(points) - 1]]
        singles = np.array([one(row) for row in probe])
        if self.framework == "torch":
            candidates = ["vmap"]
        else:
            candidates = ["leading", "trailing"] if len(shapes) == 1 else []
        for layout in candidates:
            try:
                got = self._batched(layout, probe, shapes, treedef, dyn)
            except Exception:  # noqa: BLE001 - f does not take a batch this way: try the next
                continue
            tol = 1e-9 * np.maximum(np.abs(singles), np.finfo(np.float64).tiny)
            if got.shape == singles.shape and np.all(np.abs(got - singles) <= tol):
                return layout
        return "loop"


def torch_autograd_works(f: Callable, args: tuple, argnums: tuple[int, ...]) -> bool:
    """``f(*args)`` is a torch scalar that ``torch.autograd`` can differentiate in ``argnums``."""
    torch = _torch()
    targs = list(jax.tree_util.tree_map(_to_torch, args))
    for i in argnums:
        targs[i] = jax.tree_util.tree_map(
            lambda a: a.detach().double().requires_grad_(True), targs[i]
        )
    try:
        out = f(*targs)
    except Exception:  # noqa: BLE001 - the engine calls f again and reports what it raises
        return False
    return is_torch(out) and out.requires_grad and torch.is_floating_point(out)


class TorchCalls(HostCalls):
    """A PyTorch ``f`` with ``torch.autograd`` as the reference, in the JAX programs' interface."""

    reference = "torch.autograd"

    def _autograd(self, x, dyn, extra: tuple) -> tuple[float, Any]:
        """``(f, its derivative of the check's order)`` by ``torch.autograd`` in ``x``'s dtype."""
        torch = _torch()
        leaves, treedef = jax.tree_util.tree_flatten(x)
        ts = [_to_torch(np.asarray(a)).requires_grad_(True) for a in leaves]
        dyn_t = self.convert(dyn)

        def fx(*ts):
            tree = jax.tree_util.tree_unflatten(treedef, list(ts))
            return self.f(*self.spec.assemble(tree, dyn_t, self.static))

        if self.order == "gradient":
            out = fx(*ts)
            grads = torch.autograd.grad(out, ts, allow_unused=True)
            grads = [
                torch.zeros_like(t) if g is None else g for g, t in zip(grads, ts, strict=True)
            ]
        elif self.order == "hessian":
            out = fx(*ts)
            try:  # vmapped backward passes: one call instead of one per entry
                hess = torch.autograd.functional.hessian(fx, ts[0], vectorize=True)
            except RuntimeError:
                hess = torch.autograd.functional.hessian(fx, ts[0])
            grads = [hess]
        else:
            vs = [_to_torch(np.asarray(a)) for a in jax.tree_util.tree_leaves(extra[0])]
            out, grads = torch.autograd.functional.hvp(fx, tuple(ts), tuple(vs))
            grads = list(grads)
        host = [to_host(g) for g in grads]
        return float(out.detach().double()), jax.tree_util.tree_unflatten(treedef, host)

    def _grad_many(self, x, dyn, points: np.ndarray) -> np.ndarray:
        """``torch.autograd``'s gradient (flat, float64) at every row of ``points``."""
        leaves, treedef = jax.tree_util.tree_flatten(x)
        shapes = [np.shape(a) for a in leaves]
        cuts = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]
        rows = []
        for row in points:
            parts = [p.reshape(s) for p, s in zip(np.split(row, cuts), shapes, strict=True)]
            self_order, self.order = self.order, "gradient"
            try:
                _, g = self._autograd(jax.tree_util.tree_unflatten(treedef, parts), dyn, ())
            finally:
                self.order = self_order
            rows.append(np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(g)]))
        return np.asarray(rows, np.float64)

    def bundle(self, x, dyn, P: np.ndarray, extra: tuple = (), *, fd: bool | None = None):
        """``(f, torch.autograd's derivative, finite-difference evaluations, claimed)`` in float64."""
        value, ref = self._autograd(x, dyn, extra)
        fs = np.zeros((0,))
        if P.shape[0]:
            flat = np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(x)])
            pts = np.concatenate([flat + P, flat - P, flat + 2 * P, flat - 2 * P])
            fs = (
                self.f_many(x, dyn, pts)
                if self.order == "gradient"
                else self._grad_many(x, dyn, pts)
            )
        return value, ref, fs, self.claimed(x, dyn, extra)

    def low(self, x, dyn, extra: tuple = ()):
        """``(claimed, torch.autograd's derivative)`` in the dtype of ``x``."""
        return self.claimed(x, dyn, extra), self._autograd(x, dyn, extra)[1]
