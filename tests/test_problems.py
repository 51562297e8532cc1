"""Each closed form against jax.grad (chex, per-dtype tolerances) and float64 finite differences."""

from __future__ import annotations

import doctest
import importlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mcalc
from tests._fd import fd_grad, to64

# The gradients; the second-order closed forms (kind "hessian"/"hvp") are checked by mcalc.verify
# (tests/test_verify.py) and tests/test_check_second.py.
DERIVATIONS = {n: d for n, d in mcalc.derivations().items() if d.kind == "gradient"}
NAMES = list(DERIVATIONS)
# Per-dtype tolerances for closed form vs autodiff (both in the same dtype).
TOL = {jnp.float32: dict(rtol=1e-4, atol=1e-5), jnp.float64: dict(rtol=1e-10, atol=1e-12)}


def test_registry_covers_every_problem():
    problems = {d.problem for d in DERIVATIONS.values()}
    assert problems == {f"P{i}" for i in range(1, 8)}
    assert {"resnet_W0", "resnet_W1", "resnet_w2", "resnet_h"} <= set(DERIVATIONS)
    for d in DERIVATIONS.values():
        assert d.formula and d.grad_formula and d.wrt


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closed_form_matches_autodiff(name, dtype, seed):
    d = DERIVATIONS[name]
    args = d.sample(jax.random.key(seed), dtype)
    claimed = jax.jit(d.grad)(*args)
    reference = jax.jit(jax.grad(d.f, argnums=d.argnum))(*args)
    chex.assert_trees_all_equal_shapes_and_dtypes(claimed, reference)
    assert claimed.dtype == dtype  # the caller's dtype is kept
    chex.assert_trees_all_close(claimed, reference, **TOL[dtype])


@pytest.mark.parametrize("name", NAMES)
def test_closed_form_matches_finite_differences(name):
    d = DERIVATIONS[name]
    args = d.sample(jax.random.key(7), jnp.float64)
    claimed = np.asarray(d.grad(*args))
    f64 = jax.jit(d.f)
    numeric = fd_grad(lambda *a: f64(*a), to64(args), d.argnum)
    np.testing.assert_allclose(
        claimed, numeric, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(numeric).max())
    )


@pytest.mark.parametrize("name", NAMES)
def test_vmap_over_a_batch_of_inputs(name):
    d = DERIVATIONS[name]
    args = d.sample(jax.random.key(3), jnp.float64)
    batched = jax.tree.map(lambda a: jnp.stack([a, 0.5 * a, -a]), args)
    got = jax.vmap(d.grad)(*batched)
    for i in range(3):
        one = jax.tree.map(lambda a, i=i: a[i], batched)
        chex.assert_trees_all_close(got[i], d.grad(*one), rtol=1e-12, atol=1e-12)


# --- P1 -----------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 5, 8, 13, 32])
def test_trace_power_against_numpy(k):
    X = np.asarray(jax.random.normal(jax.random.key(k), (6, 6), jnp.float64)) / np.sqrt(6)
    expected_f = np.trace(np.linalg.matrix_power(X, k))
    expected_g = k * np.linalg.matrix_power(X, max(k - 1, 0)).T if k else np.zeros_like(X)
    np.testing.assert_allclose(mcalc.trace_power(X, k), expected_f, rtol=1e-12)
    np.testing.assert_allclose(mcalc.trace_power_grad(X, k), expected_g, rtol=1e-11, atol=1e-14)


def test_trace_power_grad_k_is_static_under_jit():
    X = jnp.eye(3) * 2.0
    got = jax.jit(mcalc.trace_power_grad, static_argnums=1)(X, 3)
    np.testing.assert_allclose(got, 3 * 4.0 * np.eye(3))


# --- P2 -----------------------------------------------------------------------


def _logistic_data(N=50, D=4, seed=0):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    X = jax.random.normal(k1, (N, D), jnp.float64)
    y = jax.random.bernoulli(k2, 0.5, (N,)).astype(jnp.float64)
    w = jax.random.normal(k3, (D,), jnp.float64)
    return w, X, y


def test_logistic_loss_matches_definition_and_is_finite_for_huge_margins():
    w, X, y = _logistic_data()
    f = jax.nn.sigmoid(X @ w)
    direct = -jnp.sum(y * jnp.log(f) + (1 - y) * jnp.log(1 - f)) + 0.3 * w @ w
    np.testing.assert_allclose(mcalc.logistic_l2(w, X, y, lam=0.3), direct, rtol=1e-12)
    big = mcalc.logistic_l2(1e4 * w, X, y, lam=0.0)
    assert np.isfinite(big) and big > 0
    assert np.all(np.isfinite(mcalc.logistic_l2_grad(1e4 * w, X, y, lam=0.0)))


def test_logistic_hessian_is_the_jacobian_of_the_closed_form_gradient():
    w, X, y = _logistic_data()
    H = mcalc.logistic_l2_hessian(w, X, y, lam=0.5)
    np.testing.assert_allclose(
        H, jax.hessian(lambda w: mcalc.logistic_l2(w, X, y, lam=0.5))(w), rtol=1e-10
    )
    np.testing.assert_allclose(
        H, jax.jacfwd(lambda w: mcalc.logistic_l2_grad(w, X, y, lam=0.5))(w), rtol=1e-10
    )
    # L2 lifts every eigenvalue by 2λ: the smallest is at least 2λ.
    assert np.linalg.eigvalsh(np.asarray(H)).min() >= 2 * 0.5 - 1e-12


def test_logistic_lam_can_be_traced_in_a_sweep():
    w, X, y = _logistic_data()
    lams = jnp.array([0.0, 1.0, 10.0])
    got = jax.vmap(lambda lam: mcalc.logistic_l2_grad(w, X, y, lam=lam))(lams)
    for i, lam in enumerate([0.0, 1.0, 10.0]):
        np.testing.assert_allclose(got[i], mcalc.logistic_l2_grad(w, X, y, lam=lam), rtol=1e-12)


# --- P3 -----------------------------------------------------------------------


def test_bipolar_sigmoid_is_the_quotient_and_stable():
    a = jnp.linspace(-30.0, 30.0, 61, dtype=jnp.float64)
    np.testing.assert_allclose(
        mcalc.bipolar_sigmoid(a), (1 - np.exp(-a)) / (1 + np.exp(-a)), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(mcalc.bipolar_sigmoid(a), 2 * jax.nn.sigmoid(a) - 1, atol=1e-15)
    extreme = mcalc.bipolar_sigmoid(jnp.array([-1e4, 1e4], jnp.float32))
    np.testing.assert_array_equal(extreme, [-1.0, 1.0])
    assert extreme.dtype == jnp.float32


# --- P4 -----------------------------------------------------------------------


def _regression(N=40, D=5, seed=0):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    X = jax.random.normal(k1, (N, D), jnp.float64)
    w = jax.random.normal(k2, (D,), jnp.float64)
    y = X @ w + 0.1 * jax.random.normal(k3, (N,), jnp.float64)
    return X, y


def test_gaussian_nll_is_minus_log_likelihood():
    X, y = _regression()
    w = jnp.ones(5)
    r = np.asarray(y - X @ w)
    expected = -np.sum(-0.5 * np.log(2 * np.pi * 0.7) - r**2 / (2 * 0.7))
    np.testing.assert_allclose(mcalc.gaussian_nll(w, X, y, sigma2=0.7), expected, rtol=1e-12)


def test_least_squares_matches_numpy_lstsq_full_rank():
    X, y = _regression()
    res = mcalc.least_squares(X, y)
    w_np = np.linalg.lstsq(np.asarray(X), np.asarray(y), rcond=None)[0]
    np.testing.assert_allclose(res.w, w_np, rtol=1e-10)
    r = np.asarray(y) - np.asarray(X) @ w_np
    np.testing.assert_allclose(res.sigma2, r @ r / X.shape[0], rtol=1e-10)
    assert int(res.rank) == 5 and res.full_rank


def test_least_squares_rank_deficient_returns_minimum_norm_and_says_so():
    X, y = _regression()
    Xd = jnp.concatenate([X, X[:, :2] + X[:, 2:3]], axis=1)  # two dependent columns
    with pytest.warns(mcalc.RankDeficientWarning, match="rank 5 < D = 7"):
        res = mcalc.least_squares(Xd, y)
    w_min_norm = np.linalg.pinv(np.asarray(Xd)) @ np.asarray(y)
    np.testing.assert_allclose(res.w, w_min_norm, rtol=1e-8, atol=1e-10)
    assert int(res.rank) == 5 and not res.full_rank
    assert np.all(np.isfinite(res.w))


def test_least_squares_fewer_samples_than_features():
    X, y = _regression(N=3, D=6)
    with pytest.warns(mcalc.RankDeficientWarning):
        res = mcalc.least_squares(X, y)
    np.testing.assert_allclose(res.w, np.linalg.pinv(np.asarray(X)) @ np.asarray(y), rtol=1e-8)
    np.testing.assert_allclose(res.sigma2, 0.0, atol=1e-20)


def test_least_squares_moments_in_one_blocked_pass(monkeypatch):
    # 1000 rows in blocks of 256 and a remainder of 232: the sums equal the plain products.
    from mcalc.problems import _p4_gaussian

    X, y = _regression(N=1000, D=5)
    monkeypatch.setattr(_p4_gaussian, "_BLOCK_BYTES", 256 * 5 * 8)
    G, b, yy = jax.jit(_p4_gaussian._moments)(X, y)
    Xn, yn = np.asarray(X), np.asarray(y)
    np.testing.assert_allclose(G, Xn.T @ Xn, rtol=1e-12)
    np.testing.assert_allclose(b, yn @ Xn, rtol=1e-12)
    np.testing.assert_allclose(yy, yn @ yn, rtol=1e-12)
    res = _p4_gaussian._least_squares(X, y)  # compiled afresh with the small blocks
    np.testing.assert_allclose(res.w, np.linalg.lstsq(Xn, yn, rcond=None)[0], rtol=1e-10)


@pytest.mark.parametrize("noise", [0.1, 1e-7, 0.0])
def test_least_squares_sigma2_accurate_for_any_fit(noise):
    # σ² from the moments (yᵀy - 2bᵀw + wᵀGw) cancels catastrophically for a near-exact
    # fit: there the residual must be formed explicitly.
    X, y = _regression(N=200, D=5)
    y = X @ jnp.arange(1.0, 6.0) + noise * jax.random.normal(jax.random.key(9), (200,))
    res = mcalc.least_squares(X, y)
    r = np.asarray(y) - np.asarray(X) @ np.asarray(res.w)
    np.testing.assert_allclose(res.sigma2, r @ r / 200, rtol=1e-9, atol=1e-30)


def test_least_squares_under_jit_and_float32():
    X, y = _regression()
    res = jax.jit(mcalc.least_squares)(X.astype(jnp.float32), y.astype(jnp.float32))
    assert res.w.dtype == jnp.float32
    np.testing.assert_allclose(res.w, mcalc.least_squares(X, y).w, rtol=1e-4)


def test_gradient_descent_on_gaussian_nll_reaches_least_squares():
    X, y = _regression()
    w = jnp.zeros(5)
    step = jax.jit(lambda w: w - 0.01 * mcalc.gaussian_nll_grad(w, X, y))
    for _ in range(2000):
        w = step(w)
    np.testing.assert_allclose(w, mcalc.least_squares(X, y).w, rtol=1e-8)


# --- P5, P6 -------------------------------------------------------------------


def test_frobenius_of_non_square_matrices_and_its_norm():
    A = jnp.arange(6.0).reshape(3, 2)
    B = jnp.ones((3, 2))
    assert float(mcalc.frobenius(A, B)) == 15.0
    np.testing.assert_array_equal(mcalc.frobenius_grad(A, B), B)
    np.testing.assert_allclose(jax.grad(lambda A: mcalc.frobenius(A, A))(A), 2 * A)


def test_quadratic_form_gradient_is_not_the_symmetric_shortcut():
    w = jnp.array([1.0, 2.0])
    X = jnp.array([[1.0, 2.0], [0.0, 1.0]])
    np.testing.assert_allclose(mcalc.quadratic_form_grad(w, X), (X + X.T) @ w)
    assert not np.allclose(mcalc.quadratic_form_grad(w, X), 2 * X @ w)
    np.testing.assert_allclose(mcalc.quadratic_form_grad_X(w, X), np.outer(w, w))


# --- P7 -----------------------------------------------------------------------


def test_resnet_matches_the_equations_sample_by_sample():
    p = mcalc.resnet_init(jax.random.key(0), D=3, M=4, dtype=jnp.float64)
    X = jax.random.normal(jax.random.key(1), (5, 3), jnp.float64)
    sig = jax.nn.sigmoid
    for i in range(5):
        x = X[i]
        h = x + sig(p["W1"] @ sig(p["W0"] @ x))
        np.testing.assert_allclose(mcalc.resnet_forward(p, X)[i], sig(p["w2"] @ h), rtol=1e-12)


def test_resnet_grad_h_is_delta_times_w2():
    p = mcalc.resnet_init(jax.random.key(0), D=3, M=4, dtype=jnp.float64)
    X = jax.random.normal(jax.random.key(1), (5, 3), jnp.float64)
    y = jnp.array([0.0, 1.0, 1.0, 0.0, 1.0])
    g = mcalc.resnet_forward(p, X)
    delta = (g - y) * g * (1 - g)
    np.testing.assert_allclose(mcalc.resnet_grad_h(p, X, y), np.outer(delta, p["w2"]), rtol=1e-12)


def test_resnet_grad_is_jax_grad_for_the_whole_pytree():
    p = mcalc.resnet_init(jax.random.key(2), D=4, M=6, dtype=jnp.float64)
    X = jax.random.normal(jax.random.key(3), (7, 4), jnp.float64)
    y = jax.random.bernoulli(jax.random.key(4), 0.5, (7,)).astype(jnp.float64)
    chex.assert_trees_all_close(
        jax.jit(mcalc.resnet_grad)(p, X, y), jax.grad(mcalc.resnet_loss)(p, X, y), rtol=1e-10
    )


# --- docstring examples -------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    [
        "mcalc.problems._p1_trace",
        "mcalc.problems._p2_logistic",
        "mcalc.problems._p3_bipolar",
        "mcalc.problems._p4_gaussian",
        "mcalc.problems._p5_frobenius",
        "mcalc.problems._p6_quadratic",
        "mcalc.problems._p7_resnet",
        "mcalc.problems._registry",
        "mcalc.models._residual_net",
    ],
)
def test_docstring_examples(module):
    # The examples show JAX's default float32 results, so run them without x64.
    with jax.enable_x64(False):
        result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_gradients_keep_their_direction_at_large_margins():
    # Margins of 40-60: σ(a) - 1 and tanh(a/2) - 1 round to exactly 0 in float64 there.
    X = jnp.array([[1.0, 0.5], [0.8, 1.0], [1.2, -0.3]])
    w = jnp.array([40.0, 10.0])
    a = np.asarray(X @ w)
    ones = jnp.ones(3)

    def expit(t):
        return 1 / (1 + np.exp(-t))

    expected = -(expit(-a)) @ np.asarray(X)  # Σ (σ(a) - 1) x = -Σ σ(-a) x, exactly
    got = mcalc.logistic_l2_grad(w, X, ones, lam=0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.all(got != 0)
    np.testing.assert_allclose(
        mcalc.logistic_l2(w, X, ones, lam=0.0), np.sum(np.log1p(np.exp(-a))), rtol=1e-12
    )
    # P3: f - 1 = -2σ(-a) and (1 - f²)/2 = 2σ(a)σ(-a)
    expected3 = ((-2 * expit(-a)) * (2 * expit(a) * expit(-a))) @ np.asarray(X)
    got3 = mcalc.bipolar_squared_grad(w, X, ones)
    np.testing.assert_allclose(got3, expected3, rtol=1e-12)
    assert np.all(got3 != 0)


# --- the closed forms' compiled layout ------------------------------------------


# XLA's CPU backend: which products reach its fast matmul (YNNPACK) is its own policy.
_CPU_ONLY = pytest.mark.skipif(
    jax.default_backend() != "cpu", reason="the layouts of XLA's CPU backend"
)


def _matrix_dots(fn, *args):
    """``(output shape, lhs contracting dims, rhs contracting dims)`` of every product of
    two matrices in the optimised HLO of ``jit(fn)`` (matrix-vector products aside)."""
    import re

    hlo = jax.jit(fn).lower(*args).compile().as_text()
    dots = []
    for m in re.finditer(
        r"= \w+\[([\d,]*)\]\{[^}]*\} dot\([^)]*\), lhs_contracting_dims=\{(\d*)\}, "
        r"rhs_contracting_dims=\{(\d*)\}",
        hlo,
    ):
        shape = tuple(int(s) for s in m.group(1).split(",") if s)
        if len(shape) == 2 and min(shape) > 1:
            dots.append((shape, m.group(2), m.group(3)))
    return dots


@_CPU_ONLY
@pytest.mark.parametrize("k", [3, 4, 8])
def test_trace_power_grad_compiles_to_plain_products(k):
    # A product whose left operand is contracted on its first axis (the transposed
    # layout XLA's CPU backend leaves outside its fast matmul) would be a slower program
    # than XLA's own reverse pass; every product must be a plain row-major A @ B.
    X = jnp.ones((64, 64), jnp.float32)
    dots = _matrix_dots(lambda X: mcalc.trace_power_grad(X, k), X)
    assert len(dots) >= 1
    assert all(lhs == "1" and rhs == "0" for _, lhs, rhs in dots), dots


@_CPU_ONLY
def test_resnet_grad_weight_gradients_compile_to_plain_products():
    # Gᵀ A over the samples, written as contractions over the row axis, compile to products
    # with a transposed left operand; the closed form transposes its narrow operands.
    p = mcalc.resnet_init(jax.random.key(0), D=16, M=32, dtype=jnp.float32)
    X, y = jnp.ones((128, 16), jnp.float32), jnp.ones(128, jnp.float32)
    dots = _matrix_dots(mcalc.resnet_grad, p, X, y)
    assert len(dots) == 5, dots  # two forward products, three backward
    assert all(lhs == "1" for _, lhs, _ in dots), dots
    assert {shape for shape, _, _ in dots} >= {(16, 32)}  # ∇W1, and ∇W0 before its transpose
