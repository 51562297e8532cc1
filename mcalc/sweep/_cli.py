"""``mcalc sweep CONFIG [key=value ...]`` and ``mcalc sweep --resume SWEEP_DIR``."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", nargs="?", help="a sweep YAML file: a config with a sweep: section"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="override config keys (train.steps=200) or the sweep (sweep.lanes=all, sweep.params.model.lam=[0.1,1])",
    )
    parser.add_argument(
        "--sweeps-dir",
        default="sweeps",
        help="parent folder of the new sweep folder (default: ./sweeps)",
    )
    parser.add_argument(
        "--resume", metavar="SWEEP_DIR", help="continue a killed sweep from its last finished chunk"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    from ..config import ConfigError
    from ..train._driver import Interrupted
    from ._run import sweep
    from ._spec import SweepError

    if args.resume is not None and args.config is not None and "=" in args.config:
        args.overrides = [args.config, *args.overrides]
        args.config = None
    if (args.config is None) == (args.resume is None):
        print("mcalc sweep: give a CONFIG file, or --resume SWEEP_DIR (not both).", file=sys.stderr)
        return 2
    overrides = {}
    for item in args.overrides:
        if "=" not in item:
            print(
                f"mcalc sweep: an override must look like key=value; got {item!r}.", file=sys.stderr
            )
            return 2
        key, _, value = item.partition("=")
        overrides[key.strip()] = value
    try:
        if args.resume:
            if overrides:
                print(
                    "mcalc sweep: --resume takes no overrides (the folder's sweep.yaml is used).",
                    file=sys.stderr,
                )
                return 2
            result = sweep(resume=args.resume, progress=None if not args.no_progress else False)
        else:
            result = sweep(
                args.config,
                sweeps_dir=args.sweeps_dir,
                progress=None if not args.no_progress else False,
                **_raw(overrides),
            )
    except (ConfigError, SweepError, ValueError, TypeError) as e:
        print(f"mcalc sweep: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(
            f"mcalc sweep: interrupted; the sweep folder {e.folder} keeps its last checkpoints.\n"
            f"continue with: {e.resume}",
            file=sys.stderr,
        )
        return 130
    except KeyboardInterrupt:
        print("mcalc sweep: interrupted before the sweep folder was made.", file=sys.stderr)
        return 130
    print(result.table())
    counts: dict[str, int] = {}
    for r in result.rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print()
    print(f"{len(result.rows)} lanes: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if result.seeds and len(result.configurations) > 1:
        print()
        print(f"configurations ranked by mean {result.metric} over their seeds:")
        print(result.ranking(top=10))
        if len(result.configurations) > 10:
            print(f"... ({len(result.configurations)} configurations in all: summary.json)")
        print()
    print(result.describe_best())
    for r in result.rows:
        if r["status"] == "diverged":
            print(f"lane {r['lane']} diverged at step {r['diverged_at']}")
    print(f"results: {result.sweep_dir}")
    return 0


def _raw(overrides: dict[str, str]) -> dict[str, object]:
    """CLI values are YAML text: parse them as the config loader does."""
    from ..config._yaml import safe_load

    out: dict[str, object] = {}
    for k, v in overrides.items():
        try:
            out[k] = safe_load(v) if v.strip() else v
        except Exception:
            out[k] = v
    return out
