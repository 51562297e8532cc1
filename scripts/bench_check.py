"""The checker on NumPy, PyTorch and JAX code against what a user would run instead.

Rows (issue 11, "Done when"): one function, Rosenbrock's, in each language, checked by mcalc and
by the anchor a user of that language would pick, side by side in one run:

- ``check_grad`` of a 256-entry NumPy ``f`` (``scipy.optimize.rosen`` with ``rosen_der``) against
  ``scipy.optimize.check_grad`` on the same pair (forward differences at one point; one number).
  mcalc checks 5 points by default (the given one entry by entry, 4 more along random directions)
  and says where and how a gradient is wrong; a row with ``trials=1`` checks the same one point.
- ``check_grad`` of the same function written in PyTorch, with its hand gradient, against
  ``torch.autograd.gradcheck`` (which checks torch's own autograd, entry by entry, at one point).
- ``check_hessian`` on a 100-dimensional problem: Rosenbrock in PyTorch with its hand Hessian
  against ``torch.autograd.gradgradcheck``; in NumPy (SciPy's ``rosen_hess``: the reference is
  then mixed second differences alone) against the same anchor; and in JAX against
  ``jax.test_util.check_grads(order=2)`` and against ``gradgradcheck``.

No floor: the jobs differ in what they verify; the speed-up is anchor / mcalc. On a shared
machine these ratios are provisional: rerun on a quiet one.

Run: ``python scripts/bench_check.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import _bench


def main() -> int:
    args, info, t = _bench.start(_bench.parser(__doc__.splitlines()[0]))

    import jax
    import jax.numpy as jnp
    import numpy as np
    import scipy.optimize as so
    import torch

    import mcalc

    torch.set_num_threads(1)  # the anchors' own loops are single-threaded Python; so is mcalc's
    info["torch"] = torch.__version__
    n_grad, n_hess = (32, 16) if args.quick else (256, 100)
    rng = np.random.default_rng(0)
    rows: list[_bench.Row] = []

    def rosen_t(x):
        return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    def rosen_der_t(x):
        der = torch.zeros_like(x)
        xm, xm_m1, xm_p1 = x[1:-1], x[:-2], x[2:]
        der[1:-1] = 200 * (xm - xm_m1**2) - 400 * (xm_p1 - xm**2) * xm - 2 * (1 - xm)
        der[0] = -400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0])
        der[-1] = 200 * (x[-1] - x[-2] ** 2)
        return der

    def rosen_hess_t(x):
        return torch.from_numpy(so.rosen_hess(x.detach().numpy()))

    def rosen_j(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    def rosen_hess_j(x):
        n = x.shape[0]
        off = -400 * x[:-1]
        diag = jnp.zeros(n, x.dtype)
        diag = diag.at[0].set(1200 * x[0] ** 2 - 400 * x[1] + 2).at[-1].set(200.0)
        diag = diag.at[1:-1].set(202 + 1200 * x[1:-1] ** 2 - 400 * x[2:])
        return jnp.diag(diag) + jnp.diag(off, 1) + jnp.diag(off, -1)

    def ok(report):
        assert report.ok, str(report)
        return report

    # ---- gradients ----------------------------------------------------------------------------
    x = rng.standard_normal(n_grad)
    note = "anchor: forward differences at one point, one number"
    for trials in (5, 1):
        rows.append(
            _bench.Row(
                f"check_grad NumPy rosen n={n_grad}" + ("" if trials == 5 else ", 1 point"),
                "scipy.optimize.check_grad",
                # timed again beside each row: on a busy machine the load drifts within a run
                t(lambda: so.check_grad(so.rosen, so.rosen_der, x)),
                f"mcalc.check_grad{'' if trials == 5 else ' trials=1'}",
                t(
                    lambda trials=trials: ok(
                        mcalc.check_grad(so.rosen, so.rosen_der, x, trials=trials)
                    )
                ),
                note=note,
            ).check(min_speedup=1.0)
        )
    xt = torch.tensor(x)
    rows.append(
        _bench.Row(
            f"check_grad torch rosen n={n_grad}",
            "torch.autograd.gradcheck",
            t(lambda: torch.autograd.gradcheck(rosen_t, (xt.clone().requires_grad_(),))),
            "mcalc.check_grad",
            t(lambda: ok(mcalc.check_grad(rosen_t, rosen_der_t, xt))),
            note="anchor: torch's autograd at one point, entry by entry",
        ).check(min_speedup=1.0)
    )

    # ---- Hessians -----------------------------------------------------------------------------
    xh = rng.standard_normal(n_hess)
    xht = torch.tensor(xh)

    def ggc():
        return t(lambda: torch.autograd.gradgradcheck(rosen_t, (xht.clone().requires_grad_(),)))

    note = "anchor: second derivatives of torch's autograd at one point"
    rows.append(
        _bench.Row(
            f"check_hessian torch rosen n={n_hess}",
            "torch.autograd.gradgradcheck",
            ggc(),
            "mcalc.check_hessian",
            t(lambda: ok(mcalc.check_hessian(rosen_t, rosen_hess_t, xht))),
            note=note,
        ).check(min_speedup=1.0)
    )
    rows.append(
        _bench.Row(
            f"check_hessian NumPy rosen n={n_hess}",
            "torch.autograd.gradgradcheck",
            ggc(),
            "mcalc.check_hessian",
            t(lambda: ok(mcalc.check_hessian(so.rosen, so.rosen_hess, xh))),
            note="mcalc's reference: mixed second differences of f alone (no autodiff)",
        ).check(min_speedup=1.0)
    )
    xj = jnp.asarray(xh)
    from jax.test_util import check_grads

    rows.append(
        _bench.Row(
            f"check_hessian JAX rosen n={n_hess}",
            "jax.test_util.check_grads(order=2)",
            t(lambda: check_grads(rosen_j, (xj,), order=2, modes=["rev"])),
            "mcalc.check_hessian",
            t(lambda: ok(mcalc.check_hessian(rosen_j, rosen_hess_j, xj))),
            note="anchor: random projections of JAX's own derivatives at one point",
        ).check(min_speedup=1.0)
    )
    rows.append(
        _bench.Row(
            f"check_hessian JAX rosen n={n_hess}",
            "torch.autograd.gradgradcheck",
            ggc(),
            "mcalc.check_hessian",
            t(lambda: ok(mcalc.check_hessian(rosen_j, rosen_hess_j, xj))),
            note=note,
        ).check(min_speedup=1.0)
    )
    del jax  # imported for the float64 setting of _bench.start

    _bench.print_table(
        "Checking derivatives: mcalc against the anchors (medians after warm-up)", rows
    )
    print(
        "mcalc checks 5 points by default and says where and how a derivative is wrong; the "
        "anchors check one point. Shared machine: the ratios are provisional."
    )
    _bench.save_json(args.json, "bench_check", args, rows, info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
