"""Closed-form gradients against ``jax.grad`` of the same function, both jit-compiled.

Every row's functions are timed side by side, round after round (``_bench.interleave``);
speed-ups are medians of per-round ratios, with their quartiles.

Rows:

- ``trace_power_grad`` for D in {256, 1024}, k in {2, 3, 8, 32}, float32, against
  ``jax.grad(mcalc.trace_power)`` and against what a user would write,
  ``jax.grad`` of ``jnp.trace(jnp.linalg.matrix_power(X, k))``. Floor: the number
  of D x D products the closed form does times one product timed in this run
  (for k = 2, no product: one elementwise pass over X, timed as ``X + X``).
- ``logistic_l2_grad`` on 200 000 x 100 float64 against ``jax.grad(logistic_l2)``.
  Floor: two reads of X (``Xw`` and ``rᵀX``), each timed as ``jit(X @ w)``, the
  faster of the two products. A further row times the one-pass value-and-gradient
  that ``mcalc.solvers`` uses, below that two-pass floor.
- ``resnet_grad`` at D=64, M=256, N=1024 float32 against ``jax.grad(resnet_loss)``.
  Floor: its 10 N D M matmul FLOPs over the float32 matmul rate measured in this
  run on a 2048 x 2048 product.

Run: ``python scripts/bench_gradients.py [--quick] [--json docs/_data/bench/bench_gradients.json]``.
"""

from __future__ import annotations

import _bench


def _products(k: int) -> int:
    """D x D products of ``trace_power_grad`` for ``k``: repeated squaring to ``X^(k-1)``."""
    n = k - 1
    if n <= 1:
        return 0
    return (n.bit_length() - 1) + (bin(n).count("1") - 1)


def _rel_error(got, want) -> float:
    import jax
    import jax.numpy as jnp

    diff = max(
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True)
    )
    return diff / max(float(jnp.max(jnp.abs(b))) for b in jax.tree.leaves(want))


def main() -> int:
    args, info, t = _bench.start(_bench.parser(__doc__.splitlines()[0]))

    import jax
    import jax.numpy as jnp
    import numpy as np

    import mcalc
    from mcalc.solvers import _logistic

    rows: list[_bench.Row] = []
    errors: list[float] = []  # closed form vs jax.grad, relative to the largest entry
    matmul = jax.jit(jnp.matmul)
    elementwise = jax.jit(lambda X: X + X)

    # ---- P1: trace of a matrix power ------------------------------------------------
    # All the functions of one size are timed side by side, round after round
    # (_bench.interleave): each ratio is taken within a round, under the same load.
    sizes = (64, 128) if args.quick else (256, 1024)
    ks = (2, 3, 8, 32)
    for D in sizes:
        key = jax.random.key(D)
        # ‖X‖ ≈ 1: powers stay O(1). (Scaled in float32: a NumPy scalar would promote to f64.)
        X = jax.random.normal(key, (D, D), jnp.float32) * jnp.float32(1 / np.sqrt(D))
        assert X.dtype == jnp.float32
        fns = {"product": lambda X=X: matmul(X, X), "pass": lambda X=X: elementwise(X)}
        for k in ks:
            closed = jax.jit(lambda X, k=k: mcalc.trace_power_grad(X, k))
            auto = jax.jit(jax.grad(lambda X, k=k: mcalc.trace_power(X, k)))
            naive = jax.jit(jax.grad(lambda X, k=k: jnp.trace(jnp.linalg.matrix_power(X, k))))
            fns |= {
                f"closed{k}": lambda X=X, f=closed: f(X),
                f"auto{k}": lambda X=X, f=auto: f(X),
                f"naive{k}": lambda X=X, f=naive: f(X),
            }
        tm = _bench.side_by_side(args, fns)
        for k in ks:
            closed = lambda X, k=k: mcalc.trace_power_grad(X, k)  # noqa: E731
            auto = jax.grad(lambda X, k=k: mcalc.trace_power(X, k))
            errors.append(_rel_error(jax.jit(closed)(X), jax.jit(auto)(X)))
            same = _bench.same_program(closed, auto, X)
            n_prod = _products(k)
            if n_prod:
                floor = dict(floor_timing=tm["product"], floor_scale=n_prod)
                note = f"{n_prod} products x one {D}x{D} product"
            else:
                # one read and one write of D² floats, without a transpose: the memory floor
                floor = dict(floor_timing=tm["pass"])
                note = "no product: one elementwise pass (timed as X + X)"
            # The goals are against what a user would write (the jnp reference); against
            # jax.grad of mcalc's own trace_power: no slower.
            goal = 3.0 if k <= 3 else 1.7
            task = f"tr(X^{k}) grad D={D} f32"
            max_floor = 1.15 if (D == 1024 and k == 32) else None
            m = tm[f"closed{k}"]
            rows.append(
                _bench.Row(
                    task,
                    "jax.grad(mcalc.trace_power)",
                    tm[f"auto{k}"],
                    "trace_power_grad",
                    m,
                    floor_note=note,
                    note="compiles to the same program as jax.grad" if same else "",
                    **floor,
                ).check(min_speedup=1.0, same_program=same)
            )
            rows.append(
                _bench.Row(
                    task,
                    "jax.grad(trace(jnp matrix_power))",
                    tm[f"naive{k}"],
                    "trace_power_grad",
                    m,
                    floor_note=note,
                    **floor,
                ).check(min_speedup=goal, max_over_floor=max_floor)
            )

    # ---- P2: logistic regression gradient ------------------------------------------
    n, d = (2_000, 20) if args.quick else (200_000, 100)
    Xn, yn = _bench.synthetic_logistic(n, d)
    X, y = jnp.asarray(Xn), jnp.asarray(yn)
    w = jnp.asarray(np.random.default_rng(1).standard_normal(d) * 0.1)
    closed = jax.jit(lambda w, X, y: mcalc.logistic_l2_grad(w, X, y, lam=1.0))
    auto = jax.jit(jax.grad(lambda w, X, y: mcalc.logistic_l2(w, X, y, lam=1.0)))
    one_pass = jax.jit(lambda w, X, y: _logistic._value_grad(w, X, y, 1.0))
    auto_vg = jax.jit(jax.value_and_grad(lambda w, X, y: mcalc.logistic_l2(w, X, y, lam=1.0)))
    tm = _bench.side_by_side(
        args,
        {
            "matvec": lambda: matmul(X, w),
            "auto": lambda: auto(w, X, y),
            "closed": lambda: closed(w, X, y),
            "auto_vg": lambda: auto_vg(w, X, y),
            "one_pass": lambda: one_pass(w, X, y),
        },
    )
    floor = dict(floor_timing=tm["matvec"], floor_scale=2)
    note = "two reads of X, each timed as jit(X @ w)"
    task = f"logistic grad {n}x{d} f64"
    rows.append(
        _bench.Row(
            task,
            "jax.grad(logistic_l2)",
            tm["auto"],
            "logistic_l2_grad",
            tm["closed"],
            floor_note=note,
            **floor,
        ).check(min_speedup=1.0)
    )
    rows.append(
        _bench.Row(
            f"logistic value+grad {n}x{d} f64",
            "jax.value_and_grad(logistic_l2)",
            tm["auto_vg"],
            "solvers one-pass value+grad",
            tm["one_pass"],
            floor_note=note,
            note="the blocked one-pass evaluation mcalc.solvers uses; below 1x: under the two-pass floor",
            **floor,
        )
    )

    errors.append(_rel_error(closed(w, X, y), auto(w, X, y)))

    # ---- P7: residual network gradient ----------------------------------------------
    D, M, N = (16, 32, 128) if args.quick else (64, 256, 1024)
    kp, kx, ky = jax.random.split(jax.random.key(7), 3)
    params = mcalc.resnet_init(kp, D, M, dtype=jnp.float32)
    Xr = jax.random.normal(kx, (N, D), jnp.float32)
    yr = jax.random.bernoulli(ky, 0.5, (N,)).astype(jnp.float32)
    closed = jax.jit(mcalc.resnet_grad)
    auto = jax.jit(jax.grad(mcalc.resnet_loss))
    S = 512 if args.quick else 2048
    A = jax.random.normal(jax.random.key(1), (S, S), jnp.float32)
    tm = _bench.side_by_side(
        args,
        {
            "auto": lambda: auto(params, Xr, yr),
            "closed": lambda: closed(params, Xr, yr),
            "square": lambda: matmul(A, A),
        },
    )
    flops = 10 * N * D * M
    rate = 2 * S**3 / tm["square"].median
    rows.append(
        _bench.Row(
            f"resnet grad D={D} M={M} N={N} f32",
            "jax.grad(resnet_loss)",
            tm["auto"],
            "resnet_grad",
            tm["closed"],
            # the FLOPs at the rate of the square product, timed in the same rounds
            floor_timing=tm["square"],
            floor_scale=flops / (2 * S**3),
            floor_note=f"{flops / 1e6:.0f} MFLOP at {rate / 1e9:.0f} GFLOP/s ({S}x{S} f32 product)",
        ).check(min_speedup=1.0)
    )

    errors.append(_rel_error(closed(params, Xr, yr), auto(params, Xr, yr)))

    _bench.print_table("Closed-form gradients vs jax.grad (medians after warm-up)", rows)
    print(
        f"largest difference closed form vs jax.grad, relative to the largest entry: {max(errors):.1e}"
    )
    info["max_rel_error_vs_jax_grad"] = max(errors)
    _bench.save_json(args.json, "bench_gradients", args, rows, info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
