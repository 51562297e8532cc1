"""``mcalc sweep CONFIG [key=value ...]`` and ``mcalc sweep --resume SWEEP_DIR``, in one
process or several (``--processes N`` on this machine; ``--distributed`` or explicit
coordinator flags, one process per host of a cluster)."""

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
    group = parser.add_argument_group(
        "several processes (jax.distributed; the lanes are spread over every process's devices)"
    )
    group.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="start N processes on this machine and run the sweep over all of them",
    )
    group.add_argument(
        "--distributed",
        action="store_true",
        help="join a multi-process run from the cluster's environment (SLURM, Open MPI, ...): "
        "run the same command on every host",
    )
    group.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="join with explicit settings: the coordinator (process 0's host)",
    )
    group.add_argument(
        "--num-processes", type=int, metavar="N", help="with --coordinator: the number of processes"
    )
    group.add_argument(
        "--process-id",
        type=int,
        metavar="I",
        help="with --coordinator: this process's index, 0..N-1",
    )
    parser.epilog = """\
examples:
  mcalc sweep configs/l2_breast_cancer_sweep.yaml
  mcalc sweep configs/l2_breast_cancer_sweep.yaml --processes 2      two local processes
  srun --ntasks=4 mcalc sweep sweep.yaml --distributed                 one process per SLURM task
  mcalc sweep --resume sweeps/l2-20261129-120000 [--processes 2]       continue a killed sweep

exit status: 0 done (diverged lanes are reported, not errors), 2 a bad config or sweep,
130 interrupted (the folder resumes with --resume).
"""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def _distributed_settings(args: argparse.Namespace) -> tuple[object, str | None]:
    """``(the distributed= argument of mcalc.sweep, an error)`` from the flags."""
    explicit = [args.coordinator, args.num_processes, args.process_id]
    if args.processes is not None and (args.distributed or any(x is not None for x in explicit)):
        return (
            None,
            "--processes starts local processes itself; do not combine it with --distributed or --coordinator.",
        )
    if args.processes is not None and args.processes < 1:
        return None, f"--processes must be at least 1; got {args.processes}."
    if any(x is not None for x in explicit):
        if not all(x is not None for x in explicit):
            return None, "--coordinator, --num-processes and --process-id go together."
        if not 0 <= args.process_id < args.num_processes:
            return (
                None,
                f"--process-id must be in 0..{args.num_processes - 1}; got {args.process_id}.",
            )
        if args.distributed:
            return (
                None,
                "give --distributed (from the environment) or --coordinator (explicit), not both.",
            )
        return {
            "coordinator": args.coordinator,
            "num_processes": args.num_processes,
            "process_id": args.process_id,
        }, None
    return (True if args.distributed else None), None


def main(args: argparse.Namespace) -> int:
    from ..config import ConfigError
    from ..train._driver import Interrupted
    from ._run import sweep
    from ._spec import SweepError

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
    distributed, problem = _distributed_settings(args)
    if problem:
        print(f"mcalc sweep: {problem}", file=sys.stderr)
        return 2
    if args.resume and overrides:
        print(
            "mcalc sweep: --resume takes no overrides (the folder's sweep.yaml is used).",
            file=sys.stderr,
        )
        return 2
    progress = None if not args.no_progress else False
    try:
        if args.processes is not None and args.processes > 1:
            from pathlib import Path

            from ._distributed import launch_local
            from ._run import prepare_sweep

            folder = (
                Path(args.resume).absolute()
                if args.resume
                else prepare_sweep(args.config, sweeps_dir=args.sweeps_dir, **_raw(overrides))
            )
            if args.resume and not (folder / "sweep.yaml").is_file():
                raise SweepError(f"mcalc.sweep: resume={args.resume!r} is not a sweep folder.")
            print(
                f"mcalc sweep: {folder}: training over {args.processes} processes", file=sys.stderr
            )
            child = ["--resume", str(folder), *(["--no-progress"] if args.no_progress else [])]
            return launch_local(child, args.processes, folder)
        if args.resume:
            result = sweep(resume=args.resume, progress=progress, distributed=distributed)
        else:
            result = sweep(
                args.config,
                sweeps_dir=args.sweeps_dir,
                progress=progress,
                distributed=distributed,
                **_raw(overrides),
            )
    except (ConfigError, SweepError, ValueError, TypeError) as e:
        print(f"mcalc sweep: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        import os

        from ._distributed import LAUNCHED

        if not os.environ.get(LAUNCHED):  # under --processes the launcher says how to resume
            print(
                f"mcalc sweep: interrupted; the sweep folder {e.folder} keeps its last "
                f"checkpoints.\ncontinue with: {e.resume}",
                file=sys.stderr,
            )
        return 130
    except KeyboardInterrupt:
        print("mcalc sweep: interrupted before the sweep folder was made.", file=sys.stderr)
        return 130
    import jax

    if jax.process_index() != 0:  # process 0 reports for all
        return 0
    print(result.table())
    counts: dict[str, int] = {}
    for r in result.rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print()
    print(f"{len(result.rows)} lanes: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if result.seeds and any(len(c["lanes"]) > 1 for c in result.configurations):
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
