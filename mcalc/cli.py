"""The ``mcalc`` command line: a thin dispatcher onto library functions.

Each subcommand lives with the code it drives and exposes two functions,
``add_arguments(parser)`` and ``main(args) -> int``; this module only wires them
up, importing each lazily so that ``mcalc --help`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

# subcommand -> (module, one-line help)
_COMMANDS: dict[str, tuple[str, str]] = {
    "verify": (
        "mcalc.verify._cli",
        "check every built-in closed form against jax.grad and finite differences",
    ),
    "check": (
        "mcalc.check._cli",
        "check your own derivative (gradient, Hessian, HVP; JAX, NumPy or PyTorch code)",
    ),
    "cookbook": (
        "mcalc.cookbook._cli",
        "the verified matrix cookbook: list, search and show identities with their checks",
    ),
    "train": ("mcalc.train._cli", "train one run from a config file"),
    "sweep": ("mcalc.sweep._cli", "train a hyperparameter sweep as one compiled program"),
    "predict": (
        "mcalc.train._predict_cli",
        "predict with a trained run on raw features (CSV or NPZ)",
    ),
    "run": (
        "mcalc.run._cli",
        "the main job: verify, train every task on its default data, write a report",
    ),
}


def _available() -> dict[str, tuple[str, str]]:
    out = {}
    for name, (module, help_) in _COMMANDS.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            out[name] = (module, help_)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcalc",
        description="Matrix calculus of classic machine learning, verified and trained in JAX.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_) in _available().items():
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse a command line; the config and ``key=value`` overrides may come in any order,
    before, between or after flags.

    argparse fills a subcommand's ``config`` and ``overrides`` only from the positionals
    that stand together; the ones after a flag come back unrecognised and are sorted here,
    so ``mcalc train train.steps=100 --no-progress p2`` reads as
    ``mcalc train p2 train.steps=100 --no-progress``.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    takes = hasattr(args, "overrides")
    sub = parser._subparsers._group_actions[0].choices.get(args.command)  # noqa: SLF001
    bad = [a for a in extra if not takes or a.startswith("-")]
    if bad:
        sub.error(f"unrecognized arguments: {' '.join(bad)}")
    if not takes:
        return args
    # The config is whichever positional is not key=value, wherever it stands
    # (`mcalc sweep train.steps=9 sweep.yaml`, `mcalc train --resume DIR train.steps=9`).
    given = [a for a in (args.config, *args.overrides, *extra) if a is not None]
    configs = [a for a in given if not _is_override(a)]
    if len(configs) > 1:
        sub.error(
            f"one config file, then key=value overrides; got {len(configs)} arguments that are "
            f"not key=value: {', '.join(configs)}"
        )
    args.config = configs[0] if configs else None
    args.overrides = [a for a in given if _is_override(a)]
    return args


def _is_override(arg: str) -> bool:
    """``key=value`` (not a flag, not an existing file whose name holds ``=``)."""
    return "=" in arg and not arg.startswith("-") and not os.path.exists(arg)


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status. ``argv=None`` (the ``mcalc`` program) reads ``sys.argv``."""
    args = parse_args(argv)
    try:
        return int(importlib.import_module(args._module).main(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C outside a run's own handling: no traceback
        print(f"mcalc {args.command}: interrupted.", file=sys.stderr)
        return 130
    finally:
        if argv is None:
            # The work is done (or stopped): a Ctrl-C while the interpreter shuts down (JAX's
            # exit handlers take a moment) would print a traceback from inside them.
            signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
