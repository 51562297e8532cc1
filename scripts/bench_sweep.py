"""Sweeps as one compiled program vs a Python loop of jit-compiled runs.

Rows:

- ``resnet sweep 64 configs x 200 steps``: the residual network (D=64, M=256,
  minibatch 256 of 2048 samples, float32, SGD), 8 learning rates x 8 seeds. The
  reference is what a user writes without mcalc's sweep: one jit-compiled
  ``lax.scan`` of 200 steps (the same :class:`mcalc.train.Program` chunk),
  called in a Python loop over the 64 configurations. mcalc runs the same 64
  lanes as one program (:class:`mcalc.sweep.GroupRunner`) with ``B`` lanes side
  by side (``jax.lax.map(..., batch_size=B)``): ``B = 1``, 8, all 64; ``loop``
  (the one compiled single-lane chunk called per lane, one lane per core at a
  time); and ``auto`` (the default ``sweep.lanes``). Floor: the matmul FLOPs of
  64 x 200 steps (10 B D M per step) over the float32 matmul rate timed in the run.
- ``P2 sweep 32 lam``: the same comparison on a small problem (standardised
  breast cancer, 32 values of λ, 500 full-batch steps, float64), where batching
  lanes pays on the CPU.

Every timing excludes compilation (reported apart); medians after a warm-up.
The results also answer how ``sweep.lanes: auto`` should choose (see
``mcalc/train/_lanes.py``).

    python scripts/bench_sweep.py [--quick] [--json PATH]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import _bench  # noqa: E402

import mcalc  # noqa: E402
from mcalc.sweep import GroupRunner  # noqa: E402
from mcalc.train import build_program, make_data  # noqa: E402


def _group(config: dict, lam_key: str, values: list[float], seeds: list[int]):
    cfg = mcalc.load_config(config)
    dataset = mcalc.load_data(cfg)
    program = build_program(cfg, dataset)
    data = make_data(program, dataset)
    lanes = [(v, s) for v in values for s in seeds]
    defaults = program.hyper()
    hypers = {k: jnp.full((len(lanes),), d) for k, d in defaults.items()}
    hypers[lam_key] = jnp.asarray([v for v, _ in lanes], program.dtype)
    keys = jnp.stack([jax.random.PRNGKey(s) for _, s in lanes])
    return program, data, hypers, keys


def resnet_config(D: int, M: int, B: int, N: int, steps: int) -> dict:
    """The residual network's run: synthetic data (N training samples of width D), hidden
    width M, SGD on minibatches of B, ``steps`` steps in one chunk."""
    return {
        "task": "p7",
        "data": {
            "source": "synthetic",
            "n_samples": int(N * 1.25),
            "n_features": D,
            "dtype": "float32",
        },
        "model": {"hidden": M, "init_scale": 1.0},
        "optimizer": {"name": "sgd", "learning_rate": 0.1, "schedule": None},
        "train": {"steps": steps, "log_every": steps, "batch_size": B, "tol": None},
    }


def _rows(
    title, program, data, hypers, keys, widths, t, *, floor=None, floor_note="", goal_floor=None
):
    n = keys.shape[0]
    init1 = jax.jit(program.init)
    chunk1 = jax.jit(program.chunk)

    def loop():
        out = []
        for i in range(n):
            h = {k: v[i] for k, v in hypers.items()}
            state, metrics = chunk1(init1(keys[i], h), h, data)
            out.append(metrics["loss"])
        return out

    ref = t(loop)
    rows = []
    for B in widths:
        runner = GroupRunner(program, data, n, lanes=B, memory_mb=4096, devices=1)
        hyp = runner.lanes_in(hypers)

        def run(runner=runner, hyp=hyp):
            states = runner.init(keys, hypers)
            return runner.chunk(states, hyp)[1]["loss"]

        label = (
            f"one compiled chunk per lane, {runner.workers} at a time"
            if runner.loop
            else f"one program, {runner.batch} side by side"
        ) + (" (auto)" if B == "auto" else "")
        rows.append(
            _bench.Row(
                title,
                "Python loop of jit runs",
                ref,
                label,
                t(run),
                floor=floor,
                floor_note=floor_note,
            ).check(min_speedup=1.0, max_over_floor=goal_floor)
        )
    return rows


def main() -> int:
    args, info, t = _bench.start(_bench.parser(__doc__.splitlines()[0]))
    rate, rate_note = _bench.matmul_rate(t, quick=args.quick)
    rows: list[_bench.Row] = []

    # -- residual network, 64 configurations (8 learning rates x 8 seeds) --------------
    D, M, B, N, steps = (16, 32, 64, 256, 20) if args.quick else (64, 256, 256, 2048, 200)
    lrs, seeds = (
        ([0.1, 0.3], [0, 1]) if args.quick else ([0.01 * 2**i for i in range(8)], list(range(8)))
    )
    resnet = resnet_config(D, M, B, N, steps)
    program, data, hypers, keys = _group(resnet, "optimizer.learning_rate", lrs, seeds)
    n = keys.shape[0]
    flops = n * steps * 10 * B * D * M
    rows += _rows(
        f"resnet sweep {n} configs x {steps} steps, B={B} D={D} M={M} f32",
        program,
        data,
        hypers,
        keys,
        [1, 8, "all", "loop", "auto"],
        t,
        floor=flops / rate,
        floor_note=f"{flops / 1e9:.0f} GFLOP at {rate_note}",
        goal_floor=2.5,
    )

    # -- P2 on breast cancer, 32 values of λ ----------------------------------------------
    lams = [float(x) for x in jnp.geomspace(1e-3, 1e3, 8 if args.quick else 32)]
    p2 = {
        "task": "p2",
        "train": {
            "steps": 100 if args.quick else 500,
            "log_every": 100 if args.quick else 500,
            "tol": None,
        },
    }
    program, data, hypers, keys = _group(p2, "model.lam", lams, [0])
    rows += _rows(
        f"P2 sweep {len(lams)} lam x {p2['train']['steps']} steps, breast cancer f64",
        program,
        data,
        hypers,
        keys,
        [1, "all", "loop", "auto"],
        t,
    )

    _bench.print_table("Sweeps: one compiled program vs a Python loop of jit-compiled runs", rows)
    _bench.save_json(args.json, "bench_sweep", args, rows, info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
