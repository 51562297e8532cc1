"""Exact solvers for L2-logistic regression (mcalc.solvers) against scikit-learn and the closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import mcalc
from mcalc.solvers import _logistic

SOLVERS = [mcalc.logistic_newton, mcalc.logistic_lbfgs]


@pytest.fixture(scope="module")
def cancer():
    """Standardised breast cancer, 569 x 30, float64 (scikit-learn ships it; no download)."""
    X, y = load_breast_cancer(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y.astype(np.float64)


@pytest.fixture(scope="module")
def small():
    """A non-separable 40 x 3 problem, for the cheap tests."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = (rng.random(40) < 1 / (1 + np.exp(-X @ np.array([1.5, -1.0, 0.5])))).astype(np.float64)
    return X, y


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


def test_match_sklearn_and_each_other(cancer):
    X, y = cancer
    lam = 1.0
    # scikit-learn minimises C Σ loss + ½‖w‖², the same minimiser as Σ loss + λ‖w‖² at C = 1/(2λ).
    sk = LogisticRegression(C=1 / (2 * lam), fit_intercept=False, tol=1e-12, max_iter=10000)
    w_sk = sk.fit(X, y).coef_[0]
    newton = mcalc.logistic_newton(X, y, lam=lam)
    lbfgs = mcalc.logistic_lbfgs(X, y, lam=lam, tol=1e-12)
    for res, tol in ((newton, 1e-10), (lbfgs, 1e-12)):
        assert bool(res.converged)
        assert float(res.grad_norm) <= tol
        assert _rel(res.w, w_sk) < 1e-5
        # grad_norm and loss are what the public closed forms say at w.
        g = mcalc.logistic_l2_grad(res.w, X, y, lam=lam)
        np.testing.assert_allclose(
            res.grad_norm, jnp.max(jnp.abs(g)) / X.shape[0], rtol=1e-6, atol=1e-15
        )
        np.testing.assert_allclose(res.loss, mcalc.logistic_l2(res.w, X, y, lam=lam), rtol=1e-12)
    assert _rel(lbfgs.w, newton.w) < 1e-8
    assert 0 < int(newton.n_iter) < 20


@pytest.mark.parametrize("order", [0, 1, 2])
def test_blocked_sums_equal_the_closed_forms(small, monkeypatch, order):
    """The one-pass evaluation over row blocks (with a remainder block) is the closed form."""
    X, y = small
    X = np.concatenate([X] * 4)  # 160 rows: two blocks of 64 and a remainder of 32
    y = np.concatenate([y] * 4)
    monkeypatch.setattr(_logistic, "_BLOCK_BYTES", 64 * X.shape[1] * 8)
    assert _logistic._block_rows(jnp.asarray(X)) == 64
    w, lam = jnp.array([0.3, -0.2, 0.7]), 0.4
    got = jax.jit([_logistic._value, _logistic._value_grad, _logistic._value_grad_hessian][order])(
        w, jnp.asarray(X), jnp.asarray(y), lam
    )
    got = got if isinstance(got, tuple) else (got,)
    want = (
        mcalc.logistic_l2(w, X, y, lam=lam),
        mcalc.logistic_l2_grad(w, X, y, lam=lam),
        mcalc.logistic_l2_hessian(w, X, y, lam=lam),
    )[: order + 1]
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_objective_derivative_is_the_closed_form(small):
    """What optax's line search differentiates: value and gradient of L, not jax.grad's trace."""
    X, y = map(jnp.asarray, small)
    w = jnp.array([0.1, 0.2, -0.3])
    f, g = jax.value_and_grad(_logistic._objective)(w, X, y, 0.7)
    np.testing.assert_allclose(f, mcalc.logistic_l2(w, X, y, lam=0.7), rtol=1e-13)
    np.testing.assert_allclose(g, mcalc.logistic_l2_grad(w, X, y, lam=0.7), rtol=1e-13)


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_kept_and_converges(small, solver):
    X, y = small
    res = solver(X.astype(np.float32), y.astype(np.int32), lam=0.5)
    assert res.w.dtype == res.loss.dtype == res.grad_norm.dtype == jnp.float32
    assert bool(res.converged) and float(res.grad_norm) <= _logistic.default_tol(jnp.float32)
    ref = mcalc.logistic_newton(X, y, lam=0.5)
    np.testing.assert_allclose(res.w, ref.w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("solver", SOLVERS)
def test_far_start_and_iteration_limit(small, solver):
    X, y = small
    ref = mcalc.logistic_newton(X, y, lam=0.5)
    far = solver(X, y, lam=0.5, w0=np.full(3, 20.0))  # margins ~ 100: the line search must cut
    assert bool(far.converged)
    np.testing.assert_allclose(far.w, ref.w, rtol=1e-7)
    one = solver(X, y, lam=0.5, max_iter=1)
    assert int(one.n_iter) == 1 and not bool(one.converged)
    assert float(one.grad_norm) > 1e-10


@pytest.mark.parametrize("solver", SOLVERS)
def test_separable_without_penalty_stays_finite(solver):
    """λ = 0 on separable data: no minimiser; the weights grow but stay finite, no NaN."""
    X = np.array([[1.0, 2.0], [2.0, 1.0], [-1.0, -2.0], [-2.0, -1.0]])
    y = np.array([1.0, 1.0, 0.0, 0.0])
    res = solver(X, y, lam=0.0)
    assert np.all(np.isfinite(res.w)) and np.isfinite(float(res.loss))
    assert float(jnp.linalg.norm(res.w)) > 5  # far beyond any regularised solution
    assert float(mcalc.logistic_l2(res.w, X, y, lam=0.0)) < 1e-6


def test_jit_and_vmap_over_lambda(small):
    X, y = map(jnp.asarray, small)
    lams = jnp.array([0.1, 1.0, 10.0])
    batched = jax.jit(jax.vmap(lambda lam: mcalc.logistic_newton(X, y, lam=lam).w))(lams)
    for lam, w in zip(lams, batched, strict=True):
        np.testing.assert_allclose(w, mcalc.logistic_newton(X, y, lam=float(lam)).w, rtol=1e-9)


def test_shift_penalty_is_the_closed_form_at_the_new_lambda(small):
    X, y = map(jnp.asarray, small)
    w = jnp.array([0.3, -0.2, 0.7])
    f, g = _logistic._value_grad(w, X, y, 2.0)
    f1, g1 = _logistic.shift_penalty(w, f, g, 2.0, 0.25)
    np.testing.assert_allclose(f1, mcalc.logistic_l2(w, X, y, lam=0.25), rtol=1e-13)
    np.testing.assert_allclose(g1, mcalc.logistic_l2_grad(w, X, y, lam=0.25), rtol=1e-12)


def test_carried_lbfgs_memory_is_exact_at_the_new_lambda(cancer):
    """The pairs (s, y) and the last gradient of a solve at λ_a, carried to λ_b, are the
    ones the same iterates give at λ_b."""
    X, y = map(jnp.asarray, cancer)
    w0 = jnp.zeros(30)
    _, memory, _ = _logistic.lbfgs_solve(X, y, 1.0, w0, 1e-12, 3)  # 3 steps: 2 pairs stored
    carried = _logistic.carry_memory(memory, 1.0, 0.1)
    get = optax.tree.get
    S, Y = get(carried, "diff_params_memory"), get(carried, "diff_updates_memory")
    used = np.flatnonzero(np.abs(np.asarray(S)).sum(1) > 0)
    assert len(used) == 2
    # rebuild the iterates: the last params and the steps before them
    last = get(carried, "params")
    np.testing.assert_allclose(
        get(carried, "updates"), mcalc.logistic_l2_grad(last, X, y, lam=0.1), rtol=1e-10
    )
    w_prev = last - S[used[-1]]
    want = mcalc.logistic_l2_grad(last, X, y, lam=0.1) - mcalc.logistic_l2_grad(
        w_prev, X, y, lam=0.1
    )
    np.testing.assert_allclose(Y[used[-1]], want, rtol=1e-9, atol=1e-9)
    rho = get(carried, "weights_memory")
    np.testing.assert_allclose(rho[used], 1 / np.sum(S[used] * Y[used], axis=1), rtol=1e-12)


def test_warm_started_memory_saves_line_search_evaluations(monkeypatch):
    """From the previous λ's solution, the carried memory takes quasi-Newton steps at
    once; a fresh memory's first step, unit length along the gradient of a sum over
    5000 samples, overshoots and its line search needs many trial points."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5000, 10))
    y = (rng.random(5000) < 1 / (1 + np.exp(-X @ rng.standard_normal(10)))).astype(float)
    X, y = jnp.asarray(X), jnp.asarray(y)
    count = [0]
    plain = _logistic._value_grad

    def counted(*a):
        jax.debug.callback(lambda: count.__setitem__(0, count[0] + 1))
        return plain(*a)

    first, memory, g = _logistic.lbfgs_solve(X, y, 1.0, jnp.zeros(10), 1e-10, 500)
    monkeypatch.setattr(_logistic, "_value_grad", counted)
    runs = {}
    for name, mem, start in (
        ("fresh", None, None),
        ("carried", _logistic.carry_memory(memory, 1.0, 0.3), None),
        (
            "carried+start",
            _logistic.carry_memory(memory, 1.0, 0.3),
            _logistic.shift_penalty(first.w, first.loss, g, 1.0, 0.3),
        ),
    ):
        count[0] = 0
        res, _, _ = _logistic.lbfgs_solve(X, y, 0.3, first.w, 1e-10, 500, memory=mem, start=start)
        jax.effects_barrier()
        assert bool(res.converged)
        runs[name] = (count[0], res)
    ref = mcalc.logistic_newton(X, y, lam=0.3, tol=1e-12).w
    for _, res in runs.values():
        assert _rel(res.w, ref) < 1e-8
    assert runs["carried"][0] <= 0.7 * runs["fresh"][0], {k: v[0] for k, v in runs.items()}
    assert runs["carried+start"][0] == runs["carried"][0] - 1  # no pass for the start


# ---------------------------------------------------------------------------
# The path.


@pytest.mark.parametrize(
    "solver,batch_size,warm_start,chains",
    [
        ("newton", 1, True, None),
        ("newton", 2, True, None),
        ("newton", 5, False, None),
        ("newton", None, True, None),
        ("newton", 1, True, 3),
        ("lbfgs", 1, True, None),
        ("lbfgs", 5, False, None),
        ("lbfgs", 2, True, 2),
    ],
)
def test_path_equals_separate_solves(cancer, solver, batch_size, warm_start, chains):
    X, y = cancer
    lams = np.array([1.0, 1e-2, 100.0, 0.3, 1.0])  # unsorted, with a repeat
    path = mcalc.logistic_path(
        X,
        y,
        lams,
        solver=solver,
        tol=1e-11,
        batch_size=batch_size,
        warm_start=warm_start,
        chains=chains,
    )
    assert path.w.shape == (5, 30) and path.lams.shape == (5,)
    np.testing.assert_array_equal(path.lams, lams)
    assert bool(path.converged.all()) and float(path.grad_norm.max()) <= 1e-11
    for i, lam in enumerate(lams):
        ref = mcalc.logistic_newton(X, y, lam=float(lam), tol=1e-12)
        assert _rel(path.w[i], ref.w) < 1e-6, (i, lam)
        np.testing.assert_allclose(path.loss[i], ref.loss, rtol=1e-12)
    # The penalty shrinks ‖w‖ monotonically.
    order = np.argsort(lams)
    norms = np.linalg.norm(np.asarray(path.w)[order], axis=1)
    assert np.all(np.diff(norms) <= 1e-12)


def test_path_float32_and_jit(small):
    X, y = small
    lams = jnp.array([0.1, 1.0], jnp.float32)
    path = mcalc.logistic_path(X.astype(np.float32), y, lams)
    assert path.w.dtype == path.lams.dtype == jnp.float32 and bool(path.converged.all())
    traced = jax.jit(lambda lams: mcalc.logistic_path(jnp.asarray(X), jnp.asarray(y), lams).w)
    np.testing.assert_allclose(traced(lams.astype(jnp.float64)), path.w, rtol=1e-4, atol=1e-5)


def test_chains_run_in_threads_and_equal_the_traced_program(cancer):
    X, y = cancer
    lams = jnp.asarray(np.geomspace(1e-2, 1e2, 7))
    # three chains of the 7 penalties (largest first): {0, 3, 6}, {1, 4}, {2, 5}
    threaded = mcalc.logistic_path(X, y, lams, chains=3, tol=1e-11)
    traced = jax.jit(lambda lams: mcalc.logistic_path(X, y, lams, chains=3, tol=1e-11))(lams)
    for a, b in zip(threaded, traced, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    # chain 1 alone is a path of its own penalties, warm-started in the same order
    alone = mcalc.logistic_path(X, y, lams[jnp.array([5, 2])], chains=1, tol=1e-11)
    np.testing.assert_array_equal(threaded.w[jnp.array([5, 2])], alone.w)
    np.testing.assert_array_equal(threaded.n_iter[jnp.array([5, 2])], alone.n_iter)
    # more chains than penalties: one each
    assert mcalc.logistic_path(X, y, lams[:2], chains=8).w.shape == (2, 30)


def test_chains_inside_jit_with_closed_over_inputs(cancer):
    # Inside a jit trace even concrete (closed-over) inputs give traced intermediates:
    # the chains must then run in the traced program, not in threads.
    X, y = (jnp.asarray(a) for a in cancer)
    lams = jnp.asarray(np.geomspace(1e-2, 1e2, 5))
    eager = mcalc.logistic_path(X, y, lams, chains=2, tol=1e-11).w
    traced = jax.jit(lambda: mcalc.logistic_path(X, y, lams, chains=2, tol=1e-11).w)()
    np.testing.assert_allclose(traced, eager, rtol=1e-12, atol=1e-15)


def test_weakly_typed_scalars_reuse_the_compiled_solver(cancer):
    compiles = []

    def listen(name, _duration, **kw):
        if name == "/jax/core/compile/backend_compile_duration" and "newton" in kw.get(
            "fun_name", ""
        ):
            compiles.append(kw["fun_name"])

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        X, y = (jnp.asarray(a) for a in cancer)
        # new shapes, so the first call compiles; the others, whatever the scalars' types, not
        X, y = X[:-3], y[:-3]
        mcalc.logistic_newton(X, y, lam=1.0)
        assert len(compiles) == 1
        for lam in (2.0, np.float64(3.0), jnp.asarray(4.0), jnp.asarray(5.0, jnp.float64)):
            mcalc.logistic_newton(X, y, lam=lam, tol=jnp.asarray(1e-10))
        assert len(compiles) == 1, compiles
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


def test_default_chains_by_size():
    from mcalc._concurrency import host_cores

    assert mcalc.solvers.default_chains(569, 30, 32) == 1  # breast cancer: threads do not pay
    assert mcalc.solvers.default_chains(200_000, 100, 32) == min(32, host_cores())
    assert mcalc.solvers.default_chains(200_000, 100, 1) == 1


def test_default_batch_size_by_size():
    assert mcalc.solvers.default_batch_size(50, 3, 32) == 32  # a few KiB: one vmap
    assert mcalc.solvers.default_batch_size(569, 30, 32) == 1  # lanes in sequence on the CPU
    assert mcalc.solvers.default_batch_size(200_000, 100, 32, solver="lbfgs") == 1


# ---------------------------------------------------------------------------
# Errors name the function, the argument and what was received.


@pytest.mark.parametrize("solver", SOLVERS)
def test_bad_inputs(small, solver):
    X, y = small
    name = solver.__name__
    with pytest.raises(ValueError, match=rf"mcalc.{name}: lam must be finite and >= 0; got -1"):
        solver(X, y, lam=-1.0)
    with pytest.raises(ValueError, match=r"y must hold labels 0 or 1.*For labels in \{-1, 1\}"):
        solver(X, 2 * y - 1)
    with pytest.raises(
        ValueError, match=r"y must hold labels 0 or 1; found 1 other value\(s\), the first 0.5"
    ):
        solver(X, np.where(np.arange(40) == 3, 0.5, y))
    with pytest.raises(ValueError, match=r"y has shape \(39,\), but its axis 0 must have size 40"):
        solver(X, y[:-1])
    with pytest.raises(ValueError, match=r"X must have 2 dimensions \[N, D\]"):
        solver(X[:, 0], y)
    with pytest.raises(ValueError, match=r"X must have at least one row and one column"):
        solver(X[:, :0], y)
    with pytest.raises(
        ValueError,
        match=r"X must be finite; found 1 NaN/Inf value\(s\), the first at index \(2, 1\)",
    ):
        solver(np.where((np.arange(40)[:, None] == 2) & (np.arange(3) == 1), np.nan, X), y)
    with pytest.raises(ValueError, match=r"w0 has shape \(2,\), but its axis 0 must have size 3"):
        solver(X, y, w0=np.zeros(2))
    with pytest.raises(ValueError, match=r"tol must be finite and > 0; got 0.0"):
        solver(X, y, tol=0.0)
    with pytest.raises(ValueError, match=r"max_iter must be an integer >= 1; got 0"):
        solver(X, y, max_iter=0)
    with pytest.raises(TypeError, match=r"max_iter must be an int; got float 10.0"):
        solver(X, y, max_iter=10.0)
    with pytest.raises(TypeError, match=r"X must be an array of real numbers"):
        solver(X.astype(np.complex64), y)


def test_bad_path_inputs(small):
    X, y = small
    fn = "mcalc.logistic_path"
    with pytest.raises(
        ValueError, match=rf"{fn}: solver must be one of \['lbfgs', 'newton'\]; got 'cg'"
    ):
        mcalc.logistic_path(X, y, [1.0], solver="cg")
    with pytest.raises(ValueError, match=rf"{fn}: lams must be >= 0; got -0.5 at index 1"):
        mcalc.logistic_path(X, y, [1.0, -0.5])
    with pytest.raises(ValueError, match=rf"{fn}: lams must be finite"):
        mcalc.logistic_path(X, y, [1.0, np.inf])
    with pytest.raises(ValueError, match=rf"{fn}: lams must have 1 dimension \[L\]"):
        mcalc.logistic_path(X, y, [[1.0, 2.0]])
    with pytest.raises(ValueError, match=rf"{fn}: lams must hold at least one penalty"):
        mcalc.logistic_path(X, y, np.zeros(0))
    with pytest.raises(ValueError, match=rf"{fn}: batch_size must be an integer >= 1; got 0"):
        mcalc.logistic_path(X, y, [1.0], batch_size=0)
    with pytest.raises(ValueError, match=rf"{fn}: chains must be an integer >= 1; got 0"):
        mcalc.logistic_path(X, y, [1.0], chains=0)
    with pytest.raises(ValueError, match=rf"{fn}: chains must be an integer >= 1; got 1.5"):
        mcalc.logistic_path(X, y, [1.0], chains=1.5)
    with pytest.raises(ValueError, match=rf"{fn}: y must hold labels 0 or 1"):
        mcalc.logistic_path(X, y + 1, [1.0])


def test_lbfgs_memory_size_checked(small):
    with pytest.raises(
        ValueError, match=r"mcalc.logistic_lbfgs: memory_size must be an integer >= 1; got 0"
    ):
        mcalc.logistic_lbfgs(*small, memory_size=0)
