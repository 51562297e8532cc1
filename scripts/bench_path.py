"""The λ path of L2-logistic regression: ``mcalc.logistic_path`` against a loop of scikit-learn fits.

Rows: 32 penalties log-spaced in
[1e-3, 1e3], float64, on standardised breast cancer (569 x 30) and on synthetic
200 000 x 100 data. The reference is what a user would write, a loop of
``sklearn LogisticRegression(C=1/(2λ), fit_intercept=False)`` fits, each from
zero, to the same ``tol`` (mcalc's ``tol`` is scikit-learn's:
``‖∇L‖_∞ / N <= tol``). A second reference row reuses one estimator with
``warm_start=True``, largest λ first, the fairest scikit-learn can do (goal on the
tall data: mcalc 3x faster than it). That loop and mcalc are timed side by side,
round after round; speed-ups are medians of per-round ratios, with quartiles.

mcalc solves the whole path with one compiled program (Newton on breast cancer,
L-BFGS on the tall data; the default ``batch_size`` and ``chains``, printed: on
the tall data one warm-started chain of penalties per core, run side by side, and
a row with one chain for comparison). Notes give the
iterations summed over the path and the largest relative distance between
mcalc's and scikit-learn's solutions.

Run: ``python scripts/bench_path.py [--quick] [--json docs/_data/bench/bench_path.json] [--tol TOL]``.
"""

from __future__ import annotations

import warnings

import _bench


def _rows(name, X, y, lams, tol, solvers, t, args, rounds):
    """Rows for one data set; ``solvers``: ``(solver, goal vs the loop, goal vs warm starts)``."""
    import jax.numpy as jnp
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import mcalc

    def sk_loop():
        out = []
        for lam in lams:
            sk = LogisticRegression(C=1 / (2 * lam), fit_intercept=False, tol=tol, max_iter=10_000)
            out.append(sk.fit(X, y))
        return out

    def sk_warm():
        sk = LogisticRegression(fit_intercept=False, tol=tol, max_iter=10_000, warm_start=True)
        out = {}
        for lam in sorted(lams, reverse=True):
            sk.set_params(C=1 / (2 * lam))
            out[lam] = (sk.fit(X, y).coef_[0].copy(), int(sk.n_iter_[0]))
        return out

    Xj, yj, lj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(lams)
    # The warm-started loop -- what an informed user runs -- side by side with mcalc,
    # round after round; the loop of cold fits is slower still and timed alone.
    fns = {"warm": sk_warm}
    for solver, _, _ in solvers:
        fns[solver] = lambda solver=solver: (
            mcalc.logistic_path(Xj, yj, lj, solver=solver, tol=tol).w
        )
        if mcalc.solvers.default_chains(*X.shape, len(lams)) > 1:
            fns[solver + "/1"] = lambda solver=solver: (
                mcalc.logistic_path(Xj, yj, lj, solver=solver, tol=tol, chains=1).w
            )
    # A call of seconds is timed once per round (no second warm-up).
    tm = _bench.side_by_side(args, fns, rounds=rounds, calls=1 if rounds else None)
    ref = t(sk_loop)
    fits = sk_loop()
    W_sk = np.stack([f.coef_[0] for f in fits])
    it_sk = sum(int(f.n_iter_[0]) for f in fits)
    it_warm = sum(n for _, n in sk_warm().values())

    rows = []
    for solver, goal_loop, goal_warm in solvers:
        B = mcalc.solvers.default_batch_size(*X.shape, len(lams), solver=solver)
        C = mcalc.solvers.default_chains(*X.shape, len(lams))
        m = tm[solver]
        path = mcalc.logistic_path(Xj, yj, lj, solver=solver, tol=tol)
        W = np.asarray(path.w)
        off = np.max(np.linalg.norm(W - W_sk, axis=1) / np.linalg.norm(W_sk, axis=1))
        note = (
            f"logistic_path({solver!r}), batch_size={B}, chains={C}: "
            f"{int(path.n_iter.sum())} it. in all, "
            f"{int(path.converged.sum())}/{len(lams)} converged; sklearn loop {it_sk} it., "
            f"warm-started {it_warm} it.; max rel. |w - w_sklearn| {off:.1e}"
        )
        label = f"logistic_path {solver}"
        task = f"λ path x{len(lams)}, {name}, tol={tol:g}"
        rows.append(
            _bench.Row(task, "loop of sklearn fits", ref, label, m, note=note).check(
                min_speedup=goal_loop
            )
        )
        rows.append(
            _bench.Row(task, "sklearn loop, warm_start=True", tm["warm"], label, m).check(
                min_speedup=goal_warm
            )
        )
        if C > 1:  # what the chains side by side buy: the same path as one chain
            rows.append(
                _bench.Row(
                    task,
                    "sklearn loop, warm_start=True",
                    tm["warm"],
                    f"{label}, chains=1",
                    tm[solver + "/1"],
                )
            )
    return rows


def main() -> int:
    p = _bench.parser(__doc__.splitlines()[0])
    p.add_argument("--tol", type=float, default=1e-8, help="tolerance of every fit")
    args, info, t = _bench.start(p)

    import numpy as np

    warnings.filterwarnings("ignore", message=".*lbfgs failed to converge.*")

    n_lams = 8 if args.quick else 32
    lams = np.logspace(-3, 3, n_lams)
    rows: list[_bench.Row] = []
    X, y = _bench.breast_cancer()
    rows += _rows(
        "breast cancer 569x30 f64",
        X,
        y,
        lams,
        args.tol,
        [("newton", 10.0, None), ("lbfgs", None, None)],
        t,
        args,
        None,
    )
    n, d = (2_000, 20) if args.quick else (200_000, 100)
    X, y = _bench.synthetic_logistic(n, d)
    # A round of the tall path takes ~10 s (the warm-started loop most of it): 5 rounds.
    rows += _rows(f"synthetic {n}x{d} f64", X, y, lams, args.tol, [("lbfgs", 3.0, 3.0)], t, args, 5)

    _bench.print_table("The λ path: one compiled program vs a loop of scikit-learn fits", rows)
    _bench.save_json(args.json, "bench_path", args, rows, info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
