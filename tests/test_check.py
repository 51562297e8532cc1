"""mcalc.check_grad / assert_grad: the report, bad usage, pytrees, dtypes, and each diagnosis.

Expected gradients come from closed forms (the Matrix Cookbook) or from docs/problems.md.
"""

from __future__ import annotations

import functools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mcalc
from mcalc.check import GradCheckReport, default_rtol

KEY = jax.random.key(0)


def _normal(i, shape, dtype=jnp.float64):
    return jax.random.normal(jax.random.fold_in(KEY, i), shape, dtype)


def quad(w, X):
    return w @ X @ w


def quad_grad(w, X):
    return (X + X.T) @ w


# --- the report ----------------------------------------------------------------------------------


def test_report_of_a_right_gradient():
    w, X = _normal(0, (5,)), _normal(1, (5, 5))
    report = mcalc.check_grad(quad, quad_grad, w, X)
    assert isinstance(report, GradCheckReport)
    assert report.ok and bool(report)
    assert report.max_rel_error < 1e-12 and report.fd_max_rel_error < 1e-8
    assert report.max_abs_error >= 0 and report.worst_leaf == "w" and len(report.worst_index) == 1
    assert report.claimed_value == pytest.approx(report.reference_value, rel=1e-10, abs=1e-12)
    assert len(report.trials) == 5 and report.trials[0].kind == "given"
    assert all(t.kind == "near" and t.ok for t in report.trials[1:])
    assert report.fd_method == "full" and report.dtype == "float64" and report.wrt == "w"
    assert report.f_name == "quad" and report.grad_name == "quad_grad"
    assert "agrees with jax.grad" in report.diagnosis
    text = str(report)
    assert text.startswith("check_grad ok: quad_grad vs jax.grad(quad) in w, float64")
    json.dumps(report.to_dict())  # JSON-ready


def test_report_of_a_wrong_gradient_names_the_worst_entry():
    w, X = _normal(0, (5,)), _normal(1, (5, 5))
    report = mcalc.check_grad(quad, lambda w, X: 2 * X @ w, w, X)
    assert not report.ok and not bool(report)
    trial = report.trials[report.worst_trial]
    assert trial.worst_index == report.worst_index
    assert report.max_rel_error > 1e-2 and report.fd_max_rel_error > 1e-2
    # The values at the worst index are the claimed and the reference values there.
    point = trial.shapes
    assert point == {"w": (5,), "X": (5, 5)}
    text = str(report)
    assert "FAILED" in text and f"w[{report.worst_index[0]}]" in text
    assert "symmetric" in text


def test_assert_grad_raises_with_the_report_attached():
    w, X = _normal(0, (4,)), _normal(1, (4, 4))
    assert mcalc.assert_grad(quad, quad_grad, w, X).ok
    with pytest.raises(AssertionError, match="right only for symmetric inputs") as info:
        mcalc.assert_grad(quad, lambda w, X: 2 * X @ w, w, X)
    assert isinstance(info.value.report, GradCheckReport) and not info.value.report.ok


def test_seeded_and_reproducible():
    w, X = _normal(0, (4,)), _normal(1, (4, 4))
    wrong = functools.partial(lambda w, X: 2 * X @ w)
    a = mcalc.check_grad(quad, wrong, w, X, seed=3).to_dict()
    b = mcalc.check_grad(quad, wrong, w, X, seed=3).to_dict()
    c = mcalc.check_grad(quad, wrong, w, X, seed=4).to_dict()
    assert a == b
    assert a["trials"][1]["max_abs_error"] != c["trials"][1]["max_abs_error"]


def test_default_rtol_by_dtype():
    assert default_rtol(jnp.float64) < default_rtol(jnp.float32) < default_rtol(jnp.float16)


# --- bad usage -------------------------------------------------------------------------------------


def test_f_must_return_a_scalar():
    with pytest.raises(
        ValueError, match=r"f must return a scalar \(shape \(\)\); got shape \(3,\)"
    ):
        mcalc.check_grad(lambda x: x * 2, lambda x: 2 * jnp.ones_like(x), jnp.ones(3))


def test_f_must_not_return_a_tuple():
    with pytest.raises(ValueError, match="f must return a scalar; got tuple"):
        mcalc.check_grad(lambda x: (x.sum(), x), lambda x: x, jnp.ones(3))


@pytest.mark.parametrize("argnum", [2, -3])
def test_argnum_out_of_range(argnum):
    with pytest.raises(ValueError, match=rf"argnum={argnum} is out of range for 2 positional"):
        mcalc.check_grad(quad, quad_grad, jnp.ones(2), jnp.eye(2), argnum=argnum)


def test_argnum_must_be_an_int():
    with pytest.raises(TypeError, match="argnum must be an int or a tuple of ints"):
        mcalc.check_grad(quad, quad_grad, jnp.ones(2), jnp.eye(2), argnum="w")


def test_differentiated_argument_must_be_floating():
    with pytest.raises(TypeError, match="argnum=0 selects x, which must be floating"):
        mcalc.check_grad(lambda x: jnp.sum(x), lambda x: x, jnp.arange(3))


def test_needs_arguments_or_a_sampler():
    with pytest.raises(ValueError, match=r"give the arguments to check at"):
        mcalc.check_grad(quad, quad_grad)


def test_trials_and_callables_are_validated():
    with pytest.raises(ValueError, match="trials must be an integer >= 1; got 0"):
        mcalc.check_grad(quad, quad_grad, jnp.ones(2), jnp.eye(2), trials=0)
    with pytest.raises(TypeError, match="grad_f must be callable; got ndarray"):
        mcalc.check_grad(quad, np.ones(2), jnp.ones(2), jnp.eye(2))
    with pytest.raises(ValueError, match="rtol must be a number >= 0"):
        mcalc.check_grad(quad, quad_grad, jnp.ones(2), jnp.eye(2), rtol=-1.0)


def test_errors_raised_by_the_user_functions_say_which_one():
    def broken(w, X):
        raise RuntimeError("oops")

    with pytest.raises(RuntimeError, match="oops") as info:
        mcalc.check_grad(quad, broken, jnp.ones(2), jnp.eye(2))
    assert any("raised by grad_f at the given arguments" in n for n in info.value.__notes__)


def test_a_wrong_shape_is_a_failed_report_not_a_crash():
    report = mcalc.check_grad(quad, lambda w, X: quad_grad(w, X)[:, None], jnp.ones(3), jnp.eye(3))
    assert not report.ok
    assert "shape" in report.diagnosis and "column vector" in report.diagnosis
    assert report.trials[0].status == "shape" and math.isinf(report.max_rel_error)


def test_a_wrong_structure_is_a_failed_report():
    p = {"A": jnp.ones((2, 2)), "b": jnp.ones(2)}
    report = mcalc.check_grad(
        lambda p: jnp.sum(p["A"]) + jnp.sum(p["b"]), lambda p: (p["A"], p["b"]), p
    )
    assert not report.ok
    assert "a tuple of 2 but the gradient in p is a dict with keys ['A', 'b']" in report.diagnosis


# --- arguments: static values, pytrees, tuples, samplers, fixed ------------------------------------


def test_static_python_arguments_pass_through():
    X = _normal(2, (4, 4)) / 2
    assert mcalc.check_grad(mcalc.trace_power, mcalc.trace_power_grad, X, 5).ok
    wrong = mcalc.check_grad(mcalc.trace_power, lambda X, k: k * mcalc.trace_power_grad(X, k), X, 5)
    assert "constant factor of 5" in wrong.diagnosis


def test_pytree_argument_names_the_wrong_leaf():
    params = mcalc.resnet_init(jax.random.key(1), D=3, M=4, dtype=jnp.float64)
    X, y = _normal(3, (6, 3)), (jnp.arange(6) % 2).astype(jnp.float64)
    assert mcalc.check_grad(mcalc.resnet_loss, mcalc.resnet_grad, params, X, y).ok

    def wrong(p, X, y):
        g = mcalc.resnet_grad(p, X, y)
        return {**g, "W1": -g["W1"]}

    report = mcalc.check_grad(mcalc.resnet_loss, wrong, params, X, y)
    assert not report.ok and report.worst_leaf == "params['W1']"
    assert report.diagnosis.startswith("params['W1'] is off by a sign")
    assert "params['W0'], params['w2'] are right" in report.diagnosis
    assert "params['W1'][" in str(report) and "WRONG" in str(report)


def test_tuple_argnum():
    A, B = _normal(4, (2, 3)), _normal(5, (3, 2))

    def f(A, B):
        return jnp.trace(A @ B)

    assert mcalc.check_grad(f, lambda A, B: (B.T, A.T), A, B, argnum=(0, 1)).ok
    report = mcalc.check_grad(f, lambda A, B: (B.T, -A.T), A, B, argnum=(0, 1))
    assert report.worst_leaf == "B" and "B is off by a sign" in report.diagnosis


def test_sampler_forms_and_sizes():
    d = mcalc.derivations()["logistic_l2"]
    report = mcalc.check_grad(d.f, d.grad, sampler=d.sample, dtype="float32", trials=3)
    assert report.ok and report.dtype == "float32"
    assert {t.kind for t in report.trials} == {"sampled"}

    def one_arg_sampler(key):
        return (jax.random.normal(key, (3,)),)

    assert mcalc.check_grad(lambda x: jnp.sum(x**3), lambda x: 3 * x**2, sampler=one_arg_sampler).ok


def test_fixed_arguments_stay_as_given():
    # softmax(Z) - Y is the gradient only for rows of Y that sum to one: soft labels moved at
    # random break it. Keeping Y fixed, it passes ...
    Z = _normal(6, (4, 3))
    Y = jax.nn.softmax(_normal(7, (4, 3)), axis=1)  # soft labels: not held by default

    def ce(Z, Y):
        return -jnp.sum(Y * jax.nn.log_softmax(Z, axis=1))

    def claimed(Z, Y):
        return jax.nn.softmax(Z, axis=1) - Y

    report = mcalc.check_grad(ce, claimed, Z, Y, fixed=(1,))
    assert report.ok and report.held == ("Y (fixed=)",) and report.perturbed == ("Z",)
    # ... moving Y too, the check finds it right at the given point only, and says that Y moved.
    report = mcalc.check_grad(ce, claimed, Z, Y)
    assert report.perturbed == ("Z", "Y") and report.held == ()
    text = report.diagnosis.lower()
    assert "right at the given point but wrong elsewhere" in text
    assert "where y, not differentiated, moved too" in text and "fixed=(1,)" in text
    assert "moved:     Z, Y at the random points" in str(report)


# --- dtypes -------------------------------------------------------------------------------------


def test_float32_is_checked_in_float32_against_a_float64_reference():
    w, X = _normal(0, (6,), jnp.float32), _normal(1, (6, 6), jnp.float32)
    report = mcalc.check_grad(quad, quad_grad, w, X)
    assert report.ok and report.dtype == "float32"
    assert 0 < report.max_rel_error < 1e-5  # float32 rounding, measured against float64


def test_float64_works_with_x64_off():
    w, X = np.asarray(_normal(0, (4,))), np.asarray(_normal(1, (4, 4)))
    with jax.enable_x64(False):
        report = mcalc.check_grad(quad, quad_grad, w, X)
        wrong = mcalc.check_grad(quad, lambda w, X: 2 * X @ w, w, X)
    assert report.ok and report.dtype == "float64" and report.max_rel_error < 1e-12
    assert "symmetric" in wrong.diagnosis


def test_dtype_not_kept_is_noted():
    report = mcalc.check_grad(
        lambda x: jnp.sum(x**2), lambda x: 2 * x.astype(jnp.float64), jnp.ones(3, jnp.float32)
    )
    assert report.ok
    assert any("the caller's dtype is not kept" in n for n in report.notes)


def test_float16():
    x = jnp.linspace(-1, 1, 5, dtype=jnp.float16)
    report = mcalc.check_grad(lambda x: jnp.sum(x**3), lambda x: 3 * x * x, x)
    assert report.ok and report.dtype == "float16"


# --- the diagnosis, case by case -------------------------------------------------------------------


def test_right_at_the_given_point_only():
    A, b = _normal(7, (5, 3)), _normal(8, (5,))

    def f(x, A, b):
        return jnp.sum((A @ x - b) ** 2)

    # -2Aᵀb is the gradient at x = 0 only (the 2AᵀAx term is missing).
    report = mcalc.check_grad(f, lambda x, A, b: -2 * A.T @ b, jnp.zeros(3), A, b)
    assert report.trials[0].ok and not report.ok
    assert "right at the given point but wrong elsewhere" in report.diagnosis.lower()


def test_error_concentrated_in_a_row():
    A, B = _normal(9, (4, 6)), _normal(10, (6, 5))

    def f(X, A, B):
        return jnp.sum((A @ X @ B) ** 2)

    def claimed(X, A, B):
        g = 2 * A.T @ (A @ X @ B) @ B.T
        return g.at[2].multiply(1.5)

    report = mcalc.check_grad(f, claimed, _normal(11, (6, 6)), A, B)
    assert "the error concentrates in row 2" in report.diagnosis


def test_numerically_unstable_formula():
    def f(a):
        return jnp.sum(jax.nn.softplus(a))

    def unstable(a):
        return jnp.exp(a) / (1 + jnp.exp(a))  # σ(a), but exp overflows in float32

    a = jnp.array([1.0, 50.0, 100.0, -3.0], jnp.float32)
    report = mcalc.check_grad(f, unstable, a)
    assert "The formula is right" in report.diagnosis and "NaN/Inf" in report.diagnosis
    assert mcalc.check_grad(f, unstable, a.astype(jnp.float64)).ok


def test_autodiff_disagreeing_with_finite_differences():
    @jax.custom_jvp
    def cube(x):
        return jnp.sum(x**3)

    @cube.defjvp
    def _cube_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return cube(x), jnp.sum(2 * x**2 * t)  # wrong on purpose: 3x² is right

    x = jnp.array([0.5, -1.0, 2.0])
    right = mcalc.check_grad(cube, lambda x: 3 * x**2, x)
    assert "agrees with finite differences but not with jax.grad" in right.diagnosis
    mirror = mcalc.check_grad(cube, lambda x: 2 * x**2, x)
    assert "agrees with jax.grad, but both disagree with finite differences" in mirror.diagnosis
    assert mcalc.check_grad(cube, lambda x: 2 * x**2, x, fd=False).ok


def test_directional_finite_differences_for_large_arguments():
    X = _normal(12, (20, 20)) / 5 + jnp.eye(20)
    A = _normal(13, (20, 20))

    def f(X, A):
        return jnp.trace(X.T @ A @ X)

    report = mcalc.check_grad(f, lambda X, A: (A + A.T) @ X, X, A)
    assert report.ok and report.fd_method == "directional" and report.fd_max_rel_error < 1e-8
    wrong = mcalc.check_grad(f, lambda X, A: 2 * A @ X, X, A)
    assert "right only for symmetric inputs" in wrong.diagnosis


def test_points_outside_the_domain_are_skipped_or_reported():
    def f(x):
        return jnp.sum(jnp.log(x))

    def sampler(key):
        return (-jnp.exp(jax.random.normal(key, (3,))),)  # log of negatives: NaN everywhere

    report = mcalc.check_grad(f, lambda x: 1 / x, sampler=sampler, trials=2)
    assert not report.ok and "not finite" in report.diagnosis
    assert {t.status for t in report.trials} == {"invalid"}


def test_ill_conditioned_float32_point_is_inconclusive_not_failed():
    U, _ = jnp.linalg.qr(_normal(15, (3, 3)))
    V, _ = jnp.linalg.qr(_normal(16, (3, 3)))
    X = (U @ jnp.diag(jnp.array([1.0, 0.5, 1e-7])) @ V.T).astype(jnp.float32)  # condition 1e7

    def logdet(X):
        return jnp.linalg.slogdet(X)[1]

    report = mcalc.check_grad(logdet, lambda X: jnp.linalg.inv(X).T, X, trials=1)
    assert report.trials[0].status == "inconclusive"
    assert not report.ok and "too ill-conditioned" in report.diagnosis
    # A gross mistake is still caught there.
    wrong = mcalc.check_grad(logdet, lambda X: -jnp.linalg.inv(X).T, X, trials=1)
    assert wrong.trials[0].status == "fail" and "off by a sign" in wrong.diagnosis
    assert mcalc.check_grad(logdet, lambda X: jnp.linalg.inv(X).T, X.astype(jnp.float64)).ok


def test_a_numpy_gradient_runs_eagerly():
    X = _normal(14, (4, 4)) + 3 * jnp.eye(4)

    def logdet(X):
        return jnp.linalg.slogdet(X)[1]

    def numpy_grad(X):
        return np.linalg.inv(np.asarray(X)).T  # not traceable by jit

    report = mcalc.check_grad(logdet, numpy_grad, X, trials=2)
    assert report.ok
    assert any("ran eagerly" in n for n in report.notes)
    wrong = mcalc.check_grad(logdet, lambda X: np.linalg.inv(np.asarray(X)), X, trials=2)
    assert "off by a transpose" in wrong.diagnosis


@pytest.mark.parametrize(
    "module",
    ["mcalc.check._check", "mcalc.check._second", "mcalc.check._rules", "mcalc.verify._verify"],
)
def test_docstring_examples(module):
    import doctest
    import importlib

    with jax.enable_x64(False):
        result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_a_factor_that_changes_with_the_size():
    def sampler(key):
        kn, kx = jax.random.split(key)
        return (jax.random.normal(kx, (int(jax.random.randint(kn, (), 2, 9)),)),)

    # d mean(x²)/dx = 2x/N: forgetting the 1/N gives a factor N that changes with the size.
    report = mcalc.check_grad(lambda x: jnp.mean(x**2), lambda x: 2 * x, sampler=sampler, trials=3)
    sizes = {t.shapes["x"][0] for t in report.trials}
    assert len(sizes) > 1
    assert "off by a factor that changes from point to point" in report.diagnosis
    assert all(str(n) in report.diagnosis for n in sizes)


# --- labels are held at the random points -------------------------------------------------------


def _softmax_problem(K):
    X = _normal(20, (6, 4))
    W = _normal(21, (4, K)) / 2
    labels = jnp.array([0, 2, 1, 3, 3, 0]) % K
    return W, X, labels


def softmax_ce(W, X, Y):
    return -jnp.sum(Y * jax.nn.log_softmax(X @ W, axis=1))


def softmax_ce_grad(W, X, Y):  # Xᵀ(softmax(XW) - Y): right for rows of Y that sum to one
    return X.T @ (jax.nn.softmax(X @ W, axis=1) - Y)


def test_softmax_cross_entropy_with_one_hot_labels_needs_no_fixed():
    W, X, labels = _softmax_problem(4)
    Y = jax.nn.one_hot(labels, 4, dtype=jnp.float64)
    report = mcalc.check_grad(softmax_ce, softmax_ce_grad, W, X, Y)
    assert report.ok and len(report.trials) == 5
    assert report.perturbed == ("W", "X") and report.held == ("Y (labels)",)
    assert "moved:     W, X at the random points; held as given: Y (labels)" in str(report)
    wrong = mcalc.check_grad(softmax_ce, lambda W, X, Y: softmax_ce_grad(W, X, Y).T, W, X, Y)
    assert "off by a transpose: claimed = (jax.grad)ᵀ" in wrong.diagnosis


def test_softmax_with_a_non_square_weight_transposed_is_a_shape_transpose():
    W, X, labels = _softmax_problem(3)
    Y = jax.nn.one_hot(labels, 3, dtype=jnp.float64)
    assert mcalc.check_grad(softmax_ce, softmax_ce_grad, W, X, Y).ok
    wrong = mcalc.check_grad(softmax_ce, lambda W, X, Y: softmax_ce_grad(W, X, Y).T, W, X, Y)
    assert "the transpose of W's shape (4, 3): off by a transpose" in wrong.diagnosis


def test_integer_and_pm1_labels_are_held_too():
    w, X = _normal(22, (3,)), _normal(23, (5, 3))
    y = jnp.array([1.0, -1.0, -1.0, 1.0, 1.0])  # {-1, 1}
    idx = jnp.array([0, 2, 1, 1, 0])

    def f(w, X, y, idx):
        return jnp.sum(jnp.log1p(jnp.exp(-y * (X @ w)))) + jnp.sum(w[idx] ** 2)

    report = mcalc.check_grad(f, jax.grad(f), w, X, y, idx)
    assert report.ok and report.held == ("y (labels)", "idx (integer)")
    # The differentiated argument moves whatever its values (zeros included).
    assert mcalc.check_grad(f, jax.grad(f), jnp.zeros(3), X, y, idx).perturbed[0] == "w"


def test_a_scalar_argument():
    # A 0-d argument (an intercept, a temperature) crashed the check with a NumPy scalar
    # where an array was expected.
    def f(b, x):
        return jnp.sum(jnp.sin(b * x))

    b, x = jnp.asarray(0.3), jnp.array([0.5, 1.0, 1.5, -0.2])
    right = mcalc.check_grad(f, lambda b, x: jnp.sum(x * jnp.cos(b * x)), b, x)
    assert right.ok and right.trials[0].leaves[0].shape == ()
    wrong = mcalc.check_grad(f, lambda b, x: 2 * jnp.sum(x * jnp.cos(b * x)), b, x)
    assert not wrong.ok and "constant factor of 2" in wrong.diagnosis
