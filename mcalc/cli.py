"""The ``mcalc`` command line: a thin dispatcher onto library functions.

Each subcommand lives with the code it drives and exposes two functions,
``add_arguments(parser)`` and ``main(args) -> int``; this module only wires them
up, importing each lazily so that ``mcalc --help`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
_COMMANDS: dict[str, tuple[str, str]] = {
    "verify": (
        "mcalc.verify._cli",
        "check every built-in closed form against jax.grad and finite differences",
    ),
    "check": ("mcalc.check._cli", "check your own gradient function against jax.grad"),
    "cookbook": (
        "mcalc.cookbook._cli",
        "the verified matrix cookbook: list, search and show identities with their checks",
    ),
    "train": ("mcalc.train._cli", "train one run from a config file"),
    "sweep": ("mcalc.sweep._cli", "train a hyperparameter sweep as one compiled program"),
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(importlib.import_module(args._module).main(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
