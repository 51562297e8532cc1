"""``mcalc run``: the main job on its embedded default (a thin shell over :func:`mcalc.run.run`)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", default="results", help="parent of the new results folder (default: ./results)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def main(args: argparse.Namespace) -> int:
    from ._main import run

    report = run(args.out, progress=False if args.no_progress else None)
    print(report.report)
    return 0 if report.ok else 1
