"""``mcalc check MODULE:F MODULE:GRAD``: the gradient checker on your own code, from the shell.

``--hessian`` checks a claimed Hessian instead, ``--hvp`` a Hessian-vector
product ``HVP(*args, v)``. ``F`` may be JAX, NumPy/SciPy or PyTorch code (the
arguments are NumPy arrays, or torch tensors with ``--torch``).

Exit status: 0 when the gradient agrees, 1 when it is wrong, 2 on bad usage (argparse's
convention: a malformed shape, an unimportable ``MODULE:F``, an ``f`` that is not scalar, ...).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from typing import Any

import numpy as np

__all__ = ["add_arguments", "main", "parse_shape", "load_object"]

_PROG = "mcalc check"


class UsageError(Exception):
    """Bad usage: reported as ``mcalc check: error: ...`` with exit status 2."""


def parse_shape(text: str) -> tuple[int, ...]:
    """``"5"`` -> ``(5,)``, ``"5,5"`` or ``"5x5"`` -> ``(5, 5)``, ``"scalar"`` or ``"()"`` -> ``()``.

    Raises:
      argparse.ArgumentTypeError: on anything else.
    """
    t = text.strip().lower().replace(" ", "")
    if t in ("", "()", "scalar"):
        return ()
    parts = t.strip("()[]").replace("x", ",").split(",")
    parts = [p for p in parts if p != ""] if t.endswith(",") else parts
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = None
    if not shape or any(d < 0 for d in shape):
        raise argparse.ArgumentTypeError(
            f"invalid shape {text!r}: expected comma-separated non-negative integers such as "
            "5 or 5,5 (or 'scalar' for a 0-d argument)"
        )
    return shape


def load_object(ref: str, *, what: str) -> Any:
    """Load ``MODULE:NAME`` (a dotted module importable from the current directory, or a
    ``.py`` path; ``NAME`` may be dotted) and check that it is callable.

    Raises:
      UsageError: naming what could not be found (see :func:`mcalc._imports.load_object`).
    """
    from .._imports import LoadError
    from .._imports import load_object as load

    try:
        obj = load(ref, what=what)
    except LoadError as e:
        raise UsageError(str(e)) from None
    if not callable(obj):
        raise UsageError(f"{what} {ref!r} is not callable; got {type(obj).__name__}")
    return obj


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check a hand-derived gradient GRAD of a scalar function F against jax.grad (in float64) "
        "and finite differences, at random arguments of the given shapes; say how it is wrong. "
        "F may be JAX, NumPy/SciPy (checked against finite differences alone) or PyTorch code."
    )
    parser.epilog = (
        "example: mcalc check mymod:f mymod:grad_f --shape 5 --shape 5,5   "
        "(exit status 0: right, 1: wrong, 2: bad usage)"
    )
    parser.add_argument("f", metavar="MODULE:F", help="the scalar function, e.g. mymod:loss")
    parser.add_argument(
        "grad",
        metavar="MODULE:GRAD",
        help="its claimed gradient (with --hessian: its Hessian; with --hvp: HVP(*args, v) = H v)",
    )
    order = parser.add_mutually_exclusive_group()
    order.add_argument(
        "--hessian",
        action="store_true",
        help="GRAD is the Hessian, shaped arg.shape + arg.shape (or [n, n])",
    )
    order.add_argument(
        "--hvp",
        action="store_true",
        help="GRAD is a Hessian-vector product HVP(*args, v), shaped like the argument",
    )
    parser.add_argument(
        "--shape",
        action="append",
        type=parse_shape,
        default=[],
        metavar="SHAPE",
        help="shape of the next positional argument of F, e.g. --shape 5 --shape 5,5 "
        "('scalar' for a 0-d one); random normal values",
    )
    parser.add_argument(
        "--sampler",
        metavar="MODULE:SAMPLE",
        help="draw the arguments instead: SAMPLE(key) or SAMPLE(key, dtype) returns a tuple",
    )
    parser.add_argument("--argnum", type=int, default=0, help="argument to differentiate (0)")
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float16", "bfloat16", "float32", "float64"],
        help="dtype of the arguments (float32)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--trials", type=int, default=5, help="number of points checked (5)")
    parser.add_argument("--rtol", type=float, help="relative tolerance (default: by dtype)")
    parser.add_argument("--atol", type=float, help="absolute tolerance (default: by dtype)")
    parser.add_argument(
        "--no-fd", action="store_true", help="compare with jax.grad only, not finite differences"
    )
    parser.add_argument(
        "--torch",
        action="store_true",
        help="pass the random arguments as torch tensors (for a PyTorch F)",
    )
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output")


def _random_args(shapes: list[tuple[int, ...]], dtype: str, seed: int, torch: bool) -> tuple:
    import jax.numpy as jnp

    rng = np.random.default_rng(seed)
    np_dtype = jnp.dtype(dtype)  # jnp knows bfloat16 too
    arrays = tuple(rng.standard_normal(s).astype(np_dtype) for s in shapes)
    if not torch:
        return arrays
    try:
        import torch as th
    except ImportError:
        raise UsageError("--torch needs PyTorch: pip install torch") from None
    return tuple(th.tensor(a.astype(np.float32) if dtype == "bfloat16" else a) for a in arrays)


def _check_arity(f: Any, n: int) -> None:
    """One --shape per positional parameter of F (when F's signature says how many)."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if not len(required) <= n <= len(positional):
        names = ", ".join(p.name for p in positional)
        raise UsageError(
            f"F takes {len(required)} positional argument{'s' if len(required) != 1 else ''} "
            f"({names}) but {n} --shape {'was' if n == 1 else 'were'} given: give one --shape "
            "per argument"
        )


def main(args: argparse.Namespace) -> int:
    from . import check_grad, check_hessian, check_hvp

    try:
        f = load_object(args.f, what="F")
        grad = load_object(args.grad, what="GRAD")
        sampler = load_object(args.sampler, what="--sampler") if args.sampler else None
        if sampler is None and not args.shape:
            raise UsageError(
                "give the shape of each positional argument of F (e.g. --shape 5 --shape 5,5), "
                "or --sampler MODULE:SAMPLE"
            )
        if sampler is None:
            _check_arity(f, len(args.shape))
        if args.trials < 1:
            raise UsageError(f"--trials must be >= 1; got {args.trials}")
        point = _random_args(args.shape, args.dtype, args.seed, args.torch)
        check = check_hessian if args.hessian else check_hvp if args.hvp else check_grad
        report = check(
            f,
            grad,
            *point,
            argnum=args.argnum,
            trials=args.trials,
            seed=args.seed,
            sampler=sampler,
            dtype=args.dtype,
            rtol=args.rtol,
            atol=args.atol,
            fd=not args.no_fd,
        )
    except UsageError as e:
        print(f"{_PROG}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # the check could not run: report what raised and where
        notes = "".join(f"\n  {n}" for n in getattr(e, "__notes__", ()))
        what = "" if str(e).startswith("mcalc.") else f"{type(e).__name__}: "
        print(f"{_PROG}: error: {what}{e}{notes}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report)
    return 0 if report.ok else 1
