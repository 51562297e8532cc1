"""mcalc's solvers and training step against what a user would otherwise pick.

Rows (each reference and mcalc timed side by side, round after round, where a call
takes less than a few seconds; speed-ups are medians of per-round ratios):

- L2-logistic fit, λ = 1, float64, on standardised breast cancer (569 x 30) and on
  synthetic 200 000 x 100 data: ``mcalc.logistic_newton`` and ``mcalc.logistic_lbfgs``
  against ``sklearn LogisticRegression(C=1/(2λ), fit_intercept=False)`` (lbfgs), all
  to the same ``tol`` -- mcalc's ``tol`` is scikit-learn's: ``‖∇L‖_∞ / N <= tol``.
  Each row notes the iterations and the relative distance of each optimum to a
  tight one (Newton at ``tol=1e-13``).
- Least squares, 1 000 000 x 100 float64: ``mcalc.least_squares`` against
  ``sklearn LinearRegression(fit_intercept=False)`` and ``numpy.linalg.lstsq``.
  Floor: one ``XᵀX``, timed in this run (jit-compiled, contracting the rows).
- Residual-net SGD step, B=1024, D=64, M=256, float32: the closed-form
  ``resnet_grad`` + ``optax.sgd``, jit-compiled with donated buffers, against
  PyTorch eager autograd (``torch.set_num_threads`` = the cores used: ``--cores``);
  skipped with a message when torch is absent (``pip install -e .[bench]``).
  Floor: 10 B D M matmul FLOPs over the float32 rate of a square product timed in
  the same rounds.

Each tool gets its native arrays: NumPy for scikit-learn and NumPy, JAX arrays
(converted once, outside the timing) for mcalc, torch tensors for PyTorch.

Run: ``python scripts/bench_solvers.py [--quick] [--json docs/_data/bench/bench_solvers.json] [--tol TOL]``;
``--only resnet --cores 1`` times the training step on one core (PyTorch with one thread):
how fast each runs per core, whatever the other cores are doing.
"""

from __future__ import annotations

import warnings

import _bench


def _logistic_rows(name, X, y, lam, tol, args, goal_newton, goal_lbfgs):
    import jax.numpy as jnp
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import mcalc

    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    sk = LogisticRegression(C=1 / (2 * lam), fit_intercept=False, tol=tol, max_iter=10_000)
    solvers = {"logistic_newton": mcalc.logistic_newton, "logistic_lbfgs": mcalc.logistic_lbfgs}
    tm = _bench.side_by_side(
        args,
        {
            "sklearn": lambda: sk.fit(X, y),
            **{
                label: lambda solve=solve: solve(Xj, yj, lam=lam, tol=tol).w
                for label, solve in solvers.items()
            },
        },
    )
    w_sk, it_sk = sk.coef_[0], int(sk.n_iter_[0])
    best = mcalc.logistic_newton(Xj, yj, lam=lam, tol=1e-13, max_iter=100).w

    def dist(w):
        return float(np.linalg.norm(np.asarray(w) - best) / np.linalg.norm(best))

    rows = []
    for (label, solve), goal in zip(solvers.items(), (goal_newton, goal_lbfgs), strict=True):
        res = solve(Xj, yj, lam=lam, tol=tol)
        note = (
            f"{label}: {int(res.n_iter)} it., optimum off by {dist(res.w):.1e} rel.; "
            f"sklearn: {it_sk} it., off by {dist(w_sk):.1e}; "
            f"mcalc vs sklearn {float(np.linalg.norm(res.w - w_sk) / np.linalg.norm(w_sk)):.1e}"
        )
        rows.append(
            _bench.Row(
                f"{name}, λ={lam:g}, tol={tol:g}",
                "sklearn LogisticRegression",
                tm["sklearn"],
                label,
                tm[label],
                note=note if bool(res.converged) else note + " (NOT converged)",
            ).check(min_speedup=goal)
        )
    return rows


def _least_squares_rows(n, d, t, args):
    import jax
    import jax.numpy as jnp
    import numpy as np
    from sklearn.linear_model import LinearRegression

    import mcalc

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    gram = jax.jit(lambda X: jax.lax.dot_general(X, X, (((0,), (0,)), ((), ()))))
    # The floor and mcalc side by side; the references take seconds a call: timed alone.
    tm = _bench.side_by_side(
        args, {"floor": lambda: gram(Xj), "mcalc": lambda: mcalc.least_squares(Xj, yj).w}
    )
    m = tm["mcalc"]
    w = np.asarray(mcalc.least_squares(Xj, yj).w)
    task = f"least squares {n}x{d} f64"
    note = "floor: one XᵀX, jit(dot_general) contracting the rows"
    lr = LinearRegression(fit_intercept=False)
    floor = dict(floor_timing=tm["floor"], floor_note=note)
    rows = [
        _bench.Row(
            task,
            "sklearn LinearRegression",
            t(lambda: lr.fit(X, y)),
            "least_squares",
            m,
            note=f"|w - w_sklearn| / |w| = {np.linalg.norm(w - lr.coef_) / np.linalg.norm(w):.1e}",
            **floor,
        ).check(min_speedup=8.0, max_over_floor=1.3),
        _bench.Row(
            task,
            "numpy.linalg.lstsq",
            t(lambda: np.linalg.lstsq(X, y, rcond=None)),
            "least_squares",
            m,
            **floor,
        ),
    ]
    return rows


def _resnet_rows(B, D, M, args, quick, *, square=2048, goals=(1.2, 1.5)):
    """The SGD step rows: mcalc's jit step and fused steps against PyTorch eager autograd
    on the device torch sees (``cuda`` when it has a GPU, else the CPU with one thread per
    core), with the rate of a ``square`` x ``square`` product timed in the same rounds."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    import mcalc

    lr, n_steps = 1e-3, 50
    kp, kx, ky = jax.random.split(jax.random.key(0), 3)
    params0 = mcalc.resnet_init(kp, D, M, dtype=jnp.float32)
    X = jax.random.normal(kx, (B, D), jnp.float32)
    y = jax.random.bernoulli(ky, 0.5, (B,)).astype(jnp.float32)
    opt = optax.sgd(lr)

    def step(params, opt_state, X, y):
        updates, opt_state = opt.update(mcalc.resnet_grad(params, X, y), opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    jstep = jax.jit(step, donate_argnums=(0, 1))

    @jax.jit
    def scan_steps(params, opt_state, X, y):
        def body(carry, _):
            return step(*carry, X, y), None

        return jax.lax.scan(body, (params, opt_state), None, length=n_steps)[0]

    state = [jax.tree.map(jnp.copy, params0)]
    state.append(opt.init(state[0]))

    def run_loop():
        for _ in range(n_steps):
            state[0], state[1] = jstep(state[0], state[1], X, y)
        return state[0]

    S = 512 if quick else square
    A = jax.random.normal(jax.random.key(1), (S, S), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    fns = {
        "loop": run_loop,
        "scan": lambda: scan_steps(params0, opt.init(params0), X, y),
        "square": lambda: matmul(A, A),
    }

    try:
        import torch
    except ImportError:
        print("torch is not installed: the PyTorch row is skipped (pip install -e '.[bench]').")
        torch = None
    note = f"jax on {jax.devices()[0].platform}"
    if torch is not None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        # Full float32 (PyTorch's default; XLA's on the GPU may use TF32: the caller sets
        # jax.default_matmul_precision("highest") there).
        torch.set_float32_matmul_precision("highest")
        if device == "cpu":
            torch.set_num_threads(_bench.cores())

        def tensor(a):
            return torch.tensor(np.asarray(a), device=device)

        Tp = {k: torch.nn.Parameter(tensor(v)) for k, v in params0.items()}
        Tx, Ty = tensor(X), tensor(y)
        topt = torch.optim.SGD(list(Tp.values()), lr=lr)

        def torch_step():
            topt.zero_grad(set_to_none=True)
            Z = torch.sigmoid(Tx @ Tp["W0"].T)
            H = Tx + torch.sigmoid(Z @ Tp["W1"].T)
            g = torch.sigmoid(H @ Tp["w2"])
            (0.5 * ((g - Ty) ** 2).sum()).backward()
            topt.step()

        # One step from the same parameters must agree with mcalc's.
        torch_step()
        p1, _ = jax.jit(step)(params0, opt.init(params0), X, y)
        diff = max(
            float(np.max(np.abs(Tp[k].detach().cpu().numpy() - np.asarray(p1[k])))) for k in Tp
        )
        note += (
            f", torch on {device} ({torch.get_num_threads()} threads); one step, mcalc vs "
            f"torch: max |Δparam| {diff:.1e}"
        )

        def torch_loop():
            for _ in range(n_steps):
                torch_step()
            if device == "cuda":
                torch.cuda.synchronize()

        fns["torch"] = torch_loop
        reference = f"PyTorch {torch.__version__} eager" + (" (cuda)" if device == "cuda" else "")
    else:
        reference = "PyTorch eager (not installed)"
    # Side by side, round after round: the loops of n_steps steps and the square product
    # whose rate gives the floor.
    tm = _bench.side_by_side(args, fns)

    def per_step(tm: _bench.Timing) -> _bench.Timing:
        return _bench.Timing(
            tm.median / n_steps,
            tm.first - tm.median + tm.median / n_steps,
            [s / n_steps for s in tm.times],
            tm.group,
        )

    ref = per_step(tm["torch"]) if "torch" in tm else None
    flops = 10 * B * D * M
    rate = 2 * S**3 / tm["square"].median
    floor = dict(
        floor_timing=tm["square"],
        floor_scale=flops / (2 * S**3),
        floor_note=f"{flops / 1e6:.0f} MFLOP at {rate / 1e9:.0f} GFLOP/s ({S}x{S} f32 product)",
    )
    task = f"resnet SGD step B={B} D={D} M={M} f32"
    return [
        _bench.Row(
            task, reference, ref, "jit step, donated", per_step(tm["loop"]), note=note, **floor
        ).check(min_speedup=goals[0] if ref else None, max_over_floor=goals[1]),
        _bench.Row(
            task, reference, ref, f"{n_steps} steps in lax.scan", per_step(tm["scan"]), **floor
        ),
    ]


def main() -> int:
    p = _bench.parser(__doc__.splitlines()[0])
    p.add_argument("--tol", type=float, default=1e-8, help="tolerance of every logistic fit")
    parts = ("logistic", "least_squares", "resnet")
    p.add_argument(
        "--only", choices=parts, action="append", help="these rows only (repeatable; default all)"
    )
    args, info, t = _bench.start(p)
    only = set(args.only or parts)

    rows: list[_bench.Row] = []
    warnings.filterwarnings("ignore", message=".*lbfgs failed to converge.*")

    if "logistic" in only:
        X, y = _bench.breast_cancer()
        rows += _logistic_rows("breast cancer 569x30 f64", X, y, 1.0, args.tol, args, 5.0, None)
        n, d = (2_000, 20) if args.quick else (200_000, 100)
        X, y = _bench.synthetic_logistic(n, d)
        rows += _logistic_rows(f"synthetic {n}x{d} f64", X, y, 1.0, args.tol, args, None, 2.5)
        del X, y

    if "least_squares" in only:
        n, d = (20_000, 20) if args.quick else (1_000_000, 100)
        rows += _least_squares_rows(n, d, t, args)

    if "resnet" in only:
        B, D, M = (128, 16, 32) if args.quick else (1024, 64, 256)
        rows += _resnet_rows(B, D, M, args, args.quick)

    _bench.print_table("Solvers and training step vs scikit-learn, NumPy, PyTorch", rows)
    _bench.save_json(args.json, "bench_solvers", args, rows, info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
