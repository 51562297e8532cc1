"""The arguments of a gradient check: which are differentiated, traced or static; points near them.

Everything here works on host (NumPy) copies of the user's arguments, so that a
point can be cast to any dtype (the user's, float32, float64) without JAX's
global x64 setting truncating it on the way.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
import sys
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

__all__ = [
    "ArgSpec",
    "make_spec",
    "to_host",
    "promote_floats",
    "is_floating",
    "perturb",
    "symmetrise",
    "cast_floats",
    "float_leaves",
    "dtype_of",
    "is_label_like",
    "perturbation",
    "is_torch",
    "framework_of",
]


def is_floating(dtype: Any) -> bool:
    """True for real floating dtypes, including ``bfloat16`` (which NumPy does not call floating)."""
    try:
        return bool(jax.numpy.issubdtype(dtype, jax.numpy.floating))
    except TypeError:
        return False


def is_torch(x: Any) -> bool:
    """A ``torch.Tensor`` (without importing torch: only a program that did can pass one)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _torch_dtype(t: Any) -> np.dtype:
    name = str(t.dtype).removeprefix("torch.")
    return jax.numpy.dtype(name) if name != "bool" else np.dtype(bool)


def dtype_of(x: Any) -> np.dtype:
    """The dtype of an array (NumPy, JAX or PyTorch) or a Python scalar."""
    if is_torch(x):
        return _torch_dtype(x)
    return x.dtype if hasattr(x, "dtype") else np.result_type(x)


def framework_of(tree: Any) -> str:
    """``"torch"`` when any leaf is a torch tensor, ``"jax"`` when any is a JAX array, else ``"numpy"``."""
    leaves = jax.tree_util.tree_leaves(tree)
    if any(is_torch(a) for a in leaves):
        return "torch"
    if any(isinstance(a, jax.Array) for a in leaves):
        return "jax"
    return "numpy"


def _is_array(x: Any) -> bool:
    return isinstance(x, jax.Array | np.ndarray | np.generic) or is_torch(x)


def _torch_to_numpy(t: Any) -> np.ndarray:
    t = t.detach().cpu()
    if str(t.dtype) == "torch.bfloat16":  # NumPy has no bfloat16: through float32, exactly
        return t.float().numpy().astype(jax.numpy.bfloat16)
    return t.numpy().copy()


def _is_dynamic(arg: Any) -> bool:
    """An argument is traced when every leaf is an array; Python scalars and the like stay static."""
    leaves = jax.tree_util.tree_leaves(arg)
    return bool(leaves) and all(_is_array(leaf) for leaf in leaves)


def to_host(tree: Any) -> Any:
    """NumPy copies of every array leaf (torch tensors too); other leaves (Python scalars,
    strings) as they are."""

    def leaf(a):
        if is_torch(a):
            return _torch_to_numpy(a)
        return np.asarray(a) if _is_array(a) else a

    return jax.tree_util.tree_map(leaf, tree)


def promote_floats(args: tuple, argnum: int | Sequence[int]) -> tuple:
    """Python floats in the differentiated arguments become arrays of JAX's default float."""

    def leaf(a):
        if isinstance(a, numbers.Real) and not isinstance(a, bool | numbers.Integral):
            return np.asarray(a, dtype=jax.numpy.result_type(float))
        return a

    positions = (argnum,) if isinstance(argnum, numbers.Integral) else tuple(argnum)
    out = list(args)
    for i in positions:
        if isinstance(i, numbers.Integral) and -len(args) <= i < len(args):
            out[i] = jax.tree_util.tree_map(leaf, args[i])
    return tuple(out)


def _param_names(f: Callable[..., Any], n: int) -> tuple[str, ...]:
    """Names of ``f``'s first ``n`` positional parameters, ``args[i]`` where unknown."""
    names: list[str] = []
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        else:
            break
    names = names[:n]
    return tuple(names) + tuple(f"args[{i}]" for i in range(len(names), n))


@dataclasses.dataclass(frozen=True)
class ArgSpec:
    """How ``check_grad`` splits ``f``'s positional arguments.

    Attributes:
      n_args: number of positional arguments.
      argnums: the differentiated positions.
      single: ``argnum`` was an int (the gradient is one tree, not a tuple of trees).
      static_pos: positions passed through unchanged (Python scalars, strings, ...).
      dyn_pos: traced positions that are not differentiated.
      names: a display name per position (``f``'s parameter names).
      fixed: positions kept exactly as given at every random point.
    """

    n_args: int
    argnums: tuple[int, ...]
    single: bool
    static_pos: tuple[int, ...]
    dyn_pos: tuple[int, ...]
    names: tuple[str, ...]
    fixed: tuple[int, ...]

    def split(self, args: Sequence[Any]) -> tuple[Any, tuple[Any, ...]]:
        """``args`` -> (the differentiated tree, the other traced arguments)."""
        x = args[self.argnums[0]] if self.single else tuple(args[i] for i in self.argnums)
        return x, tuple(args[i] for i in self.dyn_pos)

    def static_values(self, args: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(args[i] for i in self.static_pos)

    def assemble(self, x: Any, dyn: Sequence[Any], static: Sequence[Any]) -> tuple[Any, ...]:
        out: list[Any] = [None] * self.n_args
        if self.single:
            out[self.argnums[0]] = x
        else:
            for i, xi in zip(self.argnums, x, strict=True):
                out[i] = xi
        for i, a in zip(self.dyn_pos, dyn, strict=True):
            out[i] = a
        for i, a in zip(self.static_pos, static, strict=True):
            out[i] = a
        return tuple(out)

    @property
    def wrt_name(self) -> str:
        return ", ".join(self.names[i] for i in self.argnums)

    def leaf_names(self, x: Any) -> list[str]:
        """Readable names of the differentiated leaves, e.g. ``params['W1']`` or ``X``."""
        out = []
        for path, _ in jax.tree_util.tree_flatten_with_path(x)[0]:
            if self.single:
                base, rest = self.names[self.argnums[0]], path
            else:
                base, rest = self.names[self.argnums[path[0].idx]], path[1:]
            out.append(base + jax.tree_util.keystr(tuple(rest)))
        return out

    def arg_leaf_names(self, args: Sequence[Any]) -> list[tuple[str, int]]:
        """``(name, position)`` of every array leaf of every traced argument."""
        out = []
        for i in sorted(self.argnums + self.dyn_pos):
            for path, _ in jax.tree_util.tree_flatten_with_path(args[i])[0]:
                out.append((self.names[i] + jax.tree_util.keystr(tuple(path)), i))
        return out


def make_spec(
    fn: str,
    f: Callable[..., Any],
    args: Sequence[Any],
    argnum: int | Sequence[int],
    fixed: Sequence[int],
) -> ArgSpec:
    """Validate ``argnum``/``fixed`` against ``args`` and classify every argument."""
    n = len(args)
    single = isinstance(argnum, numbers.Integral) and not isinstance(argnum, bool)
    raw = (argnum,) if single else argnum
    try:
        raw = tuple(raw)
    except TypeError:
        raise TypeError(
            f"{fn}: argnum must be an int or a tuple of ints; got {type(argnum).__name__} {argnum!r}."
        ) from None
    if not raw:
        raise ValueError(f"{fn}: argnum must name at least one argument; got {argnum!r}.")
    argnums = []
    for a in raw:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral):
            raise TypeError(f"{fn}: argnum must be an int or a tuple of ints; got {argnum!r}.")
        if not -n <= a < n:
            valid = f"0..{n - 1}" if n else "none: no positional arguments were given"
            raise ValueError(
                f"{fn}: argnum={a} is out of range for {n} positional argument"
                f"{'s' if n != 1 else ''} (valid: {valid})."
            )
        argnums.append(int(a) % n)
    if len(set(argnums)) != len(argnums):
        raise ValueError(f"{fn}: argnum has repeated positions; got {argnum!r}.")
    fixed_t = []
    for a in fixed:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral) or not -n <= a < n:
            raise ValueError(
                f"{fn}: fixed must list argument positions in 0..{n - 1}; got {tuple(fixed)!r}."
            )
        fixed_t.append(int(a) % n)
    names = _param_names(f, n)
    for i in argnums:
        leaves = jax.tree_util.tree_leaves(args[i])
        if not leaves:
            raise ValueError(
                f"{fn}: argument {names[i]} (argnum={i}) has no arrays to differentiate."
            )
        for leaf in leaves:
            dtype = dtype_of(leaf) if _is_array(leaf) else None
            if dtype is None or not is_floating(dtype):
                got = f"dtype {dtype}" if dtype is not None else type(leaf).__name__
                raise TypeError(
                    f"{fn}: argnum={i} selects {names[i]}, which must be floating arrays to be "
                    f"differentiated; got {got}. Cast it, e.g. x.astype(jnp.float32)."
                )
    static = tuple(i for i in range(n) if i not in argnums and not _is_dynamic(args[i]))
    dyn = tuple(i for i in range(n) if i not in argnums and i not in static)
    return ArgSpec(n, tuple(argnums), single, static, dyn, names, tuple(fixed_t))


def float_leaves(tree: Any) -> list[np.ndarray]:
    return [a for a in jax.tree_util.tree_leaves(tree) if _is_array(a) and is_floating(a.dtype)]


def cast_floats(tree: Any, dtype: Any) -> Any:
    """Cast the floating leaves of a host tree to ``dtype``; other leaves unchanged."""
    return jax.tree_util.tree_map(
        lambda a: a.astype(dtype) if _is_array(a) and is_floating(a.dtype) else a, tree
    )


def _rms(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    return float(np.sqrt(np.dot(a, a) / a.size)) if a.size else 0.0


def is_label_like(a: Any) -> bool:
    """A floating array whose entries are all in {0, 1} or all in {-1, 1}: labels, one-hot rows.

    Such an argument is data, not a quantity anyone differentiates in: a random point
    near the given one keeps it as it is (moving it breaks the identities a gradient
    relies on, such as rows of one-hot labels summing to one).
    """
    if not (_is_array(a) and is_floating(dtype_of(a))) or np.size(a) == 0:
        return False
    values = np.unique(np.asarray(a, np.float64))
    return bool(np.isin(values, (0.0, 1.0)).all() or np.isin(values, (-1.0, 1.0)).all())


@dataclasses.dataclass(frozen=True)
class Perturbation:
    """Which array leaves a random point near the given arguments moves, and which it holds.

    Attributes:
      moved: ``(position, path)`` of every floating leaf that moves.
      perturbed: their names, e.g. ``("w", "X")``.
      held: names of the traced, non-differentiated leaves that stay as given, each
        with why: ``"y (labels)"``, ``"idx (integer)"``, ``"Y (fixed=)"``.
    """

    moved: frozenset
    perturbed: tuple[str, ...]
    held: tuple[str, ...]


def perturbation(spec: ArgSpec, args: Sequence[Any]) -> Perturbation:
    """Decide which leaves move: every floating leaf of the differentiated arguments, and of the
    other traced arguments those that are not ``fixed`` and not labels (:func:`is_label_like`)."""
    moved, perturbed, held = set(), [], []
    for i in sorted(spec.argnums + spec.dyn_pos):
        for path, a in jax.tree_util.tree_flatten_with_path(args[i])[0]:
            name = spec.names[i] + jax.tree_util.keystr(tuple(path))
            differentiated = i in spec.argnums
            if not (_is_array(a) and is_floating(dtype_of(a))):
                if not differentiated:
                    held.append(f"{name} (integer)" if _is_array(a) else name)
                continue
            if np.size(a) == 0:
                continue
            if i in spec.fixed:
                held.append(f"{name} (fixed=)")
            elif not differentiated and is_label_like(a):
                held.append(f"{name} (labels)")
            else:
                moved.add((i, tuple(path)))
                perturbed.append(name)
    return Perturbation(frozenset(moved), tuple(perturbed), tuple(held))


def perturb(
    spec: ArgSpec,
    args: Sequence[Any],
    rng: np.random.Generator,
    rel: float,
    plan: Perturbation | None = None,
) -> tuple:
    """A random point near ``args``: the leaves that ``plan`` (:func:`perturbation`) moves move.

    Each leaf moves by Gaussian noise of standard deviation ``rel * rms(leaf)``:
    a vector moves by about ``rel`` of its length, and a matrix by a matrix whose
    spectral norm is about ``2 rel`` times the scale of its entries, so a
    well-conditioned matrix stays well-conditioned. All-zero leaves move on the
    scale of the other arguments (1 if there is none), so a formula right only at
    zero cannot pass.
    """
    plan = perturbation(spec, args) if plan is None else plan
    scales = [_rms(a) for a in float_leaves([args[i] for i in spec.argnums + spec.dyn_pos])]
    nonzero = [s for s in scales if s > 0]
    fallback = float(np.exp(np.mean(np.log(nonzero)))) if nonzero else 1.0

    def move(a):
        s = _rms(a) or fallback
        noise = rng.standard_normal(a.shape)
        return (np.asarray(a, np.float64) + rel * s * noise).astype(a.dtype)

    out = list(args)
    for i in spec.argnums + spec.dyn_pos:
        leaves, treedef = jax.tree_util.tree_flatten_with_path(args[i])
        new = [move(a) if (i, tuple(path)) in plan.moved else a for path, a in leaves]
        out[i] = jax.tree_util.tree_unflatten(treedef, new)
    return tuple(out)


def symmetrise(spec: ArgSpec, args: Sequence[Any]) -> tuple[tuple, list[str]]:
    """``args`` with every square floating matrix ``A`` replaced by ``(A + Aᵀ)/2``; their names."""
    names: list[str] = []
    out = list(args)
    for i in spec.argnums + spec.dyn_pos:
        leaves, treedef = jax.tree_util.tree_flatten_with_path(args[i])
        new = []
        for path, a in leaves:
            if (
                _is_array(a)
                and is_floating(a.dtype)
                and a.ndim == 2
                and a.shape[0] == a.shape[1] > 1
            ):
                a64 = np.asarray(a, np.float64)
                if not np.array_equal(a64, a64.T):
                    names.append(spec.names[i] + jax.tree_util.keystr(tuple(path)))
                new.append(((a64 + a64.T) / 2).astype(a.dtype))
            else:
                new.append(a)
        out[i] = jax.tree_util.tree_unflatten(treedef, new)
    return tuple(out), names
