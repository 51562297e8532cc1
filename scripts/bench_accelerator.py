"""The rows that matter on an accelerator, each timed side by side on the same device.

Run by ``scripts/accelerator_check.sh`` (on a GPU; ``--quick`` on the CPU for its
dry run), or alone::

    python scripts/bench_accelerator.py [--quick] [--json PATH]

Rows:

- ``resnet SGD step``: the closed-form ``resnet_grad`` + ``optax.sgd``, one
  jit-compiled step with donated buffers called in a Python loop, and 50 steps
  fused in one ``lax.scan``, against PyTorch eager autograd + ``torch.optim.SGD``
  on the same device (``cuda`` when torch sees a GPU). Both in full float32
  (``jax.default_matmul_precision("highest")``, ``torch.set_float32_matmul_precision
  ("highest")``): by default XLA may run float32 products in TF32 on the GPU and
  PyTorch does not, which would compare different arithmetic. B = 1024 (the CPU
  goal's size) and B = 32768. Floor: 10 B D M FLOPs over the float32 rate of a
  square product timed in the same rounds.
- ``resnet sweep``: 1000 configurations (learning rates x seeds) of 100 steps,
  B = 256, as one program with ``lanes: auto`` (mcalc's ``GroupRunner``), against a
  Python loop of the same jit-compiled single-configuration chunk.
- ``λ path x32, 1 000 000 x 100 f64``: ``mcalc.logistic_path`` (default batch and
  chains for the backend, L-BFGS; and Newton) against scikit-learn's warm-started
  loop on the host's CPU cores (one timed call).

Each row states the device it ran on. Sizes shrink with ``--quick``.
"""

from __future__ import annotations

import warnings

import _bench
from bench_solvers import _resnet_rows
from bench_sweep import _group, resnet_config


def _sweep_rows(n_configs, steps, args, quick):
    import jax

    from mcalc.sweep import GroupRunner

    D, M, B, N = (16, 32, 64, 256) if quick else (64, 256, 256, 2048)
    seeds = list(range(10))
    lrs = [0.01 * 1.05**i for i in range(n_configs // len(seeds))]
    config = resnet_config(D, M, B, N, steps)
    program, data, hypers, keys = _group(config, "optimizer.learning_rate", lrs, seeds)
    n = keys.shape[0]
    init1, chunk1 = jax.jit(program.init), jax.jit(program.chunk)

    def loop():
        out = []
        for i in range(n):
            h = {k: v[i] for k, v in hypers.items()}
            out.append(chunk1(init1(keys[i], h), h, data)[1]["loss"])
        return jax.block_until_ready(out)

    runner = GroupRunner(program, data, n, lanes="auto", memory_mb=16384, devices=1)
    hyp = runner.lanes_in(hypers)

    def sweep():
        states = runner.init(keys, hypers)
        return jax.block_until_ready(runner.chunk(states, hyp)[1]["loss"])

    tm = _bench.side_by_side(args, {"loop": loop, "sweep": sweep}, rounds=2, calls=1)
    mode = f"loop, {runner.workers} at a time" if runner.loop else f"{runner.batch} side by side"
    return [
        _bench.Row(
            f"resnet sweep {n} configs x {steps} steps, B={B} D={D} M={M} f32",
            "Python loop of jit runs",
            tm["loop"],
            f"GroupRunner lanes=auto ({mode})",
            tm["sweep"],
            note=f"on {jax.devices()[0].platform}",
        ).check(min_speedup=1.0)
    ]


def _path_rows(n, d, args, t):
    import jax
    import jax.numpy as jnp
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import mcalc

    X, y = _bench.synthetic_logistic(n, d)
    lams = np.logspace(-3, 3, 32)
    Xj, yj, lj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(lams)
    tol = 1e-8

    def sk_warm():
        sk = LogisticRegression(fit_intercept=False, tol=tol, max_iter=10_000, warm_start=True)
        for lam in sorted(lams, reverse=True):
            sk.set_params(C=1 / (2 * lam))
            sk.fit(X, y)
        return sk

    fns = {
        s: lambda s=s: mcalc.logistic_path(Xj, yj, lj, solver=s, tol=tol).w
        for s in ("lbfgs", "newton")
    }
    tm = _bench.side_by_side(args, fns, rounds=3, calls=1)
    warnings.filterwarnings("ignore", message=".*lbfgs failed to converge.*")
    ref = t(sk_warm)
    rows = []
    for s in fns:
        path = mcalc.logistic_path(Xj, yj, lj, solver=s, tol=tol)
        B = mcalc.solvers.default_batch_size(n, d, 32, solver=s)
        rows.append(
            _bench.Row(
                f"λ path x32, synthetic {n}x{d} f64",
                f"sklearn warm_start loop ({_bench.cores()} CPU cores)",
                ref,
                f"logistic_path {s}",
                tm[s],
                note=(
                    f"on {jax.devices()[0].platform}, batch_size={B}: "
                    f"{int(path.n_iter.sum())} it., {int(path.converged.sum())}/32 converged"
                ),
            )
        )
    return rows


def main() -> int:
    args, info, t = _bench.start(_bench.parser(__doc__.splitlines()[0]))
    import jax

    rows: list[_bench.Row] = []
    with jax.default_matmul_precision("highest"):
        for B in (128,) if args.quick else (1024, 32768):
            D, M = (16, 32) if args.quick else (64, 256)
            # the goal: no slower than PyTorch on the same device; no floor goal
            rows += _resnet_rows(B, D, M, args, args.quick, square=8192, goals=(1.0, None))
        rows += _sweep_rows(10 if args.quick else 1000, 10 if args.quick else 100, args, args.quick)
    n, d = (2_000, 20) if args.quick else (1_000_000, 100)
    rows += _path_rows(n, d, args, t)
    _bench.print_table(f"On {jax.devices()[0].device_kind}: mcalc vs the same job elsewhere", rows)
    _bench.save_json(args.json, "bench_accelerator", args, rows, info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
