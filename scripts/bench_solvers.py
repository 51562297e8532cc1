"""mcalc's solvers and training step against what a user would otherwise pick.

Rows (spec/performance.md, issue 4 item 8):

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
  PyTorch eager autograd (``torch.set_num_threads`` = the machine's cores);
  skipped with a message when torch is absent (``pip install -e .[bench]``).
  Floor: 10 B D M matmul FLOPs over the float32 matmul rate measured in this run.

Each tool gets its native arrays: NumPy for scikit-learn and NumPy, JAX arrays
(converted once, outside the timing) for mcalc, torch tensors for PyTorch.

Run: ``python scripts/bench_solvers.py [--quick] [--json PATH] [--tol TOL]``.
"""

from __future__ import annotations

import os
import warnings

import _bench


def _logistic_rows(name, X, y, lam, tol, t, goal_newton, goal_lbfgs):
    import jax.numpy as jnp
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import mcalc

    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    sk = LogisticRegression(C=1 / (2 * lam), fit_intercept=False, tol=tol, max_iter=10_000)
    ref = t(lambda: sk.fit(X, y))
    w_sk, it_sk = sk.coef_[0], int(sk.n_iter_[0])
    best = mcalc.logistic_newton(Xj, yj, lam=lam, tol=1e-13, max_iter=100).w

    def dist(w):
        return float(np.linalg.norm(np.asarray(w) - best) / np.linalg.norm(best))

    rows = []
    for label, solve, goal in (
        ("logistic_newton", mcalc.logistic_newton, goal_newton),
        ("logistic_lbfgs", mcalc.logistic_lbfgs, goal_lbfgs),
    ):
        m = t(lambda solve=solve: solve(Xj, yj, lam=lam, tol=tol).w)
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
                ref,
                label,
                m,
                note=note if bool(res.converged) else note + " (NOT converged)",
            ).check(min_speedup=goal)
        )
    return rows


def _least_squares_rows(n, d, t):
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
    floor = t(lambda: gram(Xj)).median
    m = t(lambda: mcalc.least_squares(Xj, yj).w)
    w = np.asarray(mcalc.least_squares(Xj, yj).w)
    task = f"least squares {n}x{d} f64"
    note = "floor: one XᵀX, jit(dot_general) contracting the rows"
    lr = LinearRegression(fit_intercept=False)
    rows = [
        _bench.Row(
            task,
            "sklearn LinearRegression",
            t(lambda: lr.fit(X, y)),
            "least_squares",
            m,
            floor=floor,
            floor_note=note,
            note=f"|w - w_sklearn| / |w| = {np.linalg.norm(w - lr.coef_) / np.linalg.norm(w):.1e}",
        ).check(min_speedup=8.0, max_over_floor=1.3),
        _bench.Row(
            task,
            "numpy.linalg.lstsq",
            t(lambda: np.linalg.lstsq(X, y, rcond=None)),
            "least_squares",
            m,
            floor=floor,
            floor_note=note,
        ),
    ]
    return rows


def _resnet_rows(B, D, M, t, rate, rate_note):
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

    loop = t(run_loop)
    per_step = lambda tm: _bench.Timing(  # noqa: E731
        tm.median / n_steps,
        tm.first - tm.median + tm.median / n_steps,
        [s / n_steps for s in tm.times],
    )
    loop = per_step(loop)
    fused = per_step(t(lambda: scan_steps(params0, opt.init(params0), X, y)))
    flops = 10 * B * D * M
    floor = flops / rate
    task = f"resnet SGD step B={B} D={D} M={M} f32"
    floor_note = f"{flops / 1e6:.0f} MFLOP at {rate_note}"

    try:
        import torch
    except ImportError:
        print("torch is not installed: the PyTorch row is skipped (pip install -e '.[bench]').")
        torch = None
    rows = []
    ref = None
    note = ""
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
        Tp = {k: torch.nn.Parameter(torch.tensor(np.asarray(v))) for k, v in params0.items()}
        Tx, Ty = torch.tensor(np.asarray(X)), torch.tensor(np.asarray(y))
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
        diff = max(float(np.max(np.abs(Tp[k].detach().numpy() - np.asarray(p1[k])))) for k in Tp)
        note = f"one step, mcalc vs torch: max |Δparam| {diff:.1e}; torch threads {torch.get_num_threads()}"

        def torch_loop():
            for _ in range(n_steps):
                torch_step()

        ref = per_step(t(torch_loop))
        reference = f"PyTorch {torch.__version__} eager"
    else:
        reference = "PyTorch eager (not installed)"
    rows.append(
        _bench.Row(
            task,
            reference,
            ref,
            "jit step, donated",
            loop,
            floor=floor,
            floor_note=floor_note,
            note=note,
        ).check(min_speedup=1.2 if ref else None, max_over_floor=1.5)
    )
    rows.append(
        _bench.Row(
            task,
            reference,
            ref,
            f"{n_steps} steps in lax.scan",
            fused,
            floor=floor,
            floor_note=floor_note,
        )
    )
    return rows


def main() -> int:
    p = _bench.parser(__doc__.splitlines()[0])
    p.add_argument("--tol", type=float, default=1e-8, help="tolerance of every logistic fit")
    args, info, t = _bench.start(p)

    rows: list[_bench.Row] = []
    warnings.filterwarnings("ignore", message=".*lbfgs failed to converge.*")

    X, y = _bench.breast_cancer()
    rows += _logistic_rows("breast cancer 569x30 f64", X, y, 1.0, args.tol, t, 5.0, None)
    n, d = (2_000, 20) if args.quick else (200_000, 100)
    X, y = _bench.synthetic_logistic(n, d)
    rows += _logistic_rows(f"synthetic {n}x{d} f64", X, y, 1.0, args.tol, t, None, 2.5)
    del X, y

    n, d = (20_000, 20) if args.quick else (1_000_000, 100)
    rows += _least_squares_rows(n, d, t)

    rate, rate_note = _bench.matmul_rate(t, quick=args.quick)
    B, D, M = (128, 16, 32) if args.quick else (1024, 64, 256)
    rows += _resnet_rows(B, D, M, t, rate, rate_note)

    _bench.print_table("Solvers and training step vs scikit-learn, NumPy, PyTorch", rows)
    _bench.save_json(args.json, "bench_solvers", args, rows, info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
