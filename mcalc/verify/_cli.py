"""``mcalc verify``: every built-in derivation against ``jax.grad`` and finite differences.

Exit status: 0 when every closed form agrees, 1 when one disagrees, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check every built-in closed-form derivative (the seven problems' and the cookbook's: "
        "gradients, Hessians, Hessian-vector products) against autodiff in float64 and central "
        "finite differences, at random sizes, in float32 and float64; print a table."
    )
    parser.add_argument(
        "--format", choices=["text", "markdown", "json"], default="text", help="output (text)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="PATTERN",
        help="only these derivations: an exact name, a glob ('det*', '*_hessian') or a piece of "
        "a name ('det'); case is ignored; a pattern that matches nothing is an error",
    )
    parser.add_argument(
        "--task",
        action="append",
        metavar="TASK",
        help="verify a task's closed form instead (p2, or your own as MODULE:NAME or "
        "path/to/file.py:NAME) at random data, parameters and hyperparameters; repeatable",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--trials", type=int, default=3, help="random sizes per derivation (3)")
    parser.add_argument(
        "--dtype",
        action="append",
        choices=["float16", "bfloat16", "float32", "float64"],
        help="dtype to check in; repeat for several (default: float32 and float64)",
    )


def run(args: argparse.Namespace, derivations=None) -> int:
    """The command's body, with the derivations injectable (tests pass a broken one)."""
    from . import verify

    try:
        if getattr(args, "task", None):
            from ..task import resolve_task
            from ..task._verify import task_derivations

            try:
                tasks = [resolve_task(ref) for ref in args.task]
            except ValueError as e:
                raise ValueError(f"--task: {e}") from None
            derivations = [d for t in tasks for d in task_derivations(t)]
        result = verify(
            dtypes=tuple(args.dtype or ("float32", "float64")),
            trials=args.trials,
            seed=args.seed,
            names=args.only,
            derivations=derivations,
        )
    except (ValueError, TypeError) as e:
        print(f"mcalc verify: error: {e}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(result.to_json())
    elif args.format == "markdown":
        print(result.to_markdown())
    else:
        print(result.to_text())
    return 0 if result.ok else 1


def main(args: argparse.Namespace) -> int:
    return run(args)
