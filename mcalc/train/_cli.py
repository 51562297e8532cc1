"""``mcalc train CONFIG [key=value ...]``: one run from a config file (a thin shell over :func:`mcalc.train`)."""

from __future__ import annotations

import argparse
import os
import sys

_EPILOG = """\
examples:
  mcalc train configs/p2.yaml                       train P2 from a config file
  mcalc train p4 optimizer.learning_rate=0.05       a task's embedded default, overridden
  mcalc train configs/p7.yaml train.batch_size=32 optimizer.schedule.args.init_value=0.02
  mcalc train --resume runs/p7-20260101-120000      continue a killed run from its last checkpoint
  mcalc train --resume runs/p7-... train.steps=4000 continue it further than it was going
  mcalc train examples/poisson.yaml                 a task of your own (task: poisson.py:poisson)
  mcalc train p2 --print-config > my.yaml           start a config of your own

key=value overrides may come before or after the flags.
exit status: 0 trained (or converged), 1 the loss diverged, 2 a bad config or bad data,
130 interrupted (Ctrl-C; the run resumes with --resume).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    parser.add_argument(
        "config",
        nargs="?",
        help="a YAML config file, or a task (p2, p3, p4, p7, or MODULE:NAME) for its embedded "
        "default; optional with --resume (the run's own config is used)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="override a config key (dotted; values are YAML: 1e-3, null, {momentum: 0.9})",
    )
    parser.add_argument(
        "--resume", metavar="RUN_DIR", help="continue this run folder from its last checkpoint"
    )
    parser.add_argument(
        "--runs-dir", default="runs", help="parent folder of new run folders (default: ./runs)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config as commented YAML and exit",
    )


def main(args: argparse.Namespace) -> int:
    from ..config import ConfigError, load_config, to_yaml
    from ._driver import Interrupted
    from ._run import train

    config, overrides = args.config, list(args.overrides)
    try:
        if args.print_config:
            if args.resume and config is None:
                config = os.path.join(args.resume, "config.yaml")
            print(to_yaml(load_config(config, overrides)), end="")
            return 0
        result = train(
            config,
            runs_dir=args.runs_dir,
            resume=args.resume,
            progress=False if args.no_progress else None,
            overrides=overrides,
        )
    except (ConfigError, ValueError, TypeError) as e:
        print(f"mcalc train: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(
            f"mcalc train: interrupted; the run folder {e.folder} keeps its last checkpoint.\n"
            f"continue with: {e.resume}",
            file=sys.stderr,
        )
        return 130
    except KeyboardInterrupt:
        print("mcalc train: interrupted before the run folder was made.", file=sys.stderr)
        return 130
    print(result.summary["message"])
    print(f"run folder: {result.run_dir}")
    if result.status == "diverged":
        return 1
    return 0
