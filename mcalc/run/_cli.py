"""``mcalc run``: the main job on its embedded default (a thin shell over :func:`mcalc.run.run`)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", default="results", help="parent of the new results folder (default: ./results)"
    )
    parser.add_argument(
        "--config",
        action="append",
        metavar="FILE",
        help="train this config instead of the built-in tasks' defaults (repeat for several; "
        "a task of your own included)",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the verification step")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def main(args: argparse.Namespace) -> int:
    import sys

    from ..config import ConfigError
    from ..train._driver import Interrupted
    from ._main import run

    try:
        report = run(
            args.out,
            configs=args.config,
            verify=not args.no_verify,
            progress=False if args.no_progress else None,
        )
    except (ConfigError, ValueError, TypeError) as e:
        print(f"mcalc run: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(
            f"mcalc run: interrupted; the run folder {e.folder} keeps its last checkpoint.\n"
            f"continue it with: {e.resume}",
            file=sys.stderr,
        )
        return 130
    print(report.report)
    return 0 if report.ok else 1
